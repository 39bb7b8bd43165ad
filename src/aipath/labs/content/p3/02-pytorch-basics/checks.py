"""Checks for p3-pytorch-basics: autograd against closed-form gradients, the Dataset's dtypes, the
loaders' order, one epoch against a reference loop step for step, evaluation that leaves no graph
and no trace on the model, checkpoints read back with torch.load, and a resumed run against a
straight one.

How the model is run is observed, not guessed: a forward hook records, for every call of the
model, whether it was in training mode and whether autograd was recording. Every torch test is
seeded and single-threaded; the models are small (64 → 32 → 10 with batch norm and dropout), so
the whole check takes a few seconds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
import torch._dynamo  # the first optimizer imports it (~1.3 s): imported here, the warm worker pays it once
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

from aipath.checks import (
    ForwardCalls,
    assert_array,
    assert_close,
    assert_in_band,
    assert_reaches,
    assert_tensor,
    digits,
    fail,
    seed_everything,
)


# ----- data and models, built by the checks (the learner's Dataset is only used in task 2) ------
@functools.lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1,797 digits shuffled once: 1,280 for training (20 batches of 64), 517 to validate."""
    X, y = digits()
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order], y[order]
    return X[:1280], y[:1280], X[1280:], y[1280:]


def _tensors(part: str, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    X_train, y_train, X_val, y_val = _split()
    X, y = (X_train, y_train) if part == "train" else (X_val, y_val)
    if n is not None:
        X, y = X[:n], y[:n]
    return torch.tensor(X / 16.0, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def _dataset(part: str, n: int | None = None) -> TensorDataset:
    return TensorDataset(*_tensors(part, n))


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.25), nn.Linear(32, 10)
    )


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _flat(state: dict[str, torch.Tensor]) -> np.ndarray:
    """Every floating tensor of a state dict (weights and batch-norm statistics) in one vector."""
    parts = [v.detach().double().flatten() for v in state.values() if v.is_floating_point()]
    return torch.cat(parts).numpy()


def _ref_epoch(
    model, loader, optimizer, loss_fn, *, zero_grad: bool = True, sizes: list[int] | None = None
) -> list[float]:
    """The reference loop; returns each batch's (mean) loss (and appends each size to ``sizes``)."""
    model.train()
    losses = []
    for inputs, targets in loader:
        if zero_grad:
            optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if sizes is not None:
            sizes.append(len(targets))
    return losses


def _ref_evaluate(model, loader, loss_fn) -> tuple[float, float, float]:
    """(per-sample mean loss, accuracy, mean of the batch means), the model left as it was."""
    was_training = model.training
    model.eval()
    total, correct, count, means = 0.0, 0, 0, []
    with torch.no_grad():
        for inputs, targets in loader:
            logits = model(inputs)
            loss = loss_fn(logits, targets).item()
            means.append(loss)
            total += loss * len(targets)
            correct += int((logits.argmax(dim=1) == targets).sum())
            count += len(targets)
    model.train(was_training)
    return total / count, correct / count, float(np.mean(means))


def _float_value(value: Any, name: str, *, graph_clue: str = "") -> float:
    """A Python number; a tensor is named as such, with what it costs when it carries a graph."""
    if value is None:
        fail(f"{name} is None: did you forget to `return` it?")
    if isinstance(value, torch.Tensor):
        if value.requires_grad:
            fail(
                f"{name} is a torch.Tensor that requires grad, not a float: it is still attached "
                f"to the autograd graph{graph_clue}. Turn each loss into a float with `.item()` before adding it up"
            )
        fail(
            f"{name} is a torch.Tensor ({value!r}), not a Python float: `.item()` is missing "
            "(it turns a one-element tensor into a float; float(t) does the same)"
        )
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        fail(f"{name} should be a float; got {type(value).__name__} {value!r}")
    return float(value)


def _call_torch(what: str, func: Any, *args: Any) -> Any:
    """Call the learner; a shape or dtype clash in torch becomes a message naming the call."""
    try:
        return func(*args)
    except NotImplementedError:
        raise
    except RuntimeError as exc:
        text = str(exc).splitlines()[0][:300]
        fail(f"{what} raised RuntimeError: {text}")


