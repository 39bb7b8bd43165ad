"""Alternative: torch.autograd.grad instead of .grad, a Dataset that converts item by item,
explicit samplers, evaluation on the concatenated logits under inference_mode, and a checkpoint
that carries the random generator's state instead of reseeding every epoch."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler


def linear_classifier_gradients(X, y, W, b):
    W = W.detach().requires_grad_()  # detach() makes a new leaf sharing memory; nothing is written
    b = b.detach().requires_grad_()
    logits = torch.matmul(X, W) + b.unsqueeze(0)
    loss = F.nll_loss(F.log_softmax(logits, dim=1), y)
    dW, db = torch.autograd.grad(loss, (W, b))
    return float(loss), dW, db


class DigitsDataset(Dataset):
    def __init__(self, X, y):
        self.X = np.asarray(X, dtype=np.float32)
        self.y = np.asarray(y).astype(np.int64)

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, index):
        return torch.from_numpy(self.X[index] / np.float32(16)), int(self.y[index])


def make_loaders(train_set, val_set, batch_size=64):
    return (
        DataLoader(train_set, batch_size=batch_size, sampler=RandomSampler(train_set)),
        DataLoader(val_set, batch_size=batch_size, sampler=SequentialSampler(val_set)),
    )


def train_one_epoch(model, loader, optimizer, loss_fn):
    model.train(True)
    batch_losses, sizes = [], []
    for inputs, targets in loader:
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)  # after the step: the next batch starts clean
        batch_losses.append(loss.detach())
        sizes.append(targets.numel())
    weights = torch.tensor(sizes, dtype=torch.float32)
    return float((torch.stack(batch_losses) * weights).sum() / weights.sum())


def evaluate(model, loader, loss_fn):
    model.train(False)
    with torch.inference_mode():
        outputs = [(model(inputs), targets) for inputs, targets in loader]
    logits = torch.cat([o for o, _ in outputs])
    targets = torch.cat([t for _, t in outputs])
    return {
        "loss": loss_fn(logits, targets).item(),
        "accuracy": (logits.argmax(1) == targets).float().mean().item(),
    }


def save_checkpoint(path, model, optimizer, epoch):
    torch.save(
        {
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "epochs_done": torch.tensor(epoch),
            "rng": torch.get_rng_state(),
        },
        path,
    )


def load_checkpoint(path, model, optimizer):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model_state_dict"])
    optimizer.load_state_dict(state["optimizer_state_dict"])
    torch.set_rng_state(state["rng"])
    return int(state["epochs_done"].item())


def fit(model, optimizer, loss_fn, train_loader, val_loader, num_epochs, checkpoint_path, seed=0):
    if os.path.exists(checkpoint_path):
        done = load_checkpoint(checkpoint_path, model, optimizer)
    else:
        done = 0
        torch.manual_seed(seed)  # the generator's state travels in the checkpoint from here on
    history = []
    while done < num_epochs:
        train_loss = train_one_epoch(model, train_loader, optimizer, loss_fn)
        scores = evaluate(model, val_loader, loss_fn)
        done += 1
        save_checkpoint(checkpoint_path, model, optimizer, done)
        history.append(
            dict(
                epoch=done,
                train_loss=train_loss,
                val_loss=scores["loss"],
                val_accuracy=scores["accuracy"],
            )
        )
    return history
