# %% [markdown]
# # Wild corpus: d2l_no_zero_grad
#
# Adapted from d2l-ai/d2l-en, chapter "Attention Mechanisms and Transformers"
# (https://d2l.ai/chapter_attention-mechanisms-and-transformers/multihead-attention.html):
# `transpose_qkv` / `transpose_output`, `masked_softmax`, bias-free projections, `AddNorm`.
# Written for this corpus in that style, not copied.
#
# **Verdict: one bug: `train()` never calls `optimizer.zero_grad()`**, so the gradients
# accumulate over the whole epoch and each step follows the sum of all earlier gradients.

# %% [markdown]
# # Coding test
#
# Your work is assessed on four things:
#
# 1. how much of the test you complete in the time given;
# 2. optimisations in your code;
# 3. how reusable your code is;
# 4. how readable your code is.
#
# # Transformers
#
# ## 1. Coding test
#
# The cells below train a small transformer language model on Penn Treebank, the way
# many tutorials do, but some pieces are missing. Fill them in so that the training runs
# and the validation loss goes down. Following
# [Vaswani et al., *Attention is all you need* (2017)](https://arxiv.org/abs/1706.03762),
# write:
#
# 1. multi-head self-attention (the `attention` function and the forward pass of
#    `MultiHeadSelfAttention`);
# 2. the forward pass of the encoder layer (`EncoderBlock`);
# 3. the creation of causal masks (marked `TODO` below).
#
# Then train and validate the model with the functions and data given.
#
# The dataset loader caches files with `portalocker`: run `pip install portalocker` first
# if it is missing.

# %%
import os
import time
from copy import deepcopy

import math
from typing import Tuple, Optional
import torch
from torch import Tensor, nn
from torch.utils.data import dataset
from torchtext.datasets import PennTreebank
from torchtext.data.utils import get_tokenizer
from torchtext.vocab import build_vocab_from_iterator

# %%
def masked_softmax(X, mask=None):
    """Perform softmax operation by masking elements on the last axis.

    `mask` is boolean, True where a key may be attended, broadcastable to X."""
    if mask is None:
        return nn.functional.softmax(X, dim=-1)
    # On the last axis, replace masked elements with a very large negative
    # value, whose exponentiation outputs 0
    X = X.masked_fill(~mask, -1e6)
    return nn.functional.softmax(X, dim=-1)


def attention(query: Tensor, key: Tensor, value: Tensor, mask: Optional[Tensor] = None, dropout = None) -> Tensor:
    """Scaled dot product attention.

    Shape of queries: (batch_size, no. of queries, d)
    Shape of keys: (batch_size, no. of key-value pairs, d)
    Shape of values: (batch_size, no. of key-value pairs, value dimension)
    (any leading batch axes: (batch_size, n_heads, ...) works the same)
    """
    d = query.shape[-1]
    # Swap the last two dimensions of keys with keys.transpose(-2, -1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d)
    attention_weights = masked_softmax(scores, mask)
    if dropout is not None:
        attention_weights = dropout(attention_weights)
    return torch.matmul(attention_weights, value)


