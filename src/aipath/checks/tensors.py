"""Torch tensor comparisons whose messages name the dtype, device, shape and gradient state.

A wrong tensor is often wrong in kind before it is wrong in value: float64 where the layer is
float32, ``(B, T, H, D)`` where ``(B, H, T, D)`` was asked, a result still attached to the graph.
The values are then compared by :func:`aipath.checks.assert_array`, so ``mistakes=`` works here
exactly as it does for arrays (the wrong outputs may be tensors or arrays).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from aipath.checks.compare import Mistakes, _wrong_output, assert_array, mistake_table
from aipath.checks.failure import fail, none_message

__all__ = ["assert_tensor", "tensor_mistake", "to_numpy"]


def to_numpy(value: Any) -> Any:
    """A tensor (detached, on the CPU) as a NumPy array; anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


def _numpy_mistakes(mistakes: Mistakes | None) -> Mistakes | None:
    if mistakes is None:
        return None

    def table() -> Mapping[str, Any]:
        return {
            label: (lambda c=c: to_numpy(_wrong_output(c)))
            for label, c in mistake_table(mistakes).items()
        }

    return table


def assert_tensor(
    actual: Any,
    expected: Any,
    *,
    name: str = "result",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    check_dtype: bool = True,
    requires_grad: bool | None = None,
    mistakes: Mistakes | None = None,
) -> None:
    """Compare a learner's tensor with the expected one (float32 tolerances by default).

    ``requires_grad=False`` demands a result detached from the graph (an evaluation output);
    ``True`` demands one that still carries it (a loss to call ``backward`` on).
    """
    import torch

    if actual is None:
        fail(none_message(name))
    if not isinstance(actual, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(actual).__name__}")
    want = expected if isinstance(expected, torch.Tensor) else torch.as_tensor(expected)
    if actual.device.type != want.device.type:
        fail(f"{name} is on {actual.device}; expected {want.device}")
    if tuple(actual.shape) != tuple(want.shape):
        shapes = f"{name} has shape {tuple(actual.shape)}; expected {tuple(want.shape)}"
        # A mistake is named only when its output equals the learner's, values and all.
        known = tensor_mistake(actual, mistakes, rtol=rtol, atol=atol)
        if known:
            fail(f"{name} looks like {known}. Its shape is {tuple(actual.shape)}; expected "
                 f"{tuple(want.shape)}")  # fmt: skip
        fail(shapes)
    if check_dtype and actual.dtype != want.dtype:
        fail(f"{name} has dtype {actual.dtype}; expected {want.dtype}")
    if requires_grad is False and actual.requires_grad:
        fail(
            f"{name} still requires grad (it is part of the autograd graph); compute it under "
            "`torch.no_grad()` or `.detach()` it"
        )
    if requires_grad is True and not actual.requires_grad:
        fail(
            f"{name} does not require grad, so backward() cannot reach the parameters: was it "
            "computed under no_grad, detached, or rebuilt from `.item()`/NumPy values?"
        )
    got = to_numpy(actual)
    if got.dtype.kind == "f" and got.dtype.itemsize < 4:
        got = got.astype(np.float32)
    target = to_numpy(want)
    if target.dtype.kind == "f" and target.dtype.itemsize < 4:
        target = target.astype(np.float32)
    assert_array(
        got,
        target,
        name=name,
        rtol=rtol,
        atol=atol,
        mistakes=_numpy_mistakes(mistakes),
        check_dtype_kind=check_dtype,
    )


def tensor_mistake(
    actual: Any, mistakes: Mistakes | None, *, rtol: float = 1e-5, atol: float = 1e-6
) -> str | None:
    """The known mistake whose output a learner's tensor equals (shape and values), if any."""
    if not mistakes or actual is None or not hasattr(actual, "detach"):
        return None
    from aipath.checks.compare import matching_mistake

    return matching_mistake(to_numpy(actual), _numpy_mistakes(mistakes), rtol=rtol, atol=atol)
