"""What a learner's code did with a model: each forward call, recorded through a hook.

A check cannot see inside the learner's function, but it can hand over a model and watch it:
was it in training mode, was autograd recording, which input shape went in, was an attention
mask passed.  ``model.forward(...)`` called directly skips the hooks, so "never called" is
reported as "not run as ``model(...)``", never as a verified fact about the learner's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ForwardCall", "ForwardCalls"]


@dataclass(frozen=True)
class ForwardCall:
    """One call of the watched model."""

    training: bool
    grad_enabled: bool
    output_requires_grad: bool
    input_shape: tuple[int, ...] | None
    """Shape of ``input_ids`` (or ``inputs_embeds``, or the first tensor argument)."""
    mask: bool
    """Whether an ``attention_mask`` was passed."""

    @property
    def length(self) -> int:
        """The sequence length of the input (its second dimension), -1 when unknown."""
        shape = self.input_shape
        return shape[1] if shape is not None and len(shape) > 1 else -1


class ForwardCalls:
    """Records every forward call of ``model`` while the ``with`` block runs.

    >>> with ForwardCalls(model) as log:
    ...     learner.train_one_epoch(model, loader)
    >>> sum(not call.training for call in log.calls)
    """

    def __init__(self, model: Any) -> None:
        self.calls: list[ForwardCall] = []
        self._handle = model.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(
        self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        import torch

        source = kwargs.get("input_ids", args[0] if args else None)
        if not isinstance(source, torch.Tensor):
            source = kwargs.get("inputs_embeds")
        mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
        out = output
        for name in ("logits", "last_hidden_state"):  # a transformers ModelOutput
            if not isinstance(out, torch.Tensor):
                out = getattr(output, name, None)
        self.calls.append(
            ForwardCall(
                training=bool(module.training),
                grad_enabled=torch.is_grad_enabled(),
                output_requires_grad=bool(getattr(out, "requires_grad", False)),
                input_shape=tuple(source.shape) if isinstance(source, torch.Tensor) else None,
                mask=mask is not None,
            )
        )

    @property
    def lengths(self) -> list[int]:
        """The input length of each call (``generate`` calls the model once per new token)."""
        return [call.length for call in self.calls]

    def __enter__(self) -> ForwardCalls:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._handle.remove()