def transpose_qkv(X, num_heads):
    """Transposition for parallel computation of multiple attention heads."""
    # Shape of input X: (batch_size, no. of queries or key-value pairs,
    # num_hiddens). Shape of output X: (batch_size, no. of queries or
    # key-value pairs, num_heads, num_hiddens / num_heads)
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)
    # Shape of output X: (batch_size, num_heads, no. of queries or key-value
    # pairs, num_hiddens / num_heads)
    X = X.permute(0, 2, 1, 3)
    # Shape of output: (batch_size * num_heads, no. of queries or key-value
    # pairs, num_hiddens / num_heads)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X, num_heads):
    """Reverse the operation of transpose_qkv."""
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])
    X = X.permute(0, 2, 1, 3)
    return X.reshape(X.shape[0], X.shape[1], -1)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention."""
    def __init__(self, dim: int, n_heads: int, dropout: Optional[float] = None, bias=False):
        super(MultiHeadSelfAttention, self).__init__()
        if dim % n_heads:
            raise ValueError(f"num_hiddens={dim} is not a multiple of num_heads={n_heads}")
        self.num_heads = n_heads
        self.dropout = nn.Dropout(dropout if dropout is not None else 0)
        self.W_q = nn.Linear(dim, dim, bias=bias)
        self.W_k = nn.Linear(dim, dim, bias=bias)
        self.W_v = nn.Linear(dim, dim, bias=bias)
        self.W_o = nn.Linear(dim, dim, bias=bias)

    def forward(self, queries, keys, values, mask=None):
        # Shape of queries, keys, or values:
        # (batch_size, no. of queries or key-value pairs, num_hiddens)
        # Shape of mask: (no. of queries, no. of key-value pairs), or with a
        # leading axis of 1, the same for every sequence and every head
        # After transposing, shape of output queries, keys, or values:
        # (batch_size * num_heads, no. of queries or key-value pairs,
        # num_hiddens / num_heads)
        queries = transpose_qkv(self.W_q(queries), self.num_heads)
        keys = transpose_qkv(self.W_k(keys), self.num_heads)
        values = transpose_qkv(self.W_v(values), self.num_heads)

        # Shape of output: (batch_size * num_heads, no. of queries,
        # num_hiddens / num_heads)
        output = attention(queries, keys, values, mask, self.dropout)
        # Shape of output_concat: (batch_size, no. of queries, num_hiddens)
        output_concat = transpose_output(output, self.num_heads)
        return self.W_o(output_concat)

# %%
class EncoderBlock(nn.Module):
    """The Transformer encoder block."""
    def __init__(self, attn: MultiHeadSelfAttention, d_model: int, dim_feedforward: int, layer_norm_eps=1e-5, dropout=0.1):
        super(EncoderBlock, self).__init__()
        self.attn = attn
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.ReLU()

    @staticmethod
    def add_norm(ln, dropout, X, Y):
        """The residual connection followed by layer normalization."""
        return ln(dropout(Y) + X)

    def ffn(self, X):
        """The positionwise feed-forward network."""
        return self.linear2(self.dropout(self.activation(self.linear1(X))))

    def forward(self, X, mask=None):
        Y = self.add_norm(self.norm1, self.dropout1, X, self.attn(X, X, X, mask))
        return self.add_norm(self.norm2, self.dropout2, Y, self.ffn(Y))

# %%
class TransformerEncoder(nn.Module):
    def __init__(self, encoder: EncoderBlock, n_blocks: int):
        super(TransformerEncoder, self).__init__()
        self.encoder_blocks = nn.ModuleList([deepcopy(encoder) for _ in range(n_blocks)])

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        for encoder in self.encoder_blocks:
            x = encoder(x, mask)
        return x


def causal_mask(num_steps):
    """Query i may attend keys 0..i: the d2l decoder's dec_valid_lens = arange(1, num_steps + 1), as a mask."""
    valid_lens = torch.arange(1, num_steps + 1)
    return torch.arange(num_steps)[None, :] < valid_lens[:, None]

