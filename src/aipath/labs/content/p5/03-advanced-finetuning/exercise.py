"""p5-advanced-finetuning: layer-wise learning rates, gradual unfreezing, early stopping, and
full fine-tuning against LoRA and a head alone, on the same budget.

`reviews.py` (next to this file, read it first) gives you the data and the model:
load_reviews() → (train, val, test) Splits of tokenised food reviews (input_ids and
attention_mask (N, T), labels (N,) with 1 = a "great" review); minilm_parts() → (tokenizer,
encoder); make_classifier(encoder) → a Classifier (MiniLM + mean pooling + nn.Linear(384, 2)):
  model.encoder.embeddings          the embeddings        depth 7 from the top
  model.encoder.encoder.layer[0]    the bottom layer      depth 6
  ...
  model.encoder.encoder.layer[5]    the top layer         depth 1
  model.head                        the linear head       depth 0
batches(split, batch_size, steps, seed) yields the training batches; accuracy(model, split)
measures a split in eval mode.

    python -c "import reviews; tr, va, te = reviews.load_reviews(); print(len(tr), tr.input_ids.shape)"
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from reviews import Classifier, Split
from torch import nn

# ----- task 1: layer-wise learning-rate decay ----------------------------------------------------


def llrd_optimizer(
    model: Classifier, base_lr: float, decay: float, weight_decay: float = 0.01
) -> torch.optim.AdamW:
    """An AdamW with one parameter group per block, lr = base_lr * decay ** depth.

    depth counts from the top: the head 0, layer 5 → 1, …, layer 0 → 6, the embeddings 7.
    Only trainable parameters (requires_grad) go in, each in exactly one group; a block with no
    trainable parameter gets no group.

    >>> opt = llrd_optimizer(model, 1e-3, 0.5)          # every block trainable
    >>> [g["lr"] for g in opt.param_groups][:3]          # head, layer 5, layer 4
    [0.001, 0.0005, 0.00025]
    """
    raise NotImplementedError  # TODO


# ----- task 2: gradual unfreezing ----------------------------------------------------------------


def unfreeze_top(model: Classifier, k: int) -> None:
    """Make the head and the top ``k`` layers trainable and freeze everything else, in place.

    k = 0: the head alone; k = 1: the head and layer 5; … k = 6: every layer; k ≥ 7: the
    embeddings too (the whole model).
    """
    raise NotImplementedError  # TODO


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
    """Train ``model`` on ``steps`` batches of ``batches(train, batch_size, steps, seed)`` with
    AdamW(lr) and cross-entropy; return the loss of every step as floats.

    With ``stage_steps``, unfreeze gradually: steps 0 … stage_steps − 1 train with
    unfreeze_top(model, 0), the next stage_steps with unfreeze_top(model, 1), and so on.
    Without it, train whatever is trainable as it is. Frozen parameters must not change.
    """
    raise NotImplementedError  # TODO


# ----- task 3: early stopping --------------------------------------------------------------------


class EarlyStopping:
    """Watch a validation score (higher is better) and keep the best weights.

    update(score, model) is called after every evaluation and returns True when training should
    stop: ``patience`` evaluations in a row without an improvement. An improvement is a score
    above best_score + min_delta (the first score always is). After the calls,
    ``best_score`` is the best score, ``best_index`` the number of the update (from 0) that set
    it, and restore(model) puts that update's weights back into ``model``.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        raise NotImplementedError  # TODO

    def update(self, score: float, model: nn.Module) -> bool:
        raise NotImplementedError  # TODO

    def restore(self, model: nn.Module) -> None:
        raise NotImplementedError  # TODO


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
    """Train on ``batches(train, batch_size, max_steps, seed)`` with AdamW(lr); every
    ``eval_every`` steps measure accuracy(model, val) and feed it to an EarlyStopping; stop
    when it says so. Then restore the best weights and measure the test split, once.

    Returns {"history": [val accuracies], "best_index": int, "steps": steps trained,
    "val_accuracy": the best val accuracy, "test_accuracy": the restored model's on test}.
    """
    raise NotImplementedError  # TODO


# ----- task 4: the same budget, three ways -------------------------------------------------------


def prepare(model: Classifier, method: str, r: int = 4) -> Classifier:
    """Set what trains, for ``method``:
    "head": the head alone (the encoder frozen);
    "lora": LoRA adapters of rank r (lora_alpha = 2 * r, no dropout) on every layer's
            attention query and value, plus the head; the base weights frozen;
    "full": every parameter.
    Anything else: ValueError. Returns the model (LoRA may replace model.encoder).
    """
    raise NotImplementedError  # TODO


def count_trainable(model: nn.Module) -> int:
    """How many numbers (not tensors) an optimizer would train in ``model``."""
    raise NotImplementedError  # TODO


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
    """Fine-tune a fresh ``make_model()`` with each of "head", "lora", "full" on the same
    budget (steps, batch size, seed; the learning rate from ``lrs[method]``) and report

    {method: {"model": the trained model, "trainable": count_trainable(model),
              "val_accuracy": accuracy(model, val)}}.
    """
    raise NotImplementedError  # TODO
