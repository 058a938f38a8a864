# %% [markdown]
# # Wild corpus: xtransformers_targets_unshifted
#
# Adapted from lucidrains/x-transformers, `x_transformers/x_transformers.py`
# (https://github.com/lucidrains/x-transformers/blob/main/x_transformers/x_transformers.py):
# `exists`/`default`, fused `to_kv`, blocking causal mask `ones(i, j).triu(j - i + 1)`, post-norm.
# Written for this corpus in that style, not copied.
#
# **Verdict: one bug: `get_batch` returns the input window as the targets**
# (`source[i:i + seq_len]` instead of `source[i + 1:i + 1 + seq_len]`): the model is trained to
# repeat the token at each position, not to predict the next one.

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
def exists(val):
    return val is not None

def default(val, d):
    return val if exists(val) else d

def max_neg_value(tensor):
    return -torch.finfo(tensor.dtype).max


def attention(query: Tensor, key: Tensor, value: Tensor, mask: Optional[Tensor] = None, dropout = None) -> Tensor:
    """Scaled dot-product attention. `mask`: boolean, True where attention is *blocked*."""
    scale = query.shape[-1] ** -0.5
    dots = torch.einsum('b h i d, b h j d -> b h i j', query, key) * scale
    if exists(mask):
        dots = dots.masked_fill(mask, max_neg_value(dots))
    attn = dots.softmax(dim = -1)
    attn = default(dropout, nn.Identity())(attn)
    return torch.einsum('b h i j, b h j d -> b h i d', attn, value)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: Optional[float] = None):
        super(MultiHeadSelfAttention, self).__init__()
        assert dim % n_heads == 0, 'dimension must be divisible by the number of heads'
        dim_head = dim // n_heads
        self.heads = n_heads
        self.dim_head = dim_head
        inner_dim = dim_head * n_heads

        self.to_q = nn.Linear(dim, inner_dim, bias = False)
        self.to_kv = nn.Linear(dim, inner_dim * 2, bias = False)
        self.to_out = nn.Linear(inner_dim, dim)
        self.dropout = nn.Dropout(default(dropout, 0.))

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        b, n, _ = query.shape
        h = self.heads
        kv_input = default(key, query)

        q = self.to_q(query)
        k, v = self.to_kv(kv_input).chunk(2, dim = -1)

        q, k, v = map(lambda t: t.unflatten(-1, (h, self.dim_head)).transpose(1, 2), (q, k, v))
        out = attention(q, k, v, mask, self.dropout)
        out = out.transpose(1, 2).flatten(-2)
        return self.to_out(out)

# %%
class EncoderBlock(nn.Module):
    def __init__(self, attn: MultiHeadSelfAttention, d_model: int, dim_feedforward: int, layer_norm_eps=1e-5, dropout=0.1):
        super(EncoderBlock, self).__init__()
        self.attn = attn
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dim_feedforward, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.pre_norm = False

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        layers = ((self.norm1, lambda t: self.attn(t, t, t, mask), self.dropout1),
                  (self.norm2, self.ff, self.dropout2))
        for norm, block, drop in layers:
            residual = x
            if self.pre_norm:
                x = norm(x)
            x = drop(block(x)) + residual
            if not self.pre_norm:
                x = norm(x)
        return x

# %%
class TransformerEncoder(nn.Module):
    def __init__(self, encoder: EncoderBlock, n_blocks: int):
        super(TransformerEncoder, self).__init__()
        self.encoder_blocks = nn.ModuleList([deepcopy(encoder) for _ in range(n_blocks)])

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        for encoder in self.encoder_blocks:
            x = encoder(x, mask)
        return x


def causal_mask(i: int, j: Optional[int] = None, device = None) -> Tensor:
    """(i, j) boolean, True where query i must not see key j (the future)."""
    j = default(j, i)
    return torch.ones((i, j), device = device, dtype = torch.bool).triu(j - i + 1)

# %%
class PositionalEncodingTorch(nn.Module):

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)

        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x: Tensor) -> Tensor:
        """
        Arguments:
            x: Tensor, shape ``[batch_size, seq_len, embedding_dim]``
        """
        x = x + self.pe[:x.size(1)]
        return self.dropout(x)

class TransformerModelManualAttn(nn.Module):

    def __init__(self, ntoken: int, d_model: int, nhead: int, d_hid: int,
                 nlayers: int, dropout: float = 0.5):
        super().__init__()
        self.pos_encoder = PositionalEncodingTorch(d_model, dropout)
        encoder_layers = EncoderBlock(attn=MultiHeadSelfAttention(dim=d_model, n_heads=nhead, dropout=dropout),
                                      d_model=d_model, dim_feedforward=d_hid, dropout=dropout)
        self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)

        self.init_weights()

    def init_weights(self) -> None:
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src: Tensor, src_mask: Tensor = None) -> Tensor:
        src = self.embedding(src)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        output = self.linear(output)
        return output

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
mask = causal_mask(window_size)[None]

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
    data = source[i:i + seq_len].t()
    target = source[i:i + seq_len].t().flatten()
    return data, target

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
        data, targets = get_batch(train_data, i, window_size=window_size)
        data, targets = data.to(device), targets.to(device)
        n = data.shape[-1]
        src_mask = causal_mask(n, device = data.device) if use_causal_mask else None
        output = model(src=data, src_mask=src_mask)
        loss = criterion(output.flatten(0, 1), targets)

        optimizer.zero_grad()
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
    total_loss = 0.
    with torch.no_grad():
        for i in range(0, eval_data.shape[0] - 1, window_size):
            data, targets = get_batch(eval_data, i, window_size=window_size)
            data, targets = data.to(device), targets.to(device)
            n = data.shape[-1]
            src_mask = causal_mask(n, device = data.device) if use_causal_mask else None
            output = model(data, src_mask=src_mask)
            total_loss += n * criterion(output.flatten(0, 1), targets).item()
    return total_loss / (len(eval_data) - 1)

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
# Compute O(n^2 d) and memory O(n^2) in sequence length n. Memory-efficient / flash attention removes the n^2 memory; local windowed attention, sparse attention, Linformer-style low-rank and kernel (linear) attention reduce the compute.
#
# **Why use a causal mask in attention? Are there any other interesting masks or patterns that can be used for training or for generation?**
#
# Autoregressive language modelling: the causal mask makes token t blind to tokens > t. Other masks: padding, prefix-LM (bidirectional prefix), sliding window, and ALiBi biases rather than masks.