# %%
class PositionalEncoding(nn.Module):
    """Positional encoding."""
    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        # Create a long enough P
        self.P = torch.zeros((1, max_len, num_hiddens))
        X = torch.arange(max_len, dtype=torch.float32).reshape(
            -1, 1) / torch.pow(10000, torch.arange(
            0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
        self.P[:, :, 0::2] = torch.sin(X)
        self.P[:, :, 1::2] = torch.cos(X)

    def forward(self, X):
        X = X + self.P[:, :X.shape[1], :].to(X.device)
        return self.dropout(X)

class TransformerModelManualAttn(nn.Module):
    """The Transformer encoder as a language model."""
    def __init__(self, ntoken: int, d_model: int, nhead: int, d_hid: int,
                 nlayers: int, dropout: float = 0.5):
        super().__init__()
        self.num_hiddens = d_model
        self.embedding = nn.Embedding(ntoken, d_model)
        self.pos_encoding = PositionalEncoding(d_model, dropout)
        blk = EncoderBlock(attn=MultiHeadSelfAttention(d_model, nhead, dropout),
                           d_model=d_model, dim_feedforward=d_hid, dropout=dropout)
        self.blks = TransformerEncoder(blk, nlayers)
        self.dense = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask=None):
        # Since positional encoding values are between -1 and 1, the embedding
        # values are multiplied by the square root of the embedding dimension
        # to rescale before they are summed up
        X = self.pos_encoding(self.embedding(src) * math.sqrt(self.num_hiddens))
        X = self.blks(X, src_mask)
        return self.dense(X)

# %% [markdown]
# ## Data processing

# %%
# Load data, load tokenizer, build vocabulary
train_iter, val_iter, test_iter = PennTreebank()
tokenizer = get_tokenizer('basic_english')
vocab = build_vocab_from_iterator(map(tokenizer, train_iter), specials=['<unk>'])
vocab.set_default_index(vocab['<unk>'])

# get train, validation, and test data
train_data = [torch.tensor(vocab(tokenizer(item)), dtype=torch.long) for item in train_iter] # shape (num_examples, num_tokens)
val_data = [torch.tensor(vocab(tokenizer(item)), dtype=torch.long) for item in val_iter]
test_data = [torch.tensor(vocab(tokenizer(item)), dtype=torch.long) for item in test_iter]

# concat into one long sequence for training, validation, and testing
train_data = torch.cat(tuple(filter(lambda t: t.numel() > 0, train_data))) # shape (num_tokens_in_text1+num_tokens_in_text2+num_tokens_in_text3+...,)
val_data = torch.cat(tuple(filter(lambda t: t.numel() > 0, val_data)))
test_data = torch.cat(tuple(filter(lambda t: t.numel() > 0, test_data)))

# print the lengths of the training, validation, and test data
print(f"Number of tokens in training data: {train_data.size(0)}")
print(f"Number of tokens in validation data: {val_data.size(0)}")
print(f"Number of tokens in test data: {test_data.size(0)}")

# Number of tokens in training data: 924412
# Number of tokens in validation data: 73339
# Number of tokens in test data: 82114

# %%
# batchify the data
batch_size = 20
eval_batch_size = 10

# sequence lengths
train_seq_len = train_data.shape[0] // batch_size
val_seq_len = val_data.shape[0] // eval_batch_size
test_seq_len = test_data.shape[0] // eval_batch_size

# trim the data to fit the batch size
train_data = train_data[:train_seq_len * batch_size]
val_data = val_data[:val_seq_len * eval_batch_size]
test_data = test_data[:test_seq_len * eval_batch_size]

# reshape the data where each column is a sequence
train_data = train_data.view(batch_size, train_seq_len).t().contiguous()
val_data = val_data.view(eval_batch_size, val_seq_len).t().contiguous()
test_data = test_data.view(eval_batch_size, test_seq_len).t().contiguous()

print("Training sequence length after trimming and batching:", train_data.size(0))
print("Validation sequence length after trimming and batching:", val_data.size(0))
print("Test sequence length after trimming and batching:", test_data.size(0))
# Training sequence length after trimming and batching: 46220
# Validation sequence length after trimming and batching: 7333
# Test sequence length after trimming and batching: 8211

# move to the device
device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
train_data = train_data.to(device)
val_data = val_data.to(device)
test_data = test_data.to(device)

# %% [markdown]
# ## Modelling

# %%
# Model Parameters
ntokens = len(vocab)
emsize = 200
d_hid = 200
nlayers = 2
nhead = 2
dropout = 0.1
use_causal_mask = True

# Create Model
model = TransformerModelManualAttn(ntokens, emsize, nhead, d_hid, nlayers, dropout).to(device)

# %% [markdown]
# ## Training: a single iteration
#
# #### Model inputs

# %%
window_size = 35
start_seq_pos = 0
batch_win1 = train_data[start_seq_pos:start_seq_pos + window_size]
print(batch_win1.shape) # shape: (window_size, batch_size)
# torch.Size([35, 20])

# %%
target_win1 = train_data[start_seq_pos + 1:start_seq_pos + window_size + 1] # shape (window_size, batch_size)
print(target_win1.shape)  # shape: (window_size, batch_size)
# torch.Size([35, 20])

# %%
# mask
mask = causal_mask(window_size).unsqueeze(0)

print(mask.shape) # shape: (1, window_size, window_size)

# %%
batch_win1 = batch_win1.to(device)
mask = mask.to(device)

output = model(src=batch_win1.T, src_mask=mask)

# %% [markdown]
# #### Objective

# %%
output.view(-1, ntokens).shape

# %%
criterion = nn.CrossEntropyLoss()
loss = criterion(output.view(-1, ntokens), target_win1.to(device).reshape(-1))

# %%
lr = 5.0  # learning rate
optimizer = torch.optim.SGD(model.parameters(), lr=lr, )
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.95)
optimizer.zero_grad()
loss.backward()
torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
optimizer.step()

# %% [markdown]
# ## Full training
#
# #### Training and evaluation functions

# %%
def get_batch(source: Tensor, i: int, window_size: int) -> Tuple[Tensor, Tensor]:
    seq_len = min(window_size, len(source) - 1 - i) # ensure that each token in the batch has a next token
    X = source[i:i + seq_len].T
    Y = source[i + 1:i + seq_len + 1].T
    return X, Y.reshape(-1)

