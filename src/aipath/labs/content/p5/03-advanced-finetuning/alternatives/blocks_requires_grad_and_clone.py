# right: module-level requires_grad_ on blocks, reversed-layer loop for LLRD, unfreeze only at stage boundaries, stopper keeps cloned tensors and counts by index distance, islice-based early stopping, itemgetter dict comprehension in compare
from __future__ import annotations

from collections.abc import Callable
from itertools import islice

import torch
from reviews import Classifier, Split, accuracy, batches
from torch import nn

# ----- task 1: layer-wise learning-rate decay ----------------------------------------------------


def llrd_optimizer(
    model: Classifier, base_lr: float, decay: float, weight_decay: float = 0.01
) -> torch.optim.AdamW:
    blocks = [model.head, *reversed(list(model.encoder.encoder.layer)), model.encoder.embeddings]
    groups = []
    lr = base_lr
    for block in blocks:
        trainable = list(filter(lambda p: p.requires_grad, block.parameters()))
        if trainable:
            groups.append({"params": trainable, "lr": lr, "weight_decay": weight_decay})
        lr *= decay
    return torch.optim.AdamW(groups)


# ----- task 2: gradual unfreezing ----------------------------------------------------------------


def unfreeze_top(model: Classifier, k: int) -> None:
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    layers = list(model.encoder.encoder.layer)
    for depth, layer in enumerate(reversed(layers), start=1):
        if depth <= k:
            layer.requires_grad_(True)
    model.encoder.embeddings.requires_grad_(k >= 7)


def fine_tune(
    model: nn.Module,
    train: Split,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    stage_steps: int | None = None,
) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses: list[float] = []
    model.train()
    step = 0
    for batch in batches(train, batch_size, steps, seed):
        if stage_steps is not None and step % stage_steps == 0:
            unfreeze_top(model, step // stage_steps)
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(batch.input_ids, batch.attention_mask), batch.labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach().item())
        step += 1
    return losses


# ----- task 3: early stopping --------------------------------------------------------------------


class EarlyStopping:
    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_score = float("-inf")
        self.best_index = -1
        self._n = 0
        self._weights: dict[str, torch.Tensor] = {}

    def update(self, score: float, model: nn.Module) -> bool:
        n = self._n
        self._n += 1
        if self.best_index < 0 or score > self.best_score + self.min_delta:
            self.best_score, self.best_index = score, n
            self._weights = {k: t.detach().clone() for k, t in model.state_dict().items()}
        return n - self.best_index >= self.patience

    def restore(self, model: nn.Module) -> None:
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                tensor.copy_(self._weights[name])


def train_early_stopping(
    model: nn.Module,
    train: Split,
    val: Split,
    test: Split,
    *,
    max_steps: int,
    eval_every: int,
    patience: int,
    min_delta: float = 0.0,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    stopper = EarlyStopping(patience, min_delta)
    stream = batches(train, batch_size, max_steps, seed)
    history: list[float] = []
    done = 0
    while done < max_steps:
        chunk = list(islice(stream, eval_every))
        model.train()
        for batch in chunk:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(
                model(batch.input_ids, batch.attention_mask), batch.labels
            ).backward()
            optimizer.step()
        done += len(chunk)
        if len(chunk) < eval_every:
            break
        history.append(accuracy(model, val))
        if stopper.update(history[-1], model):
            break
    stopper.restore(model)
    return {
        "history": history,
        "best_index": stopper.best_index,
        "steps": done,
        "val_accuracy": stopper.best_score,
        "test_accuracy": accuracy(model, test),
    }


# ----- task 4: the same budget, three ways -------------------------------------------------------


def prepare(model: Classifier, method: str, r: int = 4) -> Classifier:
    if method not in ("head", "lora", "full"):
        raise ValueError(method)
    if method == "full":
        model.requires_grad_(True)
        return model
    if method == "head":
        model.encoder.requires_grad_(False)
        model.head.requires_grad_(True)
        return model
    import peft

    cfg = peft.LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules=["query", "value"])
    peft.inject_adapter_in_model(cfg, model.encoder)
    model.head.requires_grad_(True)
    return model


def count_trainable(model: nn.Module) -> int:
    total = 0
    for p in model.parameters():
        if p.requires_grad:
            total += int(torch.tensor(p.shape).prod()) if p.dim() else 1
    return total


def compare_methods(
    make_model: Callable[[], Classifier],
    train: Split,
    val: Split,
    *,
    steps: int,
    batch_size: int,
    lrs: dict[str, float],
    seed: int = 0,
    r: int = 4,
) -> dict[str, dict]:
    def run(method: str) -> dict:
        model = make_model()
        model = prepare(model, method, r)
        fine_tune(model, train, steps=steps, batch_size=batch_size, lr=lrs[method], seed=seed)
        return {"model": model, "trainable": count_trainable(model), "val_accuracy": accuracy(model, val)}

    return {method: run(method) for method in ["head", "lora", "full"]}
