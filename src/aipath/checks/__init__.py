"""``aipath.checks``: the one library lab authors write checks with.

Every helper fails with :class:`CheckFailure` and a message that says *what* differs, *how far*,
and — when the learner's answer equals a known-wrong output — *which mistake* it looks like.
See ``docs/lab-authoring.md`` for an example of each.

Torch helpers import torch only when called, so NumPy-only labs stay fast in a cold check.
Three submodules are imported on their own, as they load more: ``aipath.checks.servers``
(uvicorn and FastAPI's TestClient), ``aipath.checks.mutation`` (running a learner's tests
against mutants) and ``aipath.checks.git`` (git without the caller's ``GIT_*`` environment).
"""

from __future__ import annotations

from aipath.checks.bands import assert_beats, assert_in_band
from aipath.checks.calls import (
    LEARNER_ERRORS,
    assert_unchanged,
    call_learner,
    call_with_inputs,
    describe_inputs,
    raised,
    run_on_copies,
)
from aipath.checks.compare import (
    Mistakes,
    assert_array,
    assert_close,
    assert_frame,
    assert_returned,
    assert_shape,
    assert_tuple,
    frame_difference,
    matching_mistake,
    mistake_table,
)
from aipath.checks.data import (
    ames,
    cached,
    copied,
    digits,
    help_pages,
    rdataset,
    rdataset_doc,
    text_corpus,
)
from aipath.checks.failure import CheckFailure, fail, fmt, none_message
from aipath.checks.gradients import gradient_check, numerical_gradient
from aipath.checks.models import fresh_smollm2, hf_offline, minilm, minilm_path, smollm2
from aipath.checks.static import (
    called_names,
    forbid_calls,
    forbid_imports,
    imported_modules,
    module_names,
    no_loops,
)
from aipath.checks.tensors import assert_tensor, tensor_mistake, to_numpy
from aipath.checks.training import assert_reaches, run_until, seed_everything

__all__ = [
    "LEARNER_ERRORS",
    "CheckFailure",
    "Mistakes",
    "ames",
    "assert_array",
    "assert_beats",
    "assert_close",
    "assert_frame",
    "assert_in_band",
    "assert_reaches",
    "assert_returned",
    "assert_shape",
    "assert_tensor",
    "assert_tuple",
    "assert_unchanged",
    "cached",
    "call_learner",
    "call_with_inputs",
    "called_names",
    "copied",
    "describe_inputs",
    "digits",
    "fail",
    "fmt",
    "forbid_calls",
    "forbid_imports",
    "frame_difference",
    "fresh_smollm2",
    "gradient_check",
    "help_pages",
    "hf_offline",
    "imported_modules",
    "matching_mistake",
    "minilm",
    "minilm_path",
    "mistake_table",
    "module_names",
    "no_loops",
    "none_message",
    "numerical_gradient",
    "raised",
    "rdataset",
    "rdataset_doc",
    "run_on_copies",
    "run_until",
    "seed_everything",
    "smollm2",
    "tensor_mistake",
    "text_corpus",
    "to_numpy",
]
