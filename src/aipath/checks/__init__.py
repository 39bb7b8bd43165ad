"""``aipath.checks``: the one library lab authors write checks with.

Every helper fails with :class:`CheckFailure` and a message that says *what* differs, *how far*,
and — when the learner's answer equals a known-wrong output — *which mistake* it looks like.
See ``docs/lab-authoring.md`` for an example of each.

Torch helpers import torch only when called, so NumPy-only labs stay fast in a cold check.
Four submodules are imported on their own, as they load more: ``aipath.checks.servers``
(uvicorn and FastAPI's TestClient), ``aipath.checks.mutation`` (running a learner's tests
against mutants), ``aipath.checks.git`` (git without the caller's ``GIT_*`` environment) and
``aipath.checks.documents`` (strict YAML and readable JSON-schema errors for the artefacts of
the MLOps labs); ``aipath.checks.tools`` runs the real validators shipped as binaries.
"""

from __future__ import annotations

from aipath.checks.bands import assert_beats, assert_in_band
from aipath.checks.calls import (
    LEARNER_ERRORS,
    assert_unchanged,
    built_in_learner_process,
    by_reference,
    call_learner,
    call_with_inputs,
    describe_inputs,
    in_learner_process,
    learner_process_global,
    once_per_run,
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
    text_difference,
)
from aipath.checks.data import (
    ames,
    cached,
    copied,
    digits,
    help_pages,
    precomputed,
    rdataset,
    rdataset_doc,
    strip_html,
    text_corpus,
)
from aipath.checks.embeddings import (
    as_embeddings,
    call_embed,
    cosine,
    minilm_embeddings,
    pooling_mistakes,
)
from aipath.checks.factors import telling_factor, telling_relation
from aipath.checks.failure import CheckFailure, fail, fmt, none_message
from aipath.checks.gradients import gradient_check, numerical_gradient, relative_error
from aipath.checks.hooks import ForwardCall, ForwardCalls
from aipath.checks.models import (
    fresh_smollm2,
    hf_offline,
    learner_minilm,
    minilm,
    minilm_path,
    smollm2,
    smollm2_greedy,
)
from aipath.checks.randomness import assert_no_global_draws, global_draws
from aipath.checks.retrieval import recall_at_k, recall_mistakes
from aipath.checks.slips import assert_mask, invert_on_integers, swapped_parts, threshold_slip
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
    "ForwardCall",
    "ForwardCalls",
    "Mistakes",
    "ames",
    "as_embeddings",
    "assert_array",
    "assert_beats",
    "assert_close",
    "assert_frame",
    "assert_in_band",
    "assert_mask",
    "assert_no_global_draws",
    "assert_reaches",
    "assert_returned",
    "assert_shape",
    "assert_tensor",
    "assert_tuple",
    "assert_unchanged",
    "built_in_learner_process",
    "by_reference",
    "cached",
    "call_embed",
    "call_learner",
    "call_with_inputs",
    "called_names",
    "copied",
    "cosine",
    "describe_inputs",
    "digits",
    "fail",
    "fmt",
    "forbid_calls",
    "forbid_imports",
    "frame_difference",
    "fresh_smollm2",
    "global_draws",
    "gradient_check",
    "help_pages",
    "hf_offline",
    "imported_modules",
    "in_learner_process",
    "invert_on_integers",
    "learner_minilm",
    "learner_process_global",
    "matching_mistake",
    "minilm",
    "minilm_embeddings",
    "minilm_path",
    "mistake_table",
    "module_names",
    "no_loops",
    "none_message",
    "numerical_gradient",
    "once_per_run",
    "pooling_mistakes",
    "precomputed",
    "raised",
    "rdataset",
    "rdataset_doc",
    "recall_at_k",
    "recall_mistakes",
    "relative_error",
    "run_on_copies",
    "run_until",
    "seed_everything",
    "smollm2",
    "smollm2_greedy",
    "strip_html",
    "swapped_parts",
    "telling_factor",
    "telling_relation",
    "tensor_mistake",
    "text_corpus",
    "text_difference",
    "threshold_slip",
    "to_numpy",
]
