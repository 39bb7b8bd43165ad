"""``aipath.checks``: the one library lab authors write checks with.

Every helper fails with :class:`CheckFailure` and a message that says *what* differs, *how far*,
and — when the learner's answer equals a known-wrong output — *which mistake* it looks like.
See ``docs/lab-authoring.md`` for an example of each.

Torch helpers import torch only when called, so NumPy-only labs stay fast in a cold check.
"""

from __future__ import annotations

from aipath.checks.bands import assert_beats, assert_in_band
from aipath.checks.compare import (
    Mistakes,
    assert_array,
    assert_close,
    assert_frame,
    assert_returned,
    assert_shape,
    frame_difference,
    matching_mistake,
)
from aipath.checks.data import digits, help_pages, rdataset, rdataset_doc, text_corpus
from aipath.checks.failure import CheckFailure, fail, fmt
from aipath.checks.gradients import gradient_check, numerical_gradient
from aipath.checks.static import called_names, forbid_calls, no_loops
from aipath.checks.tensors import assert_tensor, to_numpy
from aipath.checks.training import assert_reaches, run_until, seed_everything

__all__ = [
    "CheckFailure",
    "Mistakes",
    "assert_array",
    "assert_beats",
    "assert_close",
    "assert_frame",
    "assert_in_band",
    "assert_reaches",
    "assert_returned",
    "assert_shape",
    "assert_tensor",
    "called_names",
    "digits",
    "fail",
    "fmt",
    "forbid_calls",
    "frame_difference",
    "gradient_check",
    "help_pages",
    "matching_mistake",
    "no_loops",
    "numerical_gradient",
    "rdataset",
    "rdataset_doc",
    "run_until",
    "seed_everything",
    "text_corpus",
    "to_numpy",
]
