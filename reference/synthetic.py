"""A random sparse Markov chain over a vocabulary: text with learnable structure and a known
entropy rate.

Each token has a few possible successors with random probabilities. A language model that
learns the transition table reaches the chain's entropy rate, ``H = sum_i pi_i H(P_i)``
(``pi`` the stationary distribution, ``H(P_i)`` the entropy of row ``i``), and no model can
go below it. A model that ignores context can do no better than the unigram entropy
``H(pi)``. Both are computed exactly, so a training curve on this corpus reads as "how much
of the gap between knowing nothing and knowing everything did the model close".
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class MarkovChain:
    """A first-order Markov chain over ``vocab_size`` tokens."""

    transition: Tensor
    """(vocab, vocab) float64; row ``i`` is the distribution of the token after token ``i``."""
    stationary: Tensor
    """(vocab,) float64; the chain's stationary distribution (its long-run token frequencies)."""

    @property
    def vocab_size(self) -> int:
        """Number of tokens (states) of the chain."""
        return self.transition.size(0)

    @property
    def entropy_rate(self) -> float:
        """Nats per token of the best possible next-token predictor: ``sum_i pi_i H(P_i)``."""
        row_entropy = -torch.xlogy(self.transition, self.transition).sum(dim=1)  # (vocab,)
        return float(self.stationary @ row_entropy)

    @property
    def unigram_entropy(self) -> float:
        """Nats per token of the best context-free predictor: ``H(pi)``."""
        return float(-torch.xlogy(self.stationary, self.stationary).sum())

    def sample(self, length: int, generator: torch.Generator) -> Tensor:
        """A stationary run of ``length`` tokens, (length,) int64.

        The first token is drawn from the stationary distribution, so every position of the
        run has the same distribution and the entropy rate applies from the first token on.
        """
        # Sampling is sequential by nature; plain Python lists over each row's few successors
        # make a step a bisect, far cheaper than a tensor operation per token.
        successors = [row.nonzero().flatten().tolist() for row in self.transition]
        cumulative = [
            self.transition[i, succ].cumsum(0).tolist() for i, succ in enumerate(successors)
        ]
        uniforms = torch.rand(length, dtype=torch.float64, generator=generator).tolist()
        state = int(torch.multinomial(self.stationary, 1, generator=generator))
        tokens = []
        for u in uniforms:
            tokens.append(state)
            # min() guards against the last cumulative sum rounding to just below u.
            choice = min(bisect.bisect_right(cumulative[state], u), len(successors[state]) - 1)
            state = successors[state][choice]
        return torch.tensor(tokens, dtype=torch.long)


def random_markov_chain(vocab_size: int, successors: int, seed: int) -> MarkovChain:
    """A chain where each token has up to ``successors`` possible next tokens.

    Token ``i`` always may be followed by ``i + 1`` (mod vocab), so every token is reachable
    from every other (the chain is irreducible) and the stationary distribution is unique.
    The other successors are drawn at random; the probabilities are Dirichlet(1), so some
    transitions are near-certain and others close to a coin flip. Same seed, same chain.
    """
    if not 1 <= successors <= vocab_size:
        raise ValueError(f"successors must be in [1, {vocab_size}], got {successors}")
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.arange(vocab_size)  # (vocab,)
    next_tokens = torch.randint(vocab_size, (vocab_size, successors), generator=generator)
    next_tokens[:, 0] = (tokens + 1) % vocab_size  # the cycle that makes the chain irreducible
    # Normalised exponential draws are Dirichlet(1) samples; 1 - U lies in (0, 1], so the
    # logarithm is finite.
    uniforms = torch.rand(vocab_size, successors, generator=generator, dtype=torch.float64)
    weights = -torch.log1p(-uniforms)  # (vocab, successors)
    probabilities = weights / weights.sum(dim=1, keepdim=True)  # (vocab, successors)
    transition = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)  # (vocab, vocab)
    transition.scatter_add_(1, next_tokens, probabilities)  # repeated successors add up
    return MarkovChain(transition, stationary_distribution(transition))


def stationary_distribution(transition: Tensor) -> Tensor:
    """The ``pi`` with ``pi P = pi`` and ``sum(pi) = 1`` of an irreducible chain, (vocab,).

    Solves the linear system directly (one equation of ``pi (P - I) = 0`` is redundant and is
    replaced by the normalisation), which is exact where power iteration would need the chain
    to be aperiodic and many iterations.
    """
    vocab_size = transition.size(0)
    system = transition.T - torch.eye(vocab_size, dtype=transition.dtype)  # (vocab, vocab)
    system[-1] = 1.0
    rhs = torch.zeros(vocab_size, dtype=transition.dtype)  # (vocab,)
    rhs[-1] = 1.0
    return torch.linalg.solve(system, rhs)  # (vocab,)