# ----- task 1: tensors and autograd -------------------------------------------------------------
def _classifier_problem(seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(24, 5, generator=g)
    y = torch.randint(0, 3, (24,), generator=g)
    W = torch.randn(5, 3, generator=g)
    b = torch.randn(3, generator=g)
    return X, y, W, b


def _closed_form(X, y, W, b) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Cross-entropy of softmax(XW + b) and its gradient, (P − onehot(y)) / n, in float64."""
    X64 = X.double()
    logits = X64 @ W.double() + b.double()
    log_p = torch.log_softmax(logits, dim=1)
    n = len(y)
    loss = float(-log_p[torch.arange(n), y].mean())
    G = (log_p.exp() - F.one_hot(y, 3).double()) / n
    return loss, (X64.T @ G).float(), G.sum(dim=0).float()


def _autograd(X, y, W, b, loss_of) -> tuple[float, torch.Tensor, torch.Tensor]:
    W = W.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    loss = loss_of(X @ W + b, y)
    gW, gb = torch.autograd.grad(loss, [W, b])
    return loss.item(), gW, gb


def _classifier_mistakes(X, y, W, b) -> dict[str, dict[str, Any]]:
    """For each of (loss, dW, db): description → the value that mistake gives."""
    summed = functools.partial(
        _autograd, X, y, W, b, lambda z, t: F.cross_entropy(z, t, reduction="sum")
    )
    double = functools.partial(
        _autograd, X, y, W, b, lambda z, t: F.cross_entropy(torch.softmax(z, dim=1), t)
    )
    sum_text = "the summed loss (reduction='sum'): cross_entropy averages over the batch by default"
    soft_text = (
        "softmax applied before cross_entropy, which applies log-softmax itself: pass the raw "
        "logits X @ W + b"
    )
    return {
        what: {sum_text: (lambda i=i: summed()[i]), soft_text: (lambda i=i: double()[i])}
        for i, what in enumerate(("loss", "dW", "db"))
    }


def _check_gradients(
    result: Any, X, y, W, b, call: str, extra: dict[str, Any] | None = None
) -> None:
    if not isinstance(result, tuple) or len(result) != 3:
        fail(f"{call} should return a tuple (loss, dW, db); got {type(result).__name__}")
    loss, dW, db = result
    want_loss, want_dW, want_db = _closed_form(X, y, W, b)
    mistakes = _classifier_mistakes(X, y, W, b)
    mistakes["db"][
        "db divided by n twice (the mean of dZ's rows, but dZ already carries the 1/n): db is the "
        "sum of dZ's rows"
    ] = want_db / len(y)
    value = _float_value(loss, f"the loss returned by {call}")
    assert_close(value, want_loss, name=f"the loss of {call}", rtol=1e-5, mistakes=mistakes["loss"])
    for name, got, want, shape in (("dW", dW, want_dW, "(D, C)"), ("db", db, want_db, "(C,)")):
        if got is None:
            fail(
                f"{name} from {call} is None: backward() was not called, or the gradient was read "
                "from a tensor that is not a leaf (read .grad of the tensors you marked "
                "requires_grad)"
            )
        if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(want.shape):
            fail(
                f"{name} from {call} has shape {tuple(got.shape)}; expected {tuple(want.shape)}, "
                f"{shape}: the shape of the tensor it is the gradient of"
            )
        assert_tensor(
            got,
            want,
            name=f"{name} from {call}",
            rtol=1e-4,
            atol=1e-6,
            check_dtype=False,
            mistakes={**mistakes[name], **((extra or {}).get(name, {}))},
        )


@pytest.mark.task(1)
def test_gradients_match_the_closed_form(learner):
    seed_everything(0)
    for seed in (0, 1):
        X, y, W, b = _classifier_problem(seed)
        call = f"linear_classifier_gradients(X {tuple(X.shape)}, y, W {tuple(W.shape)}, b)"
        result = learner.linear_classifier_gradients(X.clone(), y.clone(), W.clone(), b.clone())
        _check_gradients(result, X, y, W, b, call)


@pytest.mark.task(1)
def test_gradients_do_not_accumulate_and_inputs_stay_untouched(learner):
    seed_everything(0)
    X, y, W, b = _classifier_problem(2)
    W_before, b_before = W.clone(), b.clone()
    learner.linear_classifier_gradients(X, y, W, b)
    second = learner.linear_classifier_gradients(X, y, W, b)
    _, want_dW, want_db = _closed_form(X, y, W_before, b_before)
    clue = (
        "the gradients of two calls added together (2 × the gradient): .grad accumulates over "
        "backward() calls on the same tensor. Compute on fresh leaves "
        "(W.detach().clone().requires_grad_()) or use torch.autograd.grad"
    )
    call = "linear_classifier_gradients called a second time with the same W and b"
    _check_gradients(
        second,
        X,
        y,
        W_before,
        b_before,
        call,
        {"dW": {clue: 2 * want_dW}, "db": {clue: 2 * want_db}},
    )
    for name, tensor, before in (("W", W, W_before), ("b", b, b_before)):
        if not torch.equal(tensor.detach(), before):
            fail(f"linear_classifier_gradients changed the values of the caller's {name}")
        if tensor.requires_grad or tensor.grad is not None:
            fail(
                f"linear_classifier_gradients changed the caller's {name}: it now "
                + ("requires grad" if tensor.requires_grad else "has a .grad")
                + ". Leave the inputs as they came: make fresh leaves with "
                "`W.detach().clone().requires_grad_(True)`"
            )


# ----- task 2: Dataset and DataLoader -----------------------------------------------------------
@pytest.mark.task(2)
def test_digits_dataset(learner):
    seed_everything(0)
    X, y = digits()
    X, y = X[:50], y[:50]
    data = learner.DigitsDataset(X.copy(), y.copy())
    if not isinstance(data, Dataset) and not hasattr(data, "__getitem__"):
        fail(f"DigitsDataset(X, y) should be a torch Dataset; got {type(data).__name__}")
    if len(data) != 50:
        fail(f"len(DigitsDataset(X, y)) is {len(data)} for 50 images; expected 50")
    item = data[7]
    if not isinstance(item, tuple | list) or len(item) != 2:
        fail(f"DigitsDataset[7] should be a pair (features, label); got {type(item).__name__}")
    index = [0, 7, 13, 49]
    features, labels = default_collate([data[i] for i in index])
    name = "a batch of DigitsDataset items (as the DataLoader stacks them)"
    if not isinstance(features, torch.Tensor) or not isinstance(labels, torch.Tensor):
        fail(f"{name} is not a pair of tensors: return tensors (or NumPy arrays) from __getitem__")
    if features.dtype != torch.float32:
        fail(
            f"the features of {name} have dtype {features.dtype}; expected torch.float32: a "
            "Linear layer's weights are float32, and a float64 batch fails with "
            "'mat1 and mat2 must have the same dtype'"
        )
    if tuple(features.shape) != (4, 64):
        fail(
            f"the features of {name} of 4 items have shape {tuple(features.shape)}; expected (4, 64)"
        )
    assert_array(
        features.numpy(),
        (X[index] / 16.0).astype(np.float32),
        name=f"the features of DigitsDataset[{index}]",
        rtol=1e-6,
        atol=1e-7,
        mistakes={
            "the raw pixel values 0–16: divide them by 16 so they lie in [0, 1]": X[index],
            "the pixels divided by 255, the top of an 8-bit image's scale: these digits go from "
            "0 to 16, divide by 16": X[index] / 255.0,
        },
    )
    if labels.dtype != torch.int64:
        effect = (
            "a float label vector is read as class probabilities and fails with a shape error"
            if labels.dtype.is_floating_point
            else f"given {labels.dtype} it fails with 'expected target dtype to be Long'"
        )
        fail(
            f"the labels of {name} have dtype {labels.dtype}; cross_entropy needs class indices "
            f"as int64 (torch.long): {effect}"
        )
    if tuple(labels.shape) != (4,):
        fail(
            f"the labels of {name} of 4 items have shape {tuple(labels.shape)}; expected (4,): "
            "each item's label should be a single number (a 0-dim tensor or an int)"
        )
    assert_array(labels.numpy(), y[index], name=f"the labels of DigitsDataset[{index}]", exact=True)
    # Images whose brightest pixel is 8, not 16: the scale is the sensor's (16), not the data's.
    dim = np.floor(X[:5] / 2.0)
    dim_data = learner.DigitsDataset(dim.copy(), y[:5].copy())
    dim_features = default_collate([dim_data[i] for i in range(5)])[0]
    assert_array(
        np.asarray(dim_features, dtype=np.float64),
        dim / 16.0,
        name="DigitsDataset(X // 2, y) features",
        rtol=1e-6,
        atol=1e-7,
        mistakes={
            "the pixels divided by the data's own maximum (X / X.max()): divide by 16, the top of "
            "the 0–16 scale, so that the same pixel gives the same feature in every dataset": (
                dim / dim.max()
            ),
            "each image divided by its own brightest pixel: divide every pixel by 16, the top of "
            "the 0–16 scale": dim / dim.max(axis=1, keepdims=True),
        },
    )


class IndexSet(Dataset):
    """Item i is (tensor([i.0]), i), so the order a loader visits is readable from its batches."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(index)]), int(index)


def _visit(loader: Any, name: str, batch_size: int) -> list[int]:
    order, sizes = [], []
    for batch in loader:
        _, labels = batch
        order.extend(int(i) for i in labels)
        sizes.append(len(labels))
    if not sizes:
        fail(f"{name} yielded no batches")
    if max(sizes) > batch_size or (len(sizes) > 1 and sizes[0] != batch_size):
        fail(f"{name} yielded batches of sizes {sizes[:6]}…; expected batch_size={batch_size}")
    return order


@pytest.mark.task(2)
def test_make_loaders(learner):
    seed_everything(0)
    train_set, val_set = IndexSet(100), IndexSet(70)
    result = learner.make_loaders(train_set, val_set, 16)
    if not isinstance(result, tuple) or len(result) != 2:
        fail(f"make_loaders should return (train_loader, val_loader); got {type(result).__name__}")
    train_loader, val_loader = result
    if getattr(train_loader, "dataset", None) is val_set:
        fail(
            "the first loader make_loaders returned reads val_set: return (train_loader, "
            "val_loader) in that order, the training loader over train_set"
            + (
                " — the two are swapped"
                if getattr(val_loader, "dataset", None) is train_set
                else ""
            )
        )
    first = _visit(train_loader, "the training loader", 16)
    second = _visit(train_loader, "the training loader", 16)
    if len(set(first)) != len(first) or len(first) < 100 - 15:
        fail(
            f"one pass over the training loader visited {len(first)} items ({len(set(first))} "
            "different) of a 100-item dataset; expected each item once"
        )
    if first == sorted(first) and second == first:
        fail(
            "the training loader does not shuffle: it visits items 0, 1, 2, … in the same order "
            "every epoch, so each batch holds neighbouring samples (often of one class) — pass "
            "shuffle=True"
        )
    if second == first:
        fail("the training loader visits the items in the same order every epoch: shuffle=True")
    seen = _visit(val_loader, "the validation loader", 16)
    if sorted(seen) != list(range(70)):
        missing = 70 - len(set(seen))
        clue = " (drop_last=True drops the last, incomplete batch)" if missing else ""
        fail(
            f"one pass over the validation loader visited {len(seen)} items, {len(set(seen))} "
            f"different, of a 70-item dataset{clue}: an evaluation must see every sample once"
        )


# ----- task 3: one training epoch ---------------------------------------------------------------
_RUNNING_LOSS = (
    " — a running loss kept as a tensor (`total += loss`) holds the graph of every batch until "
    "the end of the epoch, so memory grows with each step"
)


class _Sentinel:
    """Lives exactly as long as the autograd node it is hooked to."""


class GraphWatch(nn.Module):
    """A loss that notes, at each call, how many graphs of batches two or more back are alive.

    A hook on each loss's grad_fn holds a sentinel; the sentinel dies with the node, i.e. when
    nothing references that batch's graph any more. The previous batch's loss may still be bound
    to the learner's `loss` variable when the next one is computed, so only older ones count.
    """

    def __init__(self, loss_fn: nn.Module) -> None:
        super().__init__()
        self.loss_fn = loss_fn
        self.sentinels: list[Any] = []
        self.alive: list[int] = []

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        import weakref

        self.alive.append(sum(1 for ref in self.sentinels[:-1] if ref() is not None))
        loss = self.loss_fn(logits, targets)
        if loss.grad_fn is not None:
            sentinel = _Sentinel()
            loss.grad_fn.register_hook(lambda *_, s=sentinel: None)
            self.sentinels.append(weakref.ref(sentinel))
        return loss


@pytest.mark.task(3)
def test_train_one_epoch_follows_the_loop(learner):
    seed_everything(0)
    data = _dataset("train", 300)
    loader = DataLoader(data, batch_size=32, shuffle=True)  # 9 batches of 32 and one of 12
    loss_fn = nn.CrossEntropyLoss()
    watch = GraphWatch(loss_fn)

    def setup() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = _model(1)
        model.eval()  # as evaluate() leaves it
        return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    model, optimizer = setup()
    weights_before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(7)
    with ForwardCalls(model) as log:
        got = _call_torch(
            "train_one_epoch", learner.train_one_epoch, model, loader, optimizer, watch
        )
    in_eval = sum(not c.training for c in log.calls)
    if in_eval:
        fail(
            f"train_one_epoch ran the model in eval mode ({in_eval} of "
            f"{len(log.calls)} batches): the model came in as evaluate() leaves it — call "
            "model.train() at the start of the epoch, or dropout stays off and batch norm keeps "
            "its running statistics frozen"
        )
    if sum(not c.grad_enabled for c in log.calls):
        fail("train_one_epoch ran the model with autograd off (under no_grad): nothing can learn")
    value = _float_value(got, "the value train_one_epoch returned", graph_clue=_RUNNING_LOSS)
    if watch.alive and max(watch.alive) > 0:
        step = int(np.argmax(watch.alive))
        fail(
            f"train_one_epoch keeps the autograd graphs of earlier batches alive: when batch "
            f"{step + 1} was computed, {watch.alive[step]} of the {step - 1} batches before the "
            "previous one were still referenced. A running loss kept as a tensor (`total += loss` "
            "or `total = total + loss * len(targets)`, or a list of loss tensors) holds the graph "
            "of every batch until the end of the epoch, so memory grows with each step — add up "
            "`loss.item() * len(targets)`, a Python float"
        )
    after = _flat(_state(model))
    if all(
        torch.equal(w, p.detach()) for w, p in zip(weights_before, model.parameters(), strict=True)
    ):
        fail(
            "train_one_epoch did not change the weights: call optimizer.step() after "
            "loss.backward() (and optimizer.zero_grad() before backward, not between backward "
            "and step)"
        )

    sizes: list[int] = []

    def reference(zero_grad: bool) -> tuple[np.ndarray, list[float]]:
        ref_model, ref_optimizer = setup()
        torch.manual_seed(7)
        sizes.clear()
        losses = _ref_epoch(
            ref_model, loader, ref_optimizer, loss_fn, zero_grad=zero_grad, sizes=sizes
        )
        return _flat(_state(ref_model)), losses

    want, losses = reference(True)
    n = np.asarray(sizes, dtype=np.float64)
    per_batch = np.asarray(losses, dtype=np.float64)
    assert_array(
        after,
        want,
        name="the weights and batch-norm statistics after train_one_epoch (10 SGD steps)",
        rtol=1e-4,
        atol=1e-6,
        mistakes={
            "gradients accumulating across steps: optimizer.zero_grad() is never called, so each "
            "backward() adds this batch's gradient to those of all the batches before": (
                lambda: reference(False)[0]
            ),
        },
    )
    assert_close(
        value,
        float((per_batch * n).sum() / n.sum()),
        name=f"the mean training loss train_one_epoch returned (batches of {int(n[0])}, the last "
        f"of {int(n[-1])})",
        rtol=1e-5,
        mistakes={
            "the loss of the last batch only": losses[-1],
            f"the mean of the batch means: the last batch holds {int(n[-1])} samples, not "
            f"{int(n[0])}, so weight each batch's mean loss by its size "
            "(loss.item() * len(targets)) and divide by the number of samples": float(
                per_batch.mean()
            ),
            f"each batch weighted by the loader's batch_size ({int(n[0])}), but the last batch "
            f"holds {int(n[-1])}: weight by the batch's own size, len(targets)": float(
                (per_batch * n[0]).sum() / n.sum()
            ),
            "the sum of the batch losses, not their mean": float(per_batch.sum()),
            "the sum of the per-sample losses, not their mean": float((per_batch * n).sum()),
        },
    )


@pytest.mark.task(3)
def test_training_reduces_the_loss(learner):
    seed_everything(0)
    loader = DataLoader(_dataset("train"), batch_size=64, shuffle=True)
    val_loader = DataLoader(_dataset("val"), batch_size=128)
    loss_fn = nn.CrossEntropyLoss()
    model = _model(2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    start = _ref_evaluate(model, val_loader, loss_fn)[0]
    losses = []
    for epoch in range(6):
        torch.manual_seed(epoch)
        got = learner.train_one_epoch(model, loader, optimizer, loss_fn)
        losses.append(
            _float_value(got, "the value train_one_epoch returned", graph_clue=_RUNNING_LOSS)
        )
    assert_reaches(
        losses,
        0.35,
        name=f"the mean training loss (untrained: {start:.3g})",
        within=6,
        unit="epochs of 20 steps",
    )
    _, accuracy, _ = _ref_evaluate(model, val_loader, loss_fn)
    assert_in_band(accuracy, 0.9, 1.0, name="validation accuracy after 6 epochs of train_one_epoch")


# ----- task 4: evaluation -----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _trained_state() -> dict[str, torch.Tensor]:
    """A model after one reference epoch: real batch-norm statistics, ~90 % accuracy."""
    seed_everything(0)
    model = _model(3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _ref_epoch(
        model,
        DataLoader(_dataset("train"), batch_size=64, shuffle=True),
        optimizer,
        nn.CrossEntropyLoss(),
    )
    return _state(model)


def _trained_model() -> nn.Module:
    model = _model(3)
    model.load_state_dict(_trained_state())
    model.train()  # as train_one_epoch leaves it
    return model


def _eval_result(got: Any) -> tuple[float, float]:
    if not isinstance(got, dict) or not {"loss", "accuracy"} <= set(got):
        fail(
            'evaluate should return a dict {"loss": float, "accuracy": float}; got '
            + (f"keys {sorted(got)}" if isinstance(got, dict) else type(got).__name__)
        )
    graph = " (it holds a graph: the forward pass ran with gradient tracking on)"
    loss = _float_value(got["loss"], 'evaluate(...)["loss"]', graph_clue=graph)
    accuracy = _float_value(got["accuracy"], 'evaluate(...)["accuracy"]', graph_clue=graph)
    return loss, accuracy


def _training_mode_message(calls: int, total: int, changed: float | None) -> str:
    stats = f" — the batch-norm running statistics moved by up to {changed:.3g}" if changed else ""
    return (
        f"evaluate ran the model in training mode ({calls} of {total} batches){stats}: in "
        "training mode dropout drops activations at random and batch norm normalizes with each "
        "batch's statistics and updates its running statistics. Call model.eval() before the "
        "loop"
    )


def _max_change(before: dict[str, torch.Tensor], model: nn.Module) -> float:
    after = model.state_dict()
    return max(
        float((after[k].double() - v.double()).abs().max())
        for k, v in before.items()
        if v.is_floating_point()
    )


@pytest.mark.task(4)
def test_evaluate_matches_a_reference(learner):
    seed_everything(0)
    loader = DataLoader(_dataset("val"), batch_size=64)  # 8 batches of 64 and one of 5
    loss_fn = nn.CrossEntropyLoss()
    model = _trained_model()
    before = _state(model)
    want_loss, want_accuracy, mean_of_means = _ref_evaluate(_trained_model(), loader, loss_fn)
    with ForwardCalls(model) as log:
        got = _call_torch("evaluate", learner.evaluate, model, loader, loss_fn)
    tracked = sum(c.grad_enabled or c.output_requires_grad for c in log.calls)
    if tracked:
        fail(
            f"evaluate ran the model with gradient tracking on ({tracked} "
            f"of {len(log.calls)} batches): each batch built an autograd graph that nothing uses "
            "(memory and time wasted, and the outputs still require grad) — wrap the loop in "
            "`with torch.no_grad():` (or torch.inference_mode())"
        )
    if sum(c.training for c in log.calls):
        fail(
            _training_mode_message(
                sum(c.training for c in log.calls), len(log.calls), _max_change(before, model)
            )
        )
    loss, accuracy = _eval_result(got)
    assert_close(
        loss,
        want_loss,
        name="evaluate(...)['loss'] on 517 validation digits",
        rtol=1e-5,
        mistakes={
            "the mean of the batch means: the last batch holds 5 samples, not 64, so weight each "
            "batch's loss by its size (loss.item() * len(targets)) and divide by the number of "
            "samples": mean_of_means,
            "each batch weighted by the loader's batch_size (64), but the last batch holds 5: "
            "weight by the batch's own size, len(targets)": mean_of_means * len(loader) * 64 / 517,
        },
    )
    assert_close(
        accuracy,
        want_accuracy,
        name="evaluate(...)['accuracy'] on 517 validation digits",
        rtol=1e-6,  # a float32 mean of the hits is as right as hits / n
        mistakes={
            "the number of correct predictions: divide by the number of samples": want_accuracy
            * 517,
            "the accuracy in percent: return a fraction in [0, 1]": want_accuracy * 100,
        },
    )


@pytest.mark.task(4)
def test_evaluate_leaves_the_model_alone(learner):
    seed_everything(0)
    loader = DataLoader(_dataset("val", 256), batch_size=64)
    loss_fn = nn.CrossEntropyLoss()
    model = _trained_model()
    before = _state(model)
    with ForwardCalls(model) as log:
        first = _eval_result(_call_torch("evaluate", learner.evaluate, model, loader, loss_fn))
        second = _eval_result(_call_torch("evaluate", learner.evaluate, model, loader, loss_fn))
    changed = _max_change(before, model)
    if sum(c.training for c in log.calls):
        message = _training_mode_message(
            sum(c.training for c in log.calls), len(log.calls), changed
        )
        if first != second:
            message += (
                f". Two evaluations of the same model gave losses {first[0]:.6g} and "
                f"{second[0]:.6g}"
            )
        fail(message)
    if changed > 0:
        fail(
            f"evaluate changed the model's weights or statistics (by up to {changed:.3g}): an "
            "evaluation only reads the model — no optimizer step, no training-mode forward pass"
        )
    if not (math.isclose(first[0], second[0], rel_tol=1e-9) and first[1] == second[1]):
        fail(
            f"two evaluations of the same model gave {first} and {second}: an evaluation must "
            "not depend on chance — is dropout still active?"
        )


# ----- task 5: checkpoints ----------------------------------------------------------------------
def _adam_model(seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = _model(seed)
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def _trained_pair() -> tuple[nn.Module, torch.optim.Optimizer]:
    """A model and an Adam optimizer after 5 steps: both have state worth saving."""
    model, optimizer = _adam_model(4)
    loader = DataLoader(_dataset("train", 320), batch_size=64, shuffle=True)
    _ref_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
    return model, optimizer


def _same_tensors(a: Any, b: Any) -> bool:
    """Deep equality of nested dicts/lists of tensors and plain values."""
    if isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and a.shape == b.shape
            and torch.equal(a.detach(), b.detach())
        )
    if isinstance(b, dict):
        return (
            isinstance(a, dict) and set(a) == set(b) and all(_same_tensors(a[k], b[k]) for k in b)
        )
    if isinstance(b, list | tuple):
        return (
            isinstance(a, list | tuple)
            and len(a) == len(b)
            and all(_same_tensors(x, z) for x, z in zip(a, b, strict=True))
        )
    return a == b


def _is_optimizer_state(value: Any) -> bool:
    return isinstance(value, dict) and "state" in value and "param_groups" in value


def _is_model_state(value: Any, model: nn.Module | None) -> bool:
    return model is not None and isinstance(value, dict) and set(value) == set(model.state_dict())


def _walk(value: Any, model: nn.Module | None = None) -> Iterator[Any]:
    """Every value inside a checkpoint, not descending into model or optimizer state dicts."""
    yield value
    if _is_optimizer_state(value) or _is_model_state(value, model):
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, model)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item, model)


def _read_checkpoint(path: Any, who: str) -> Any:
    if not path.exists():
        fail(f"{who} wrote nothing at the path it was given ({path.name})")
    try:
        return torch.load(path, weights_only=True)
    except Exception as exc:
        try:
            content = torch.load(path, weights_only=False)
        except Exception:
            fail(f"torch.load cannot read the file {who} wrote: {str(exc)[:200]}")
        objects = (nn.Module, torch.optim.Optimizer)
        found = sorted({type(v).__name__ for v in _walk(content) if isinstance(v, objects)})
        fail(
            f"the checkpoint {who} wrote holds pickled Python objects ({', '.join(found) or type(content).__name__}), "
            "not only tensors and numbers: torch.load refuses it by default (weights_only=True), "
            "and it breaks as soon as the class's code changes. Save model.state_dict() and "
            "optimizer.state_dict(), not the objects"
        )


def _contents(content: Any, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    values = list(_walk(content, model))
    return {
        "model": [v for v in values if _is_model_state(v, model)],
        "optimizer": [v for v in values if _is_optimizer_state(v)],
        "ints": [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        + [
            int(v)
            for v in values
            if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_floating_point()
        ],
    }


_NO_OPTIMIZER = (
    "the checkpoint holds no optimizer.state_dict(): the optimizer's own state (Adam's running "
    "averages of the gradients and their squares, SGD's momentum buffers, the step count) is lost, "
    "so a resumed run restarts the optimizer cold and no longer follows the run it continues — "
    "save optimizer.state_dict() next to the model's"
)


@pytest.mark.task(5)
def test_checkpoint_holds_model_optimizer_and_epoch(learner, tmp_path):
    seed_everything(0)
    model, optimizer = _trained_pair()
    path = tmp_path / "checkpoint.pt"
    _call_torch("save_checkpoint", learner.save_checkpoint, path, model, optimizer, 3)
    content = _read_checkpoint(path, "save_checkpoint")
    found = _contents(content, model, optimizer)
    if not found["model"]:
        keys = set(model.state_dict())
        partial = [v for v in _walk(content, model) if isinstance(v, dict) and v and set(v) < keys]
        if partial:
            lacking = [k for k in model.state_dict() if k not in partial[0]]
            buffers = {name for name, _ in model.named_buffers()}
            only_buffers = set(lacking) <= buffers
            fail(
                "the checkpoint holds "
                + ("the parameters but not the buffers" if only_buffers else "only some entries")
                + f" of model.state_dict(): it lacks {lacking[:4]}{'…' if len(lacking) > 4 else ''}"
                + (
                    " — batch norm's running statistics are buffers, not parameters, so "
                    "named_parameters() / parameters() miss them"
                    if only_buffers
                    else ""
                )
                + ". Save model.state_dict(), which holds weights and buffers together"
            )
        fail(
            "the checkpoint holds no model.state_dict() (a dict with the keys "
            f"{list(model.state_dict())[:3]}…): save the model's state dict, weights and "
            "batch-norm statistics together"
        )
    if not any(_same_tensors(v, model.state_dict()) for v in found["model"]):
        fail("the model state dict in the checkpoint differs from model.state_dict() at save time")
    if not found["optimizer"]:
        fail(_NO_OPTIMIZER)
    if not any(_same_tensors(v, optimizer.state_dict()) for v in found["optimizer"]):
        fail("the optimizer state dict in the checkpoint differs from optimizer.state_dict()")
    if 3 not in found["ints"]:
        fail(
            "the checkpoint does not record the epoch it was given (save_checkpoint(..., epoch=3)): "
            "without it a resumed run does not know where to start"
        )


@pytest.mark.task(5)
def test_load_checkpoint_restores_fresh_objects(learner, tmp_path):
    seed_everything(0)
    model, optimizer = _trained_pair()
    path = tmp_path / "checkpoint.pt"
    _call_torch("save_checkpoint", learner.save_checkpoint, path, model, optimizer, 3)
    saved = _contents(_read_checkpoint(path, "save_checkpoint"), model, optimizer)
    fresh_model, fresh_optimizer = _adam_model(99)
    epoch = _call_torch(
        "load_checkpoint", learner.load_checkpoint, path, fresh_model, fresh_optimizer
    )
    if epoch is None:
        fail("load_checkpoint returned None: return the epoch stored in the checkpoint")
    if isinstance(epoch, torch.Tensor | bool) or not isinstance(epoch, int | np.integer):
        fail(
            f"load_checkpoint should return the epoch as an int; got {type(epoch).__name__} {repr(epoch)[:60]}"
        )
    if int(epoch) != 3:
        fail(f"load_checkpoint returned epoch {epoch}; the checkpoint was saved with epoch=3")
    for key, want in model.state_dict().items():
        if not torch.equal(fresh_model.state_dict()[key], want):
            fail(
                f"after load_checkpoint the model's {key!r} differs from the saved one: load into "
                "the model you are given with model.load_state_dict(...) (rebinding the name "
                "`model` inside the function changes nothing for the caller)"
            )
    if not fresh_optimizer.state_dict()["state"]:
        fail(
            _NO_OPTIMIZER
            if not saved["optimizer"]
            else "load_checkpoint did not load the optimizer's state (the fresh Adam optimizer still "
            "has none): call optimizer.load_state_dict(checkpoint[...]) as well"
        )
    if not _same_tensors(fresh_optimizer.state_dict(), optimizer.state_dict()):
        fail("after load_checkpoint the optimizer's state differs from the saved one")


# ----- task 6: resumable training ---------------------------------------------------------------
class RecordingSet(Dataset):
    """A dataset that writes down which items are read, in order."""

    def __init__(self, data: TensorDataset) -> None:
        self.data = data
        self.visits: list[int] = []

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.visits.append(int(index))
        return self.data[index]


_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy")


def _epoch_records(got: Any, epochs: list[int], call: str) -> list[dict[str, float]]:
    if got is None:
        fail(f"{call} returned None: return the list of per-epoch records")
    if not isinstance(got, list) or not all(isinstance(row, dict) for row in got):
        fail(f"{call} should return a list of dicts; got {type(got).__name__}")
    rows = []
    for row in got:
        missing = [k for k in _KEYS if k not in row]
        if missing:
            fail(f"a record returned by {call} lacks {missing}; expected the keys {list(_KEYS)}")
        rows.append(
            {
                k: _float_value(row[k], f"{call}: record[{k!r}]", graph_clue=_RUNNING_LOSS)
                for k in _KEYS
            }
        )
    numbers = [int(r["epoch"]) for r in rows]
    if len(rows) == len(epochs) and numbers != epochs:
        fail(f"{call} returned records for epochs {numbers}; expected {epochs} (counting from 1)")
    return rows


@pytest.mark.task(6)
def test_fit_trains_and_checkpoints(learner, tmp_path, monkeypatch):
    seed_everything(0)
    saves: list[str] = []
    snapshots: list[dict[str, torch.Tensor]] = []  # the model at each save
    real_save = torch.save

    def counting_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
        saves.append(str(f))
        snapshots.append(_state(model))
        return real_save(obj, f, *args, **kwargs)

    def before_last_epoch() -> tuple[float, float] | None:
        """(val loss, accuracy) of the model as it was saved after epoch 3, before epoch 4."""
        if len(snapshots) != 4:
            return None
        earlier = _model(5)
        earlier.load_state_dict(snapshots[2])
        return _ref_evaluate(earlier, val_loader, loss_fn)[:2]

    stale = "the model before the epoch's training: evaluate after train_one_epoch, not before"

    monkeypatch.setattr(torch, "save", counting_save)
    train_loader = DataLoader(_dataset("train"), batch_size=64, shuffle=True)
    val_loader = DataLoader(_dataset("val"), batch_size=128)
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer = _adam_model(5)
    path = tmp_path / "fit.pt"
    call = "fit(..., num_epochs=4) with no checkpoint yet"
    got = _call_torch(
        "fit", learner.fit, model, optimizer, loss_fn, train_loader, val_loader, 4, path, 0
    )
    rows = _epoch_records(got, [1, 2, 3, 4], call)
    if len(rows) != 4:
        fail(f"{call} returned {len(rows)} records; expected 4, one per epoch")
    assert_reaches(
        [r["train_loss"] for r in rows], 0.4, name=f"{call}: train_loss", within=4, unit="epochs"
    )
    val_loss, val_accuracy, _ = _ref_evaluate(model, val_loader, loss_fn)
    assert_close(
        rows[-1]["val_loss"],
        val_loss,
        name=f"{call}: the last record's val_loss (vs the final model evaluated on val_loader)",
        rtol=1e-5,
        mistakes={
            "the training loss: evaluate on val_loader after each epoch": rows[-1]["train_loss"],
            f"the validation loss of {stale}": lambda: (before_last_epoch() or (None,))[0],
        },
    )
    assert_close(
        rows[-1]["val_accuracy"],
        val_accuracy,
        name=f"{call}: the last record's val_accuracy (vs the final model on val_loader)",
        rtol=1e-6,
        mistakes={
            f"the validation accuracy of {stale}": lambda: (before_last_epoch() or (None, None))[1]
        },
    )
    assert_in_band(val_accuracy, 0.9, 1.0, name=f"{call}: the final val_accuracy")
    written = saves.count(str(path))
    if written < 4:
        fail(
            f"{call} saved the checkpoint {written} time(s) in 4 epochs: save it at the end of "
            "every epoch, so that a run killed in epoch k loses that epoch only"
        )
    content = _contents(_read_checkpoint(path, "fit"), model, optimizer)
    if 4 not in content["ints"]:
        fail(
            f"after {call} the checkpoint does not record 4 epochs (it holds the numbers "
            f"{sorted(set(content['ints']))[:6]}): save after each epoch with the number of epochs "
            "completed, epoch + 1"
        )


@pytest.mark.task(6)
def test_fit_resumes_exactly(learner, tmp_path):
    seed_everything(0)
    loss_fn = nn.CrossEntropyLoss()
    val_loader = DataLoader(_dataset("val", 128), batch_size=128)

    def run(
        seed: int, epochs: int, path: Any
    ) -> tuple[list[dict[str, float]], RecordingSet, nn.Module, torch.optim.Optimizer]:
        data = RecordingSet(_dataset("train", 512))
        loader = DataLoader(data, batch_size=64, shuffle=True)
        model, optimizer = _adam_model(seed)
        got = _call_torch(
            "fit", learner.fit, model, optimizer, loss_fn, loader, val_loader, epochs, path, 3
        )
        return got, data, model, optimizer

    straight_path, resumed_path = tmp_path / "straight.pt", tmp_path / "resumed.pt"
    got, straight_data, straight_model, _ = run(6, 4, straight_path)
    straight = _epoch_records(got, [1, 2, 3, 4], "fit(..., num_epochs=4)")
    got, _, _, _ = run(6, 2, resumed_path)
    _epoch_records(got, [1, 2], "fit(..., num_epochs=2)")
    torch.manual_seed(12345)  # a new process: the global random generator is somewhere else
    call = "fit(..., num_epochs=4) on fresh objects, given the checkpoint of the 2-epoch run"
    got, resumed_data, resumed_model, resumed_optimizer = run(7, 4, resumed_path)
    resumed = _epoch_records(got, [3, 4], call)
    if len(resumed) == 4:
        fail(
            f"{call} trained 4 epochs: it did not resume. When checkpoint_path exists, load it "
            "and start at the epoch it records"
        )
    if len(resumed) == 3:
        fail(
            f"{call} trained 3 epochs where 2 were left: an epoch was repeated — does the "
            "checkpoint record the number of epochs completed (epoch + 1), and does fit start the "
            "loop there?"
        )
    if len(resumed) != 2:
        fail(f"{call} returned {len(resumed)} records; expected 2 (epochs 3 and 4)")
    if not resumed_data.visits:
        fail(f"{call} never read the training data")
    n = len(resumed_data.data)
    straight_order = straight_data.visits[2 * n : 3 * n]
    resumed_order = resumed_data.visits[:n]
    if straight_order != resumed_order:
        restarted = (
            " Its epoch 3 was shuffled exactly like epoch 1 of the straight run: the seed restarts "
            "with each call of fit — seed with the epoch counted from the start of training, "
            "torch.manual_seed(seed + e) for e in range(start, num_epochs)."
            if resumed_order == straight_data.visits[:n]
            else ""
        )
        fail(
            f"{call} shuffled epoch 3 differently from the straight 4-epoch run (first items "
            f"{resumed_order[:5]} vs {straight_order[:5]}): the shuffle order and the dropout "
            "masks come from torch's global random generator, which a resumed process does not "
            "remember — call torch.manual_seed(seed + epoch) at the start of each epoch (or save "
            f"torch.get_rng_state() in the checkpoint and restore it).{restarted}"
        )
    saved = _contents(_read_checkpoint(resumed_path, "fit"), resumed_model, resumed_optimizer)
    for index, (a, b) in enumerate(zip(resumed, straight[2:], strict=True)):
        for key in ("train_loss", "val_loss"):
            if not math.isclose(a[key], b[key], rel_tol=1e-5, abs_tol=1e-7):
                prefix = f"{call}: epoch {3 + index}'s {key} is {a[key]:.6g}; the straight run's is {b[key]:.6g}"
                fail(
                    f"{prefix} — {_NO_OPTIMIZER}"
                    if not saved["optimizer"]
                    else f"{prefix}: the resumed run does not continue the straight one"
                )
    assert_array(
        _flat(_state(resumed_model)),
        _flat(_state(straight_model)),
        name="the weights after the resumed run (vs the straight 4-epoch run)",
        rtol=1e-5,
        atol=1e-7,
    )
