import math
import os
import time
from copy import deepcopy
from typing import Optional, Tuple

import torch
from torch import Tensor, nn
from torchtext.data.utils import get_tokenizer
from torchtext.datasets import PennTreebank
from torchtext.vocab import build_vocab_from_iterator

# Transformer coding test - my solution as a script (I worked outside of jupyter)
# run with: python solution.py


def attention(query, key, value, mask=None, dropout=None):
    """scaled dot product attention, mask is additive (0 or -inf) like in pytorch"""
    d_k = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: Optional[float] = None):
        super(MultiHeadSelfAttention, self).__init__()
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        assert n_heads * self.head_dim == dim, f"embedding dim={dim} not divisible by n_heads={n_heads}."
        self.dropout = nn.Dropout(p=dropout or 0.0)
        self.linear_query = nn.Linear(dim, dim)
        self.linear_key = nn.Linear(dim, dim)
        self.linear_value = nn.Linear(dim, dim)
        self.linear_cat_attn = nn.Linear(dim, dim)

    def forward(self, query, key, value, mask=None):
        B = query.shape[0]
        # (B, L, dim) -> (B, n_heads, L, head_dim)
        q = self.linear_query(query).view(B, -1, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.linear_key(key).view(B, -1, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.linear_value(value).view(B, -1, self.n_heads, self.head_dim).transpose(1, 2)
        out = attention(q, k, v, mask, self.dropout)
        out = out.transpose(1, 2).contiguous().view(B, -1, self.dim)
        return self.linear_cat_attn(out)


class EncoderBlock(nn.Module):
    def __init__(self, attn, d_model, dim_feedforward, layer_norm_eps=1e-5, dropout=0.1):
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

    def forward(self, x, mask=None):
        # layer norm first, it trains better (like GPT-2)
        h = self.norm1(x)
        x = x + self.dropout1(self.attn(h, h, h, mask))
        h = self.norm2(x)
        x = x + self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(h)))))
        return x


class TransformerEncoder(nn.Module):
    def __init__(self, encoder, n_blocks):
        super(TransformerEncoder, self).__init__()
        self.encoder_blocks = nn.ModuleList([deepcopy(encoder) for _ in range(n_blocks)])

    def forward(self, x, mask=None):
        for encoder in self.encoder_blocks:
            x = encoder(x, mask)
        return x