def train(
        model,
        train_data: Tensor,
        window_size: int,
        criterion,
        ntokens: int,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler,
        epoch: int = 0,
        device: torch.device = None,
        use_causal_mask: bool = True
) -> None:
    model.train()
    total_loss = 0.
    log_interval = 200
    start_time = time.time()
    num_batches = len(train_data) // window_size
    for batch, i in enumerate(range(0, train_data.shape[0] - 1, window_size)):  # [0, 35, 70, 105, ...]
        X, Y = get_batch(train_data, i, window_size=window_size)
        X, Y = X.to(device), Y.to(device)
        src_mask = causal_mask(X.shape[1]).to(device) if use_causal_mask else None
        Y_hat = model(X, src_mask)
        loss = criterion(Y_hat.reshape(-1, ntokens), Y)

        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()

        total_loss += loss.item()
        if batch % log_interval == 0 and batch > 0:
            lr = scheduler.get_last_lr()[0]
            ms_per_batch = (time.time() - start_time) * 1000 / log_interval
            cur_loss = total_loss / log_interval
            ppl = math.exp(cur_loss)
            print(f'| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches | '
                  f'lr {lr:02.2f} | ms/batch {ms_per_batch:5.2f} | '
                  f'loss {cur_loss:5.2f}'
                  f' | ppl {ppl:8.2f}'
                  )
            total_loss = 0
            start_time = time.time()


def evaluate(
        model,
        eval_data: Tensor,
        window_size: int,
        ntokens: int,
        criterion,
        device: torch.device = None,
        use_causal_mask: bool = True,
) -> float:
    model.eval()
    total_loss, num_tokens = 0., 0
    with torch.no_grad():
        for i in range(0, eval_data.shape[0] - 1, window_size):
            X, Y = get_batch(eval_data, i, window_size=window_size)
            X, Y = X.to(device), Y.to(device)
            src_mask = causal_mask(X.shape[1]).to(device) if use_causal_mask else None
            Y_hat = model(X, src_mask)
            total_loss += criterion(Y_hat.reshape(-1, ntokens), Y).item() * Y.numel()
            num_tokens += Y.numel()
    return total_loss / num_tokens

bptt = 35

# %% [markdown]
# #### Running the training

# %%
criterion = nn.CrossEntropyLoss()
lr = 5.0  # learning rate
optimizer = torch.optim.SGD(model.parameters(), lr=lr, )
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.95)

best_val_loss = float('inf')
epochs = 10

# Train
home = os.path.join(os.path.expanduser("~"), "transformer_test")
save_dir = os.path.join(os.path.join(home, 'pytorch_example')) # feel free to change path
os.makedirs(save_dir, exist_ok=True)
best_model_params_path = os.path.join(save_dir, "best_model_params.pt")

for epoch in range(1, epochs + 1):
    epoch_start_time = time.time()
    train(model, train_data, bptt, criterion, ntokens, optimizer, scheduler, epoch, device, use_causal_mask)
    val_loss = evaluate(model, val_data, bptt, ntokens, criterion, device, use_causal_mask)
    val_ppl = math.exp(val_loss)
    elapsed = time.time() - epoch_start_time
    print('-' * 89)
    print(f'| end of epoch {epoch:3d} | time: {elapsed:5.2f}s | '
          f'valid loss {val_loss:5.2f} | valid ppl {val_ppl:8.2f}')
    print('-' * 89)

    if val_loss < best_val_loss:
        best_val_loss = val_loss
        torch.save(model.state_dict(), best_model_params_path)

    scheduler.step()
model.load_state_dict(torch.load(best_model_params_path))  # load best model states

# Test
test_loss = evaluate(model, test_data, bptt, ntokens, criterion, device)
test_ppl = math.exp(test_loss)
print('=' * 89)
print(f'| End of training | test loss {test_loss:5.2f} | '
      f'test ppl {test_ppl:8.2f}')
print('=' * 89)

# %% [markdown]
# ## 2. General knowledge and LLMs
#
# **Describe the attention complexity in memory and computation costs. Do you know methods to try to reduce this cost?**
#
# For a sequence of length n and representations of size d, self-attention costs O(n^2 d) computation (all pairs of tokens) and stores an n x n matrix of attention weights, O(n^2) memory. Sparse attention (local windows), low-rank projections, linear (kernel) attention and FlashAttention reduce it.
#
# **Why use a causal mask in attention? Are there any other interesting masks or patterns that can be used for training or for generation?**
#
# A masked self-attention in the decoder preserves the auto-regressive property: a prediction depends only on the tokens already generated, never on future ones. Valid lengths (padding masks) are the other common mask.
