# expect: weighted by the loader's batch_size (64)
"""Mistake: evaluate weights each batch by loader.batch_size and divides by the dataset's size: the
last, smaller batch is over-weighted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


# ----- task 1: tensors and autograd -------------------------------------------------------------
def linear_classifier_gradients(
    X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor
) -> tuple[float, torch.Tensor, torch.Tensor]:
    W = (
        W.detach().clone().requires_grad_(True)
    )  # fresh leaves: the caller's tensors stay as they are
    b = b.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(X @ W + b, y)
    loss.backward()
    return loss.item(), W.grad, b.grad


# ----- task 2: Dataset and DataLoader -----------------------------------------------------------
class DigitsDataset(Dataset):
    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.features = torch.as_tensor(np.asarray(X) / 16.0, dtype=torch.float32)
        self.labels = torch.as_tensor(np.asarray(y), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[index], self.labels[index]


def make_loaders(
    train_set: Dataset, val_set: Dataset, batch_size: int = 64
) -> tuple[DataLoader, DataLoader]:
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=batch_size, shuffle=False)
    return train_loader, val_loader


# ----- task 3: one training epoch ---------------------------------------------------------------
def train_one_epoch(
    model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> float:
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
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            logits = model(inputs)
            total += loss_fn(logits, targets).item() * loader.batch_size
            correct += int((logits.argmax(dim=1) == targets).sum().item())
            count += len(targets)
    n = len(loader.dataset)
    return {"loss": total / n, "accuracy": correct / count}


# ----- task 5: checkpoints ----------------------------------------------------------------------
def save_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int
) -> None:
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, path
    )


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["epoch"])


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
    start = 0
    if Path(checkpoint_path).exists():
        start = load_checkpoint(checkpoint_path, model, optimizer)
    history = []
    for epoch in range(start, num_epochs):
        torch.manual_seed(seed + epoch)  # this epoch's shuffle and dropout, whatever ran before
        train_loss = train_one_epoch(model, train_loader, optimizer, loss_fn)
        metrics = evaluate(model, val_loader, loss_fn)
        save_checkpoint(checkpoint_path, model, optimizer, epoch + 1)
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": metrics["loss"],
                "val_accuracy": metrics["accuracy"],
            }
        )
    return history


if __name__ == "__main__":  # a quick run on the digits: python solution.py
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
    for row in fit(net, adam, nn.CrossEntropyLoss(), train_loader, val_loader, 5, "digits.pt"):
        print(row)