class PositionalEncodingTorch(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        # x: [seq_len, batch_size, embedding_dim]
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModelManualAttn(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.pos_encoder = PositionalEncodingTorch(d_model, dropout)
        encoder_layers = EncoderBlock(attn=MultiHeadSelfAttention(dim=d_model, n_heads=nhead, dropout=dropout),
                                      d_model=d_model, dim_feedforward=d_hid, dropout=dropout)
        self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src, src_mask=None):
        # src is (batch, seq) but the positional encoding wants (seq, batch) so transpose around it
        src = self.embedding(src)
        src = self.pos_encoder(src.transpose(0, 1)).transpose(0, 1)
        output = self.transformer_encoder(src, src_mask)
        output = self.linear(output)
        return output


def generate_square_subsequent_mask(sz):
    # same as nn.Transformer.generate_square_subsequent_mask
    return torch.triu(torch.full((sz, sz), float('-inf')), diagonal=1)


def get_batch(source, i, window_size):
    seq_len = min(window_size, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + seq_len + 1]
    return data.t(), target.t().reshape(-1)


def train(model, train_data, window_size, criterion, ntokens, optimizer, scheduler, epoch=0, device=None,
          use_causal_mask=True):
    model.train()
    total_loss = 0.
    start_time = time.time()
    src_mask = generate_square_subsequent_mask(window_size)
    src_mask.to(device)
    num_batches = len(train_data) // window_size
    for batch, i in enumerate(range(0, train_data.shape[0] - 1, window_size)):
        data, targets = get_batch(train_data, i, window_size)
        seq_len = data.size(1)
        mask = src_mask[:seq_len, :seq_len] if use_causal_mask else None
        output = model(data, mask)
        loss = criterion(output.view(-1, ntokens), targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        total_loss += loss.item()
        if batch % 200 == 0 and batch > 0:
            lr = scheduler.get_last_lr()[0]
            ms_per_batch = (time.time() - start_time) * 1000 / 200
            cur_loss = total_loss / 200
            print(f'| epoch {epoch:3d} | {batch:5d}/{num_batches:5d} batches | lr {lr:02.2f} | '
                  f'ms/batch {ms_per_batch:5.2f} | loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):8.2f}')
            total_loss = 0
            start_time = time.time()


def evaluate(model, eval_data, window_size, ntokens, criterion, device=None, use_causal_mask=True):
    model.eval()
    total_loss = 0.
    src_mask = generate_square_subsequent_mask(window_size)
    with torch.no_grad():
        for i in range(0, eval_data.shape[0] - 1, window_size):
            data, targets = get_batch(eval_data, i, window_size)
            seq_len = data.size(1)
            mask = src_mask[:seq_len, :seq_len] if use_causal_mask else None
            output = model(data, mask)
            total_loss += seq_len * criterion(output.view(-1, ntokens), targets).item()
    return total_loss / (len(eval_data) - 1)


def batchify(data, bsz):
    seq_len = data.size(0) // bsz
    data = data[:seq_len * bsz]
    return data.view(bsz, seq_len).t().contiguous()


def main():
    train_iter, val_iter, test_iter = PennTreebank()
    tokenizer = get_tokenizer('basic_english')
    vocab = build_vocab_from_iterator(map(tokenizer, train_iter), specials=['<unk>'])
    vocab.set_default_index(vocab['<unk>'])

    def data_process(raw_text_iter):
        data = [torch.tensor(vocab(tokenizer(item)), dtype=torch.long) for item in raw_text_iter]
        return torch.cat(tuple(filter(lambda t: t.numel() > 0, data)))

    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    train_data = batchify(data_process(train_iter), 20).to(device)
    val_data = batchify(data_process(val_iter), 10).to(device)
    test_data = batchify(data_process(test_iter), 10).to(device)

    ntokens = len(vocab)
    model = TransformerModelManualAttn(ntokens, 200, 2, 200, 2, 0.1).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.95)

    best_val_loss = float('inf')
    best_model_params_path = os.path.join('.', 'best_model_params.pt')
    for epoch in range(1, 11):
        epoch_start_time = time.time()
        train(model, train_data, 35, criterion, ntokens, optimizer, scheduler, epoch, device)
        val_loss = evaluate(model, val_data, 35, ntokens, criterion, device)
        print('-' * 89)
        print(f'| end of epoch {epoch:3d} | time: {time.time() - epoch_start_time:5.2f}s | '
              f'valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}')
        print('-' * 89)
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            torch.save(model.state_dict(), best_model_params_path)
        scheduler.step()

    model.load_state_dict(torch.load(best_model_params_path))
    test_loss = evaluate(model, test_data, 35, ntokens, criterion, device)
    print(f'| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}')


if __name__ == '__main__':
    main()


# 2. General knowledge
#
# Describe the attention complexity in memory and computation costs. Do you know methods to try
# to reduce this cost?
# -> Self-attention is quadratic: for a sequence of length n we compute an n x n matrix of
#    scores, O(n^2 * d) time. The n x n attention matrix must be kept in memory too, so memory is
#    quadratic in the sequence length. Methods: sparse attention (Longformer, BigBird),
#    Linformer (low rank), FlashAttention.
#
# Why use a causal mask in attention? Are there any other interesting masks or patterns that can
# be used for training or for generation?
# -> With the causal mask a token can only attend to previous tokens and not to the future
#    ones, otherwise the model can cheat by looking at the next word. Other masks: padding mask,
#    and the masked language modelling of BERT where random tokens are masked.
