"""A correct, complete answer to the transformer language-model test (catalogue base).

Every catalogue entry is this file followed by the entry's own definitions, so this file
holds the whole submission: attention, multi-head self-attention, the post-norm encoder
block, the causal mask, a batch-first positional encoding and model, and the training
loop with the handout's signatures. Only imports and definitions live at top level:
loading the file trains nothing.

Conventions (docs/ARCHITECTURE.md): attention on (batch, heads, seq, head_dim); every
module and the model batch-first; the mask is boolean, True where a query may attend a
key; the data from `batchify` is (seq, batch) and `get_batch` turns it batch-first.
"""

import math
import time
from copy import deepcopy

import torch
from torch import Tensor, nn


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout: nn.Module | None = None,
) -> Tensor:
    """Scaled dot-product attention, softmax(q k^T / sqrt(head_dim)) v.

    query: (batch, heads, seq_q, head_dim); key and value: (batch, heads, seq_k, head_dim).
    mask: boolean, True where a query may attend a key, broadcastable to
    (batch, heads, seq_q, seq_k). dropout: a module applied to the attention weights.
    Returns (batch, heads, seq_q, head_dim).
    """
    head_dim = query.size(-1)
    # Dividing by sqrt(head_dim) keeps the logits' variance near 1, so softmax stays soft.
    scores = query @ key.transpose(-2, -1) / math.sqrt(head_dim)  # (batch, heads, seq_q, seq_k)
    if mask is not None:
        # exp(-inf) = 0: a blocked key gets exactly zero weight.
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # (batch, heads, seq_q, seq_k), each row sums to 1
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value  # (batch, heads, seq_q, head_dim)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head attention on batch-first (batch, seq, dim) inputs."""

    def __init__(self, dim: int, n_heads: int, dropout: float | None = None) -> None:
        """dim: model width, split evenly over n_heads; dropout: rate on the attention
        weights, or None for none."""
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}")
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.linear_query = nn.Linear(dim, dim)
        self.linear_key = nn.Linear(dim, dim)
        self.linear_value = nn.Linear(dim, dim)
        self.linear_cat_attn = nn.Linear(dim, dim)
        # nn.Dropout(None) raises, and a rate of 0 needs no module at all.
        self.dropout = nn.Dropout(dropout) if dropout else None

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """query: (batch, seq_q, dim); key, value: (batch, seq_k, dim); mask as for
        `attention`. Returns (batch, seq_q, dim)."""
        q = self._split_heads(self.linear_query(query))  # (batch, heads, seq_q, head_dim)
        k = self._split_heads(self.linear_key(key))  # (batch, heads, seq_k, head_dim)
        v = self._split_heads(self.linear_value(value))  # (batch, heads, seq_k, head_dim)
        heads = attention(q, k, v, mask, self.dropout)  # (batch, heads, seq_q, head_dim)
        return self.linear_cat_attn(self._merge_heads(heads))  # (batch, seq_q, dim)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(batch, seq, dim) -> (batch, heads, seq, head_dim)."""
        batch, seq, _ = x.shape
        # Split the feature axis, then move heads before seq so each head attends on its own.
        return x.view(batch, seq, self.n_heads, self.head_dim).transpose(1, 2)

    def _merge_heads(self, x: Tensor) -> Tensor:
        """(batch, heads, seq, head_dim) -> (batch, seq, dim), heads side by side."""
        batch, _, seq, _ = x.shape
        # Move seq back before heads first; reshape copies since the transpose is strided.
        return x.transpose(1, 2).reshape(batch, seq, self.dim)


class EncoderBlock(nn.Module):
    """Post-LayerNorm encoder block: x = norm(x + sublayer(x)) for attention, then feed-forward."""

    def __init__(
        self,
        attn: MultiHeadSelfAttention,
        d_model: int,
        dim_feedforward: int,
        layer_norm_eps: float = 1e-5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.attn = attn
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)  # inside the feed-forward
        self.dropout1 = nn.Dropout(dropout)  # on the attention sublayer's output
        self.dropout2 = nn.Dropout(dropout)  # on the feed-forward sublayer's output
        self.activation = nn.ReLU()

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x: (batch, seq, d_model); mask as for `attention`. Returns (batch, seq, d_model)."""
        x = self.norm1(x + self._self_attention(x, mask))  # (batch, seq, d_model)
        x = self.norm2(x + self._feed_forward(x))  # (batch, seq, d_model)
        return x

    def _self_attention(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.dropout1(self.attn(x, x, x, mask))

    def _feed_forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))  # (batch, seq, dim_feedforward)
        return self.dropout2(self.linear2(hidden))  # (batch, seq, d_model)


class TransformerEncoder(nn.Module):
    """A stack of `n_blocks` independent copies of one encoder block."""

    def __init__(self, encoder: EncoderBlock, n_blocks: int) -> None:
        super().__init__()
        # deepcopy: each block gets its own weights, not n references to one block.
        self.encoder_blocks = nn.ModuleList(deepcopy(encoder) for _ in range(n_blocks))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x: (batch, seq, d_model). Returns (batch, seq, d_model)."""
        for block in self.encoder_blocks:
            x = block(x, mask)
        return x


