# %% [markdown]
# # Wild corpus: hf_gpt2_dropout_on_scores
#
# Adapted from huggingface/transformers, `models/gpt2/modeling_gpt2.py` (`GPT2Attention._attn`)
# and `modeling_utils.get_extended_attention_mask`
# (https://github.com/huggingface/transformers/blob/main/src/transformers/models/gpt2/modeling_gpt2.py).
# Written for this corpus in that style, not copied.
#
# **Verdict: one bug: `attention()` applies the dropout module to the raw scores, before the
# mask and the softmax**, instead of to the attention weights after the softmax: the weights
# still sum to one, but dropout no longer removes attention mass (it rescales logits).

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
def attention(query: Tensor, key: Tensor, value: Tensor, mask: Optional[Tensor] = None, dropout = None) -> Tensor:
    """ Computes the scaled dot-product attention over the provided query, key, and value tensors.

    :param query: Tensor of shape (batch_size, n_heads, seq_len, dim), queries for attention.
    :param key: Tensor of shape (batch_size, n_heads, seq_len, dim), keys for attention.
    :param value: Tensor of shape (batch_size, n_heads, seq_len, dim), values for attention.
    :param mask: Optional additive mask (0 = attend, large negative = masked), broadcastable to the scores.
    :return: Tensor of shape (batch_size, n_heads, seq_len, dim), the weighted sum of the value using the attention weights.
    """
    attn_weights = torch.matmul(query, key.transpose(-1, -2))
    attn_weights = attn_weights / torch.full(
        [], value.size(-1) ** 0.5, dtype=attn_weights.dtype, device=attn_weights.device
    )
    if dropout is not None:
        attn_weights = dropout(attn_weights)

    if mask is not None:
        # Apply the attention mask
        attn_weights = attn_weights + mask

    attn_weights = nn.functional.softmax(attn_weights, dim=-1)

    # Downcast (if necessary) back to V's dtype (if in mixed-precision) -- No-Op otherwise
    attn_weights = attn_weights.type(value.dtype)

    attn_output = torch.matmul(attn_weights, value)
    return attn_output

class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: Optional[float] = None):
        super(MultiHeadSelfAttention, self).__init__()
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        if self.head_dim * self.n_heads != self.dim:
            raise ValueError(
                f"`embed_dim` must be divisible by num_heads (got `embed_dim`: {self.dim} and `num_heads`:"
                f" {self.n_heads})."
            )
        self.dropout = nn.Dropout(p=dropout) if dropout is not None else None
        self.linear_query = nn.Linear(dim, dim)
        self.linear_key = nn.Linear(dim, dim)
        self.linear_value = nn.Linear(dim, dim)
        self.linear_cat_attn = nn.Linear(dim, dim)

    def _split_heads(self, tensor, num_heads, attn_head_size):
        """
        Splits hidden_size dim into attn_head_size and num_heads
        """
        new_shape = tensor.size()[:-1] + (num_heads, attn_head_size)
        tensor = tensor.view(new_shape)
        return tensor.permute(0, 2, 1, 3)  # (batch, head, seq_length, head_features)

    def _merge_heads(self, tensor, num_heads, attn_head_size):
        """
        Merges attn_head_size dim and num_attn_heads dim into hidden_size
        """
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        new_shape = tensor.size()[:-2] + (num_heads * attn_head_size,)
        return tensor.view(new_shape)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        query = self._split_heads(self.linear_query(query), self.n_heads, self.head_dim)
        key = self._split_heads(self.linear_key(key), self.n_heads, self.head_dim)
        value = self._split_heads(self.linear_value(value), self.n_heads, self.head_dim)

        attn_output = attention(query, key, value, mask, self.dropout)

        attn_output = self._merge_heads(attn_output, self.n_heads, self.head_dim)
        return self.linear_cat_attn(attn_output)

# %%
class EncoderBlock(nn.Module):
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

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        residual = x
        attn_output = self.attn(x, x, x, mask)
        # residual connection, then the norm (post-norm)
        hidden_states = self.norm1(residual + self.dropout1(attn_output))

        residual = hidden_states
        feed_forward_hidden_states = self.linear2(self.dropout(self.activation(self.linear1(hidden_states))))
        hidden_states = self.norm2(residual + self.dropout2(feed_forward_hidden_states))
        return hidden_states

# %%
class TransformerEncoder(nn.Module):
    def __init__(self, encoder: EncoderBlock, n_blocks: int):
        super(TransformerEncoder, self).__init__()
        self.encoder_blocks = nn.ModuleList([deepcopy(encoder) for _ in range(n_blocks)])

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        for encoder in self.encoder_blocks:
            x = encoder(x, mask)
        return x


