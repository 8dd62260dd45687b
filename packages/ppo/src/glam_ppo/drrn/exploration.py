"""Epsilon-greedy action choice over masked Q-values, drawing from an explicit generator.

Every call draws exactly two uniform numbers per row, whether the row explores
or not, so the generator's stream (and with it the whole run) does not depend
on which rows happened to explore: only on the seed and the number of calls.
"""

from __future__ import annotations

import numpy as np
import torch


def epsilon_greedy(
    q: torch.Tensor, counts: np.ndarray, epsilon: float, rng: np.random.Generator
) -> np.ndarray:
    """One action index per row: uniform among its ``counts[i]`` actions with
    probability ``epsilon``, else ``argmax Q`` (the first on ties)."""
    if (counts < 1).any():
        raise ValueError("an observation has no admissible action: nothing to choose")
    greedy = q.argmax(dim=1).cpu().numpy().astype(np.int64)
    explore = rng.random(len(counts)) < epsilon
    uniform = np.minimum((rng.random(len(counts)) * counts).astype(np.int64), counts - 1)
    return np.where(explore, uniform, greedy)
