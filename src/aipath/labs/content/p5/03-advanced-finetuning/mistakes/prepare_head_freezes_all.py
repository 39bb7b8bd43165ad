# expect: the head frozen too
"""p5-advanced-finetuning: layer-wise learning rates, gradual unfreezing, early stopping, and
full fine-tuning against LoRA and a head alone, on the same budget."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from peft import LoraConfig, inject_adapter_in_model
from reviews import Classifier, Split, accuracy, batches
from torch import nn

# ----- task 1: layer-wise learning-rate decay ----------------------------------------------------


def llrd_optimizer(
    model: Classifier, base_lr: float, decay: float, weight_decay: float = 0.01
) -> torch.optim.AdamW:
    layers = model.encoder.encoder.layer
    blocks = [(model.head, 0)]
    blocks += [(layer, len(layers) - i) for i, layer in enumerate(layers)]
    blocks.append((model.encoder.embeddings, len(layers) + 1))
    groups = []
    for module, depth in blocks:
        params = [p for p in module.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": base_lr * decay**depth})
    return torch.optim.AdamW(groups, lr=base_lr, weight_decay=weight_decay)


# ----- task 2: gradual unfreezing ----------------------------------------------------------------


def unfreeze_top(model: Classifier, k: int) -> None:
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    layers = model.encoder.encoder.layer
    for layer in layers[len(layers) - min(k, len(layers)) :]:
        layer.requires_grad_(True)
    if k > len(layers):
        model.encoder.embeddings.requires_grad_(True)


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
    # Every parameter: AdamW skips those without a gradient, so layers unfrozen later join in.
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for step, batch in enumerate(batches(train, batch_size, steps, seed)):
        if stage_steps is not None:
            unfreeze_top(model, step // stage_steps)
        model.train()
        loss = F.cross_entropy(model(batch.input_ids, batch.attention_mask), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# ----- task 3: early stopping --------------------------------------------------------------------


class EarlyStopping:
    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_score: float | None = None
        self.best_index: int | None = None
        self.count = 0
        self.bad = 0
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, score: float, model: nn.Module) -> bool:
        if self.best_score is None or score > self.best_score + self.min_delta:
            self.best_score, self.best_index, self.bad = score, self.count, 0
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.bad += 1
        self.count += 1
        return self.bad >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


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
    stopper = EarlyStopping(patience, min_delta)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    history: list[float] = []
    steps = 0
    for steps, batch in enumerate(batches(train, batch_size, max_steps, seed), start=1):
        model.train()
        loss = F.cross_entropy(model(batch.input_ids, batch.attention_mask), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if steps % eval_every == 0:
            history.append(accuracy(model, val))
            if stopper.update(history[-1], model):
                break
    stopper.restore(model)
    return {
        "history": history,
        "best_index": stopper.best_index,
        "steps": steps,
        "val_accuracy": stopper.best_score,
        "test_accuracy": accuracy(model, test),
    }


# ----- task 4: the same budget, three ways -------------------------------------------------------


def prepare(model: Classifier, method: str, r: int = 4) -> Classifier:
    if method == "head":
        model.requires_grad_(False)
    elif method == "lora":
        config = LoraConfig(
            r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules=["query", "value"]
        )
        model.encoder = inject_adapter_in_model(config, model.encoder)
        model.head.requires_grad_(True)
    elif method == "full":
        model.requires_grad_(True)
    else:
        raise ValueError(f"unknown method {method!r}: expected 'head', 'lora' or 'full'")
    return model


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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
    results = {}
    for method in ("head", "lora", "full"):
        model = prepare(make_model(), method, r)
        fine_tune(model, train, steps=steps, batch_size=batch_size, lr=lrs[method], seed=seed)
        results[method] = {
            "model": model,
            "trainable": count_trainable(model),
            "val_accuracy": accuracy(model, val),
        }
    return results
