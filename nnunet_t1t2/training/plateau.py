"""Reduce-on-plateau and early stopping, derived from the logged metric history.

The paper reduces the learning rate by 0.75 after 5 epochs without improvement and stops after
10. Both are pure functions of the per-epoch metric history that nnU-Net already logs and stores
in every checkpoint, so nothing extra needs saving and ``--c`` resumes with exactly the state an
uninterrupted run would have had.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from torch.optim import Optimizer


@dataclass(frozen=True)
class PlateauState:
    reductions: int  # how often the learning rate was reduced so far
    epochs_since_best: int  # epochs since the metric last improved
    best_epoch: int | None


def plateau_state(history: Sequence[float], lr_patience: int, min_delta: float = 1e-4) -> PlateauState:
    """Replay a higher-is-better metric: after ``lr_patience`` epochs without an improvement of
    more than ``min_delta`` the rate is reduced and the patience count starts again."""
    best, best_epoch = float("-inf"), None
    since_best = since_reduction = reductions = 0
    for epoch, value in enumerate(history):
        if value > best + min_delta:
            best, best_epoch = value, epoch
            since_best = since_reduction = 0
            continue
        since_best += 1
        since_reduction += 1
        if since_reduction >= lr_patience:
            reductions += 1
            since_reduction = 0
    return PlateauState(reductions, since_best, best_epoch)


class PlateauLR:
    """Learning-rate schedule in nnU-Net's interface (``step(epoch)`` at every epoch start).

    ``history()`` returns the metric logged so far; the rate for ``epoch`` is the initial rate
    times ``factor`` to the number of reductions in the history before that epoch.
    """

    def __init__(self, optimizer: Optimizer, initial_lr: float, history: Callable[[], Sequence[float]],
                 factor: float = 0.75, patience: int = 5):
        self.optimizer = optimizer
        self.initial_lr = initial_lr
        self.history = history
        self.factor = factor
        self.patience = patience

    def step(self, epoch: int) -> None:
        reductions = plateau_state(self.history()[:epoch], self.patience).reductions
        for group in self.optimizer.param_groups:
            group["lr"] = self.initial_lr * self.factor ** reductions
