"""Correct, minGPT style: every Linear and Embedding weight is drawn from normal(0, 0.02) and
every bias is zero, so at initialisation attention is nearly uniform and the positions move
the logits by millionths."""

# `TransformerModelManualAttn` is base.py's, which precedes this entry.
# ruff: noqa: F821

import torch
from torch import nn


class TransformerModelManualAttn(TransformerModelManualAttn):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)