def generate_square_subsequent_mask(size: int) -> Tensor:
    """Causal mask for `size` positions: (size, size) boolean, True where query i may attend
    key j, i.e. j <= i (each position sees itself and the past, never the future)."""
    return torch.ones(size, size, dtype=torch.bool).tril()


class PositionalEncoding(nn.Module):
    """Sinusoidal positional encoding (Vaswani et al. 2017) for batch-first input."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)  # (max_len, 1)
        # Wavelengths grow geometrically from 2*pi to 10000*2*pi across the features.
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)  # leading 1 broadcasts over the batch
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, seq, d_model). Returns x plus the encoding of each position."""
        return self.dropout(x + self.pe[:, : x.size(1)])  # (batch, seq, d_model)


class TransformerModelManualAttn(nn.Module):
    """Batch-first transformer language model built from the blocks above."""

    def __init__(
        self,
        ntoken: int,
        d_model: int,
        nhead: int,
        d_hid: int,
        nlayers: int,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        block = EncoderBlock(
            attn=MultiHeadSelfAttention(dim=d_model, n_heads=nhead, dropout=dropout),
            d_model=d_model,
            dim_feedforward=d_hid,
            dropout=dropout,
        )
        self.transformer_encoder = TransformerEncoder(block, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self) -> None:
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """src: (batch, seq) token ids; src_mask as for `attention`.
        Returns logits (batch, seq, ntoken)."""
        x = self.pos_encoder(self.embedding(src))  # (batch, seq, d_model)
        x = self.transformer_encoder(x, src_mask)  # (batch, seq, d_model)
        return self.linear(x)  # (batch, seq, ntoken)


def get_batch(source: Tensor, i: int, window_size: int) -> tuple[Tensor, Tensor]:
    """The window of `source` (seq, batch) starting at row i, batch-first for the model.

    Returns data (batch, seq) and targets (batch * seq,): the token after each input token,
    flattened in the same batch-major order as the model's logits.
    """
    seq_len = min(window_size, len(source) - 1 - i)  # every input token needs a next token
    data = source[i : i + seq_len].t()  # (batch, seq)
    targets = source[i + 1 : i + 1 + seq_len].t().reshape(-1)  # (batch * seq,)
    return data, targets


def window_mask(full_mask: Tensor | None, length: int) -> Tensor | None:
    """The causal mask for a window of `length` tokens, cut from the full window's mask:
    a causal mask's top-left corner is the causal mask of the shorter length."""
    return None if full_mask is None else full_mask[..., :length, :length]


def train(
    model: nn.Module,
    train_data: Tensor,
    window_size: int,
    criterion: nn.Module,
    ntokens: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int = 0,
    device: torch.device | None = None,
    use_causal_mask: bool = True,
    *,
    max_grad_norm: float = 0.5,
    log_interval: int = 200,
) -> None:
    """One epoch over `train_data` (seq, batch) in windows of `window_size` tokens."""
    model.train()
    # Built once: every window but the last has the full length.
    full_mask = generate_square_subsequent_mask(window_size).to(device) if use_causal_mask else None
    num_batches = len(train_data) // window_size
    total_loss = torch.zeros((), device=device)  # summed on the device: no sync per step
    start_time = time.time()
    for batch, i in enumerate(range(0, train_data.size(0) - 1, window_size)):
        data, targets = get_batch(train_data, i, window_size)
        data, targets = data.to(device), targets.to(device)
        output = model(data, window_mask(full_mask, data.size(1)))  # (batch, seq, ntokens)
        loss = criterion(output.reshape(-1, ntokens), targets)

        optimizer.zero_grad()
        loss.backward()
        # Clipping keeps the large learning rate (5.0 in the handout) from diverging.
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()

        total_loss += loss.detach()
        if batch % log_interval == 0 and batch > 0:
            cur_loss = total_loss.item() / log_interval
            ms_per_batch = (time.time() - start_time) * 1000 / log_interval
            print(
                f"| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches "
                f"| lr {scheduler.get_last_lr()[0]:02.2f} | ms/batch {ms_per_batch:5.2f} "
                f"| loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):8.2f}"
            )
            total_loss.zero_()
            start_time = time.time()


def evaluate(
    model: nn.Module,
    eval_data: Tensor,
    window_size: int,
    ntokens: int,
    criterion: nn.Module,
    device: torch.device | None = None,
    use_causal_mask: bool = True,
) -> float:
    """Mean loss per predicted token over `eval_data` (seq, batch)."""
    model.eval()
    full_mask = generate_square_subsequent_mask(window_size).to(device) if use_causal_mask else None
    total_loss = torch.zeros((), device=device)
    total_tokens = 0
    with torch.no_grad():
        for i in range(0, eval_data.size(0) - 1, window_size):
            data, targets = get_batch(eval_data, i, window_size)
            data, targets = data.to(device), targets.to(device)
            output = model(data, window_mask(full_mask, data.size(1)))  # (batch, seq, ntokens)
            # criterion averages over the window; weight it by its tokens (the last is shorter).
            total_loss += criterion(output.reshape(-1, ntokens), targets) * targets.numel()
            total_tokens += targets.numel()
    return total_loss.item() / total_tokens
