"""Alternative: torch.autograd.grad on detached leaves with torch.addmm, the dtype conversion done
in NumPy, __getitem__ returning a Python int label, evaluate dividing by len(loader.dataset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (F.cross_entropy is handy in task 1)
from torch import nn
from torch.utils.data import DataLoader, Dataset


# ----- task 1: tensors and autograd -------------------------------------------------------------
def linear_classifier_gradients(
    X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The cross-entropy loss of a linear classifier and its gradients, computed by autograd.

    Args:
        X: (n, D) float32 inputs.
        y: (n,) int64 class indices in 0..C-1.
        W: (D, C) float32 weights. Do not change it: not its values, not its requires_grad,
            not its .grad.
        b: (C,) float32 biases. The same.

    Returns:
        ``(loss, dW, db)``: the mean cross-entropy of the logits ``X @ W + b`` as a Python
        float, and its gradients with respect to W, shape (D, C), and b, shape (C,).
        Calling it twice with the same tensors gives the same result twice.

    >>> X = torch.tensor([[1.0, 2.0]]); y = torch.tensor([1])
    >>> loss, dW, db = linear_classifier_gradients(X, y, torch.zeros(2, 2), torch.zeros(2))
    >>> round(loss, 4), db
    (0.6931, tensor([ 0.5000, -0.5000]))
    """
    Wl = W.detach().requires_grad_()
    bl = b.detach().requires_grad_()
    loss = F.cross_entropy(torch.addmm(bl, X, Wl), y)
    dW, db = torch.autograd.grad(loss, [Wl, bl])
    return float(loss), dW, db


# ----- task 2: Dataset and DataLoader -----------------------------------------------------------
class DigitsDataset(Dataset):
    """The 8×8 digit images as a torch Dataset.

    Args:
        X: (n, 64) pixel intensities from 0 to 16 (``sklearn.datasets.load_digits().data``).
        y: (n,) integer labels 0..9.

    Item ``i`` is ``(features, label)``: features a float32 tensor of shape (64,) with the
    pixels divided by 16 (so in [0, 1]), label an int64 class index (a 0-dim tensor or an int).
    A DataLoader then stacks a batch of B items into ``(B, 64)`` float32 and ``(B,)`` int64.

    >>> data = DigitsDataset(np.full((3, 64), 8.0), np.array([0, 1, 2]))
    >>> len(data), data[1][0][:2], data[1][1]
    (3, tensor([0.5000, 0.5000]), tensor(1))
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X = torch.from_numpy(np.asarray(X, dtype=np.float32) / np.float32(16))
        self.y = torch.from_numpy(np.asarray(y).astype(np.int64))

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[index], int(self.y[index])


def make_loaders(
    train_set: Dataset, val_set: Dataset, batch_size: int = 64
) -> tuple[DataLoader, DataLoader]:
    """Two DataLoaders with ``batch_size`` items per batch.

    The training loader visits the items in a new random order every epoch; the validation
    loader visits every item exactly once (its order does not matter).

    Returns:
        ``(train_loader, val_loader)``.
    """
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=batch_size, shuffle=False)
    return train_loader, val_loader


# ----- task 3: one training epoch ---------------------------------------------------------------
def train_one_epoch(
    model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> float:
    """One pass over ``loader``, one optimizer step per batch.

    For each batch ``(inputs, targets)`` — inputs (B, 64) float32, targets (B,) int64 — clear the
    gradients, compute ``loss_fn(model(inputs), targets)``, backpropagate, step. The model may
    come in eval mode (as ``evaluate`` leaves it).

    Returns:
        The mean training loss over the samples of the epoch, as a Python float (each batch's
        mean loss weighted by its number of samples).
    """
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


# ----- task 4: evaluation -----------------------------------------------------------------------
def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module) -> dict[str, float]:
    """The mean loss and the accuracy of ``model`` on every sample of ``loader``.

    Uses the model for inference only: dropout off and batch-norm statistics frozen, no
    autograd graph built, nothing about the model changed. Two calls give the same result.

    Returns:
        ``{"loss": float, "accuracy": float}``: the loss averaged over samples (weight each
        batch by its size: the last batch may be smaller) and the fraction of samples whose
        largest logit is the true class, in [0, 1].
    """
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            logits = model(inputs)
            total += loss_fn(logits, targets).item() * targets.numel()
            correct += int((logits.argmax(1) == targets).sum())
    n = len(loader.dataset)
    return {"loss": total / n, "accuracy": correct / n}


# ----- task 5: checkpoints ----------------------------------------------------------------------
def save_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int
) -> None:
    """Save to ``path`` everything needed to continue training exactly: the model's state dict,
    the optimizer's state dict and ``epoch`` (the number of epochs completed)."""
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load a checkpoint written by ``save_checkpoint`` into the given ``model`` and
    ``optimizer`` (in place) and return the epoch it records."""
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    return int(ckpt["epoch"])


# ----- task 6: resumable training ---------------------------------------------------------------
def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    num_epochs: int,
    checkpoint_path: str | Path,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Train until ``num_epochs`` epochs are completed, resuming from ``checkpoint_path``.

    If ``checkpoint_path`` exists, load it first and continue after the epochs it records; a
    run stopped after k epochs and resumed must continue exactly as if it had never stopped.
    Each epoch ``e`` (0-based) starts with ``torch.manual_seed(seed + e)``, then trains one epoch,
    evaluates on ``val_loader`` and saves a checkpoint recording ``e + 1`` completed epochs.

    Returns:
        One record per epoch run in this call:
        ``{"epoch": e + 1, "train_loss": float, "val_loss": float, "val_accuracy": float}``.
    """
    start = load_checkpoint(checkpoint_path, model, optimizer) if Path(checkpoint_path).exists() else 0
    records = []
    for e in range(start, num_epochs):
        torch.manual_seed(seed + e)
        train_loss = train_one_epoch(model, train_loader, optimizer, loss_fn)
        metrics = evaluate(model, val_loader, loss_fn)
        save_checkpoint(checkpoint_path, model, optimizer, e + 1)
        records.append({"epoch": e + 1, "train_loss": train_loss, "val_loss": metrics["loss"],
                        "val_accuracy": metrics["accuracy"]})
    return records


if __name__ == "__main__":  # a quick run on the digits: python exercise.py
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    train_idx, val_idx = order[:1400], order[1400:]
    train_set = DigitsDataset(digits.data[train_idx], digits.target[train_idx])
    val_set = DigitsDataset(digits.data[val_idx], digits.target[val_idx])
    train_loader, val_loader = make_loaders(train_set, val_set, batch_size=64)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10)
    )
    adam = torch.optim.Adam(net.parameters(), lr=1e-2)
    # Run it twice: the second run finds digits.pt and has nothing left to do; raise the 5 to
    # 8 and it trains three more epochs from where it stopped. Delete digits.pt to start over.
    for row in fit(net, adam, nn.CrossEntropyLoss(), train_loader, val_loader, 5, "digits.pt"):
        print(row)