def get_extended_attention_mask(attention_mask: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Keep-mask (1 = attend, 0 = masked) -> additive mask broadcastable to (batch, heads, q, k)."""
    extended_attention_mask = attention_mask[None, None, :, :].to(dtype=dtype)
    return (1.0 - extended_attention_mask) * torch.finfo(dtype).min


def generate_square_subsequent_mask(seq_length: int, dtype: torch.dtype = torch.float32) -> Tensor:
    causal_mask = torch.tril(torch.ones((seq_length, seq_length), dtype=torch.bool))
    return get_extended_attention_mask(causal_mask, dtype)

# %%
class TransformerModelManualAttn(nn.Module):

    def __init__(self, ntoken: int, d_model: int, nhead: int, d_hid: int,
                 nlayers: int, dropout: float = 0.5, max_position_embeddings: int = 1024):
        super().__init__()
        self.embedding = nn.Embedding(ntoken, d_model)
        self.wpe = nn.Embedding(max_position_embeddings, d_model)
        self.drop = nn.Dropout(dropout)
        encoder_layers = EncoderBlock(attn=MultiHeadSelfAttention(dim=d_model, n_heads=nhead, dropout=dropout),
                                      d_model=d_model, dim_feedforward=d_hid, dropout=dropout)
        self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)
        self.register_buffer(
            "position_ids", torch.arange(max_position_embeddings).expand((1, -1)), persistent=False
        )

        self.init_weights()

    def init_weights(self) -> None:
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.wpe.weight.data.normal_(mean=0.0, std=0.02)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src: Tensor, src_mask: Tensor = None) -> Tensor:
        """
        :param src: Tensor of shape (batch_size, seq_len), containing the indices of input tokens.
        :param src_mask: Optional extended (additive) attention mask.
        :return: Tensor of shape (batch_size, seq_len, ntoken), containing the logits of predicted token probabilities.
        """
        input_shape = src.size()
        position_ids = self.position_ids[:, : input_shape[-1]]
        inputs_embeds = self.embedding(src)
        position_embeds = self.wpe(position_ids)
        hidden_states = self.drop(inputs_embeds + position_embeds)
        output = self.transformer_encoder(hidden_states, src_mask)
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
mask = generate_square_subsequent_mask(window_size)

print(mask.shape) # shape: (1, 1, window_size, window_size)

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
def get_batch(source: Tensor, i: int, window_size: int) -> Tensor:
    """A window of seq_len + 1 tokens, batch-first: the inputs and, shifted by one, the labels."""
    seq_len = min(window_size, len(source) - 1 - i) # ensure that each token in the batch has a next token
    return source[i:i + seq_len + 1].t()  # (batch_size, seq_len + 1)

def lm_loss(lm_logits: Tensor, labels: Tensor, criterion) -> Tensor:
    # Shift so that tokens < n predict n
    shift_logits = lm_logits[..., :-1, :].contiguous()
    shift_labels = labels[..., 1:].contiguous()
    return criterion(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))

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
    causal_mask = generate_square_subsequent_mask(window_size + 1).to(device) if use_causal_mask else None
    num_batches = len(train_data) // window_size
    for batch, i in enumerate(range(0, train_data.shape[0] - 1, window_size)):  # [0, 35, 70, 105, ...]
        input_ids = get_batch(train_data, i, window_size=window_size).to(device)
        length = input_ids.size(1)
        src_mask = causal_mask[..., :length, :length] if causal_mask is not None else None
        lm_logits = model(src=input_ids, src_mask=src_mask)
        loss = lm_loss(lm_logits, input_ids, criterion)

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
    causal_mask = generate_square_subsequent_mask(window_size + 1).to(device) if use_causal_mask else None
    with torch.no_grad():
        for i in range(0, eval_data.shape[0] - 1, window_size):
            input_ids = get_batch(eval_data, i, window_size=window_size).to(device)
            length = input_ids.size(1)
            src_mask = causal_mask[..., :length, :length] if causal_mask is not None else None
            lm_logits = model(input_ids, src_mask=src_mask)
            total_loss += (length - 1) * lm_loss(lm_logits, input_ids, criterion).item()
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
# Every token attends to every other, so the score matrix is n x n: time O(n^2 * d) and memory O(n^2) per head. To reduce it: sparse patterns (local/sliding window, BigBird), Linformer's low-rank projection, linear attention with kernel feature maps, and FlashAttention which is exact but never stores the full matrix.
#
# **Why use a causal mask in attention? Are there any other interesting masks or patterns that can be used for training or for generation?**
#
# Causal masking keeps position t from seeing later tokens, so next-token prediction cannot peek at the answer and the model behaves at training the way it does at generation time. Also: padding masks, prefix LM (bidirectional on the prompt), BERT-style masked LM.
