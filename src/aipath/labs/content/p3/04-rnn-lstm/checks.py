"""Checks for p3-rnn-lstm: an LSTM cell, a character model, truncated BPTT, perplexity.

Every reference is computed here: ``nn.LSTMCell`` with the same weights for the cell (values and
gradients); the learner's own model, run once on a whole sequence, for the state carried across
a split; a small model of the check's own (``nn.LSTM`` inside) for the training loop and the
perplexity, so that those two are judged whatever the learner's model does.  That model records
every call it gets — the tokens, the incoming state and whether that state still has autograd
history — and a recording SGD optimizer keeps the gradients it is asked to apply; both are
compared with gradients recomputed here for each chunk.  Whenever a comparison fails, the
outputs of the known mistakes are computed on the same input and a match is named.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    assert_close,
    assert_tensor,
    call_with_inputs,
    fail,
    forbid_calls,
    seed_everything,
    text_corpus,
)

# --- candidate for aipath.checks -----------------------------------------------------------------


# --- the lab's settings --------------------------------------------------------------------------
CORPUS_CHARS = 60_000
TRAIN_FRACTION = 0.9
BATCH, CHUNK, HIDDEN, EMBED = 64, 16, 64, 16
LEARNING_RATE = 0.01
ROUND, BUDGET = 25, 200  # training steps between evaluations, and in all
TARGET_RATIO = 0.35  # validation perplexity must reach 0.35 × the unigram baseline's
VAL_STREAMS, VAL_CHUNK, VAL_CHUNKS = 16, 32, 11


# --- the cell's reference and its known mistakes ------------------------------------------------
GATE_NAMES = {"i": "input", "f": "forget", "g": "cell candidate", "o": "output"}


def variant_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    params: dict[str, torch.Tensor],
    *,
    order: str = "ifgo",
    gate: Callable[[torch.Tensor], torch.Tensor] = torch.sigmoid,
    candidate: Callable[[torch.Tensor], torch.Tensor] = torch.tanh,
    squash: Callable[[torch.Tensor], torch.Tensor] | None = torch.tanh,
    update: str = "f*c+i*g",
    biases: str = "both",
    output_from_old_c: bool = False,
    forget_shift: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """An LSTM step with one part changed: what a known mistake computes on the same input."""
    with torch.no_grad():
        pre = x @ params["weight_ih"].T + h @ params["weight_hh"].T
        if biases in ("both", "ih", "ih twice"):
            pre = pre + params["bias_ih"]
        if biases in ("both", "hh", "hh twice"):
            pre = pre + params["bias_hh"]
        if biases == "ih twice":
            pre = pre + params["bias_ih"]
        if biases == "hh twice":
            pre = pre + params["bias_hh"]
        chunks = dict(zip(order, pre.chunk(4, dim=1), strict=True))
        i, f, o = gate(chunks["i"]), gate(chunks["f"] + forget_shift), gate(chunks["o"])
        g = candidate(chunks["g"])
        c_next = {
            "f*c+i*g": lambda: f * c + i * g,
            "f*c+g": lambda: f * c + g,
            "c+i*g": lambda: c + i * g,
            "i*c+f*g": lambda: i * c + f * g,
            "f*c+(1-f)*g": lambda: f * c + (1 - f) * g,
        }[update]()
        source = c if output_from_old_c else c_next
        h_next = o * (squash(source) if squash is not None else source)
        return h_next, c_next


def cell_mistakes(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, params: dict[str, torch.Tensor]
) -> dict[str, Callable[[], tuple[torch.Tensor, torch.Tensor]]]:
    def v(**kw: Any) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
        return lambda: variant_cell(x, h, c, params, **kw)

    def orders(o: str) -> str:
        return ", ".join(o)

    found: dict[str, Callable[[], tuple[torch.Tensor, torch.Tensor]]] = {}
    for order in ("ifog", "igfo", "iofg", "fiog"):
        found[
            f"the gates read in the order {orders(order)}: PyTorch stacks the rows of weight_ih "
            "and weight_hh as i, f, g, o (input, forget, cell candidate, output)"
        ] = v(order=order)
    found.update(
        {
            "sigmoid on the candidate g: g takes tanh, only the gates i, f, o take sigmoid": v(
                candidate=torch.sigmoid
            ),
            "tanh and sigmoid swapped (tanh on the gates i, f, o, sigmoid on g)": v(
                gate=torch.tanh, candidate=torch.sigmoid
            ),
            "tanh on the gates i, f, o as well: gates take sigmoid (values in 0..1)": v(
                gate=torch.tanh
            ),
            "h = o · c, without tanh of the new cell state: h = o · tanh(c_new)": v(squash=None),
            "h = o · sigmoid(c): the cell output takes tanh, h = o · tanh(c_new)": v(
                squash=torch.sigmoid
            ),
            "h computed from the old cell state, o · tanh(c): the read-out takes the c just "
            "updated, h = o · tanh(c_new)": v(output_from_old_c=True),
            "c = f · c + g, without the input gate: c_new = f · c + i · g": v(update="f*c+g"),
            "c = c + i · g, without the forget gate: c_new = f · c + i · g": v(update="c+i*g"),
            "the input and forget gates swapped (the blocks read as f, i, g, o, or c = i · c + "
            "f · g — the two give the same numbers): PyTorch's rows are i, f, g, o, and the "
            "forget gate scales the old cell state, c_new = f · c + i · g": v(update="i*c+f*g"),
            "only bias_ih added: both biases go into the gates, x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ + bₕₕ": v(
                biases="ih"
            ),
            "only bias_hh added: both biases go into the gates, x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ + bₕₕ": v(
                biases="hh"
            ),
            "no bias at all: both biases go into the gates": v(biases="none"),
            "bias_ih added twice and bias_hh not at all: the gates take x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ "
            "+ bₕₕ": v(biases="ih twice"),
            "bias_hh added twice and bias_ih not at all: the gates take x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ "
            "+ bₕₕ": v(biases="hh twice"),
            "c = f · c + (1 − f) · g, the forget gate coupled to the input (as in a GRU): the "
            "LSTM has its own input gate, c_new = f · c + i · g": v(update="f*c+(1-f)*g"),
            "1 added to the forget gate's pre-activation, sigmoid(f + 1): the forget-bias trick "
            "belongs in the initial bias_hh/bias_ih of a model, not in the cell's equations — the "
            "cell adds only the given biases": v(forget_shift=1.0),
            "the state read as (c, h): it is (h, c), hidden state first": lambda: variant_cell(
                x, c, h, params
            ),
        }
    )
    return found


def torch_cell(input_size: int, hidden_size: int) -> nn.LSTMCell:
    cell = nn.LSTMCell(input_size, hidden_size)
    with torch.no_grad():  # larger weights than the default init: the gates then differ clearly
        for p in cell.parameters():
            p.mul_(2.0)
    return cell


def cell_case() -> tuple[nn.LSTMCell, torch.Tensor, torch.Tensor, torch.Tensor]:
    seed_everything(0)
    batch, inputs, hidden = 3, 5, 4  # input ≠ hidden ≠ 4·hidden: a transposed weight cannot fit
    cell = torch_cell(inputs, hidden)
    x = torch.randn(batch, inputs)
    h = 0.8 * torch.randn(batch, hidden)
    c = torch.randn(batch, hidden)
    return cell, x, h, c


CELL_INPUTS = (
    "x (3, 5) = (B, I), h and c (3, 4) = (B, H), weight_ih (16, 5) = (4H, I), weight_hh (16, 4) "
    "= (4H, H), bias_ih and bias_hh (16,) = (4H,)"
)


def cell_params(cell: nn.LSTMCell) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in cell.named_parameters()}


def as_state(result: Any, label: str, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    if result is None:
        fail(f"{label} is None: did you forget to `return h, c`?")
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{label} should be a tuple (h, c) of two tensors; got {type(result).__name__}")
    for name, value in zip(("h", "c"), result, strict=True):
        if not isinstance(value, torch.Tensor):
            fail(f"{label}: {name} should be a torch.Tensor; got {type(value).__name__}")
        if tuple(value.shape) != shape:
            hint = ""
            if tuple(value.shape) == (1, *shape):
                hint = ": nn.LSTM's state is (num_layers, B, H); squeeze(0) it to (B, H)"
            fail(f"{label}: {name} has shape {tuple(value.shape)}; expected {shape} (B, H){hint}")
    return result[0], result[1]


# ----- task 1: the LSTM cell ---------------------------------------------------------------------
BUILD_IT = (
    "task 1 asks you to write the cell from its equations; the checks compare it with "
    "nn.LSTMCell themselves"
)


@pytest.mark.task(1)
def test_lstm_cell_is_written_by_hand(learner, learner_file):
    forbid_calls(
        learner_file, ["LSTMCell", "LSTM", "lstm_cell", "_VF"], BUILD_IT, within="lstm_cell"
    )
    cell, x, h, c = cell_case()
    params = cell_params(cell)
    try:  # only to tell an untouched TODO (not attempted) from a started one
        learner.lstm_cell(x, (h, c), *params.values())
    except NotImplementedError:
        raise
    except Exception:
        pass  # the next checks report what goes wrong


@pytest.mark.task(1)
def test_lstm_cell_matches_nn_lstm_cell(learner):
    cell, x, h, c = cell_case()
    params = cell_params(cell)
    with torch.no_grad():
        want_h, want_c = cell(x, (h, c))
    inputs = {
        "x": x.clone(),
        "h": h.clone(),
        "c": c.clone(),
        **{k: v.clone() for k, v in params.items()},
    }
    got = call_with_inputs(
        "lstm_cell(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)",
        learner.lstm_cell,
        inputs["x"],
        (inputs["h"], inputs["c"]),
        inputs["weight_ih"],
        inputs["weight_hh"],
        inputs["bias_ih"],
        inputs["bias_hh"],
        given=CELL_INPUTS,
    )
    for name, value in inputs.items():
        original = {"x": x, "h": h, "c": c}.get(name, params.get(name))
        if not torch.equal(value, original):
            fail(
                f"lstm_cell changed its input {name} in place (an in-place op such as `{name}.mul_` "
                f"or `{name} *= …` on a tensor you were given): compute new tensors instead"
            )
    got_h, got_c = as_state(got, "lstm_cell(...)", (3, 4))
    mistakes = cell_mistakes(x, h, c, params)
    assert_tensor(
        got_h.detach(),
        want_h,
        name="h of lstm_cell(x (3, 5), (h, c) (3, 4), weights (16, 5) (16, 4))",
        rtol=1e-5,
        atol=1e-6,
        mistakes={
            "(c, h) returned in the wrong order: return (h, c)": lambda: want_c,
            **{k: (lambda f=f: f()[0]) for k, f in mistakes.items()},
        },
    )
    assert_tensor(
        got_c.detach(),
        want_c,
        name="c of lstm_cell(x (3, 5), (h, c) (3, 4), weights (16, 5) (16, 4))",
        rtol=1e-5,
        atol=1e-6,
        mistakes={k: (lambda f=f: f()[1]) for k, f in mistakes.items()},
    )


@pytest.mark.task(1)
def test_lstm_cell_gradients_match(learner):
    cell, x, h, c = cell_case()
    leaves = {"x": x, "h": h, "c": c, **cell_params(cell)}
    theirs = {k: v.clone().requires_grad_(True) for k, v in leaves.items()}
    ours = {k: v.clone().requires_grad_(True) for k, v in leaves.items()}
    seed_everything(1)
    weigh_h, weigh_c = torch.randn(3, 4), torch.randn(3, 4)
    ref = nn.LSTMCell(5, 4)
    want_h, want_c = torch.func.functional_call(
        ref,
        {k: ours[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")},
        (ours["x"], (ours["h"], ours["c"])),
    )
    ((want_h * weigh_h).sum() + (want_c * weigh_c).sum()).backward()
    got = call_with_inputs(
        "lstm_cell(...)",
        learner.lstm_cell,
        theirs["x"],
        (theirs["h"], theirs["c"]),
        theirs["weight_ih"],
        theirs["weight_hh"],
        theirs["bias_ih"],
        theirs["bias_hh"],
        given=CELL_INPUTS,
    )
    got_h, got_c = as_state(got, "lstm_cell(...)", (3, 4))
    if not torch.allclose(
        got_h.detach(), want_h.detach(), rtol=1e-5, atol=1e-6
    ) or not torch.allclose(got_c.detach(), want_c.detach(), rtol=1e-5, atol=1e-6):
        fail(
            "lstm_cell's h or c differ from nn.LSTMCell (see the check above); gradients are compared once they match"
        )
    for name, value in (("h", got_h), ("c", got_c)):
        if value.grad_fn is None:
            fail(
                f"lstm_cell's {name} has no autograd history although its inputs require grad: "
                "was it computed under torch.no_grad(), with .detach(), .item() or NumPy? "
                "Training needs gradients to flow through the cell"
            )
    ((got_h * weigh_h).sum() + (got_c * weigh_c).sum()).backward()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "x", "h", "c"):
        grad = theirs[name].grad
        if grad is None:
            fail(
                f"backward through lstm_cell did not reach {name}: is it used directly (not a copy)?"
            )
        assert_tensor(
            grad,
            ours[name].grad,
            name=f"the gradient of (h·a + c·b).sum() with respect to {name}",
            rtol=1e-4,
            atol=1e-6,
        )


# ----- task 2: the character model ---------------------------------------------------------------
def make_model(learner: Any, vocab: int, hidden: int, embed: int) -> nn.Module:
    seed_everything(0)
    model = call_with_inputs(
        f"CharLSTM({vocab}, hidden_size={hidden}, embed_size={embed})",
        learner.CharLSTM,
        vocab,
        hidden_size=hidden,
        embed_size=embed,
    )
    if not isinstance(model, nn.Module):
        fail(f"CharLSTM(...) should build an nn.Module; got {type(model).__name__}")
    return model


def run_model(
    model: nn.Module, tokens: torch.Tensor, state: Any, label: str, vocab: int, hidden: int
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    out = call_with_inputs(label, model, tokens.clone(), state)
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail(f"{label} should return (logits, (h, c)); got {type(out).__name__}")
    logits, new_state = out
    batch, steps = tokens.shape
    if not isinstance(logits, torch.Tensor):
        fail(f"{label}: logits should be a torch.Tensor; got {type(logits).__name__}")
    if tuple(logits.shape) != (batch, steps, vocab):
        hint = ""
        if tuple(logits.shape) == (steps, batch, vocab):
            hint = " — time first: this lab keeps the batch first, (B, T, V)"
        fail(
            f"{label}: logits have shape {tuple(logits.shape)}; expected (B, T, V) = "
            f"{(batch, steps, vocab)} for tokens of shape {(batch, steps)}{hint}"
        )
    if logits.dtype != torch.float32:
        fail(f"{label}: logits have dtype {logits.dtype}; expected torch.float32")
    h, c = as_state(new_state, f"the state returned by {label}", (batch, hidden))
    return logits, (h, c)


def check_time_first_layout(
    model: nn.Module,
    tokens: torch.Tensor,
    logits: torch.Tensor,
    label: str,
    vocab: int,
    hidden: int,
) -> None:
    """Name the (T, B, ·) → (B, T, ·) reshape: the batch's logits are its rows' own, scrambled.

    Each row is run alone (a batch of one cannot be scrambled); when the batch's logits differ
    from those rows but equal them laid out time-first and reshaped, that is what happened.
    """
    batch, steps = tokens.shape
    with torch.no_grad():
        rows = torch.cat(
            [
                run_model(
                    model,
                    tokens[b : b + 1],
                    None,
                    f"model(tokens[{b}:{b + 1}], None)",
                    vocab,
                    hidden,
                )[0]
                for b in range(batch)
            ]
        )
        got = logits.detach()
        if torch.allclose(got, rows, rtol=1e-5, atol=1e-6):
            return
        scrambled = rows.transpose(0, 1).reshape(batch, steps, vocab)
        if torch.allclose(got, scrambled, rtol=1e-5, atol=1e-6):
            fail(
                f"the logits of {label} are each row's own logits laid out time-first and "
                "reshaped: the per-step outputs were stacked (T, B, H) — torch.stack(hs) or "
                "torch.cat(hs) — and then reshaped or viewed as (B, T, H), which mixes time steps "
                "and rows. Stack along dim=1, torch.stack(hs, dim=1), or transpose(0, 1) before "
                "reshaping"
            )


def state_order_mistake(first: torch.Tensor, second: torch.Tensor) -> str:
    """Which slot of a returned LSTM state holds c: |h| = o·|tanh(c)| < |c| at every entry."""
    if bool((first.abs() >= second.abs()).all()) and not torch.equal(first, second):
        return (
            "a model that returns its state as (c, h) but reads it as (h, c): return the hidden "
            "state first, (h, c) — the state it returned, handed back swapped, gives the right "
            "logits"
        )
    if bool((second.abs() >= first.abs()).all()) and not torch.equal(first, second):
        return (
            "a model that reads its state as (c, h) but returns (h, c): unpack the state it is "
            "given as h, c = state — the state it returned, handed back swapped, gives the right "
            "logits"
        )
    return (
        "a model that reads its state in another order than it returns it: both are (h, c) — "
        "the state it returned, handed back swapped, gives the right logits"
    )


@pytest.mark.task(2)
def test_char_lstm_shapes_and_parameters(learner):
    vocab, hidden, embed = 11, 8, 5
    model = make_model(learner, vocab, hidden, embed)
    tokens = torch.randint(0, vocab, (3, 7))
    logits, _state = run_model(model, tokens, None, "model(tokens (3, 7), None)", vocab, hidden)
    check_time_first_layout(model, tokens, logits, "model(tokens (3, 7), None)", vocab, hidden)
    if logits.grad_fn is None:
        fail("the logits have no autograd history: training could not reach the parameters")
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if count < 4 * hidden * hidden:
        fail(
            f"CharLSTM(vocab_size={vocab}, hidden_size={hidden}, embed_size={embed}) has {count} "
            f"trainable parameters; its recurrent weights weight_hh alone hold 4·H·H = "
            f"{4 * hidden * hidden}. Are the weights nn.Parameter attributes (or inside nn.LSTM / "
            "nn.LSTMCell), so that model.parameters() and the optimizer see them?"
        )


@pytest.mark.task(2)
def test_char_lstm_none_state_means_zeros(learner):
    vocab, hidden = 11, 8
    model = make_model(learner, vocab, hidden, 5)
    tokens = torch.randint(0, vocab, (3, 6))
    earlier = torch.randint(0, vocab, (3, 4))
    with torch.no_grad():
        # an earlier call first: None must mean zeros whatever the model ran before
        _, before = run_model(
            model, earlier, None, "model(other tokens (3, 4), None)", vocab, hidden
        )
        before = (before[0].clone(), before[1].clone())
        from_none, _ = run_model(model, tokens, None, "model(tokens, None)", vocab, hidden)
        zeros = (torch.zeros(3, hidden), torch.zeros(3, hidden))
        from_zeros, _ = run_model(
            model, tokens, zeros, "model(tokens, (zeros, zeros))", vocab, hidden
        )

    def from_previous_state() -> torch.Tensor:
        with torch.no_grad():
            return run_model(model, tokens, before, "model(tokens, state)", vocab, hidden)[0]

    assert_tensor(
        from_none,
        from_zeros,
        name="model(tokens, None) logits, after an earlier call, compared with "
        "model(tokens, (zeros (3, 8), zeros (3, 8)))",
        rtol=1e-5,
        atol=1e-6,
        mistakes={
            "a model that keeps its state between calls: with state=None it continued from the "
            "state of the previous call (stored on the module?) — None means zeros; carrying the "
            "state is the caller's job (train_tbptt hands it on)": from_previous_state,
        },
    )


@pytest.mark.task(2)
def test_char_lstm_continues_from_the_state_it_is_given(learner):
    vocab, hidden = 11, 8
    model = make_model(learner, vocab, hidden, 5)
    tokens = torch.randint(0, vocab, (3, 9))
    with torch.no_grad():
        full, (h_full, c_full) = run_model(
            model, tokens, None, "model(tokens (3, 9), None)", vocab, hidden
        )
        first, state = run_model(
            model, tokens[:, :5], None, "model(tokens[:, :5], None)", vocab, hidden
        )
        second, (h2, c2) = run_model(
            model,
            tokens[:, 5:],
            (state[0].clone(), state[1].clone()),
            "model(tokens[:, 5:], state)",
            vocab,
            hidden,
        )
        fresh, _ = run_model(
            model, tokens[:, 5:], None, "model(tokens[:, 5:], None)", vocab, hidden
        )
    check_time_first_layout(model, tokens, full, "model(tokens (3, 9), None)", vocab, hidden)

    def swapped_state() -> torch.Tensor:
        with torch.no_grad():
            return run_model(
                model,
                tokens[:, 5:],
                (state[1].clone(), state[0].clone()),
                "model(tokens[:, 5:], (state[1], state[0]))",
                vocab,
                hidden,
            )[0]

    assert_tensor(
        first,
        full[:, :5],
        name="logits of model(tokens[:, :5]) against the first 5 steps of model(tokens)",
        rtol=1e-5,
        atol=1e-6,
    )
    if not torch.allclose(second, full[:, 5:], rtol=1e-5, atol=1e-6) and torch.allclose(
        swapped_state(), full[:, 5:], rtol=1e-5, atol=1e-6
    ):
        fail(
            "the logits of the second half, model(tokens[:, 5:], state after tokens[:, :5]), "
            f"differ from steps 5–8 of model(tokens): this looks like "
            f"{state_order_mistake(state[0], state[1])}"
        )
    assert_tensor(
        second,
        full[:, 5:],
        name="logits of the second half, model(tokens[:, 5:], state after tokens[:, :5]), "
        "against steps 5–8 of model(tokens)",
        rtol=1e-5,
        atol=1e-6,
        mistakes={"a model that ignores the state it is given (it starts from zeros)": fresh},
    )
    assert_tensor(
        h2,
        h_full,
        name="h after both halves against h after the whole sequence",
        rtol=1e-5,
        atol=1e-6,
    )
    assert_tensor(
        c2,
        c_full,
        name="c after both halves against c after the whole sequence",
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.task(2)
def test_char_lstm_is_causal_and_keeps_rows_apart(learner):
    vocab, hidden = 11, 8
    model = make_model(learner, vocab, hidden, 5)
    tokens = torch.randint(0, vocab, (4, 8))
    changed = tokens.clone()
    changed[:, 5] = (changed[:, 5] + 3) % vocab
    with torch.no_grad():
        base, _ = run_model(model, tokens, None, "model(tokens (4, 8), None)", vocab, hidden)
        other, _ = run_model(model, changed, None, "model(tokens (4, 8), None)", vocab, hidden)
        alone, _ = run_model(model, tokens[1:2], None, "model(tokens[1:2], None)", vocab, hidden)
    check_time_first_layout(model, tokens, base, "model(tokens (4, 8), None)", vocab, hidden)
    moved = (base[:, :5] - other[:, :5]).abs().max().item()
    if moved > 1e-6:
        fail(
            f"changing the tokens at step 5 changed the logits of steps 0–4 (by up to {moved:.3g}): "
            "the prediction at step t may only depend on tokens 0..t — is the sequence read "
            "backwards, or are the outputs taken from the final state?"
        )
    assert_tensor(
        alone[0],
        base[1],
        name="logits of row 1 run alone against row 1 of the batch — the rows of a batch are "
        "separate sequences and must not influence each other (is the loop over the batch axis "
        "instead of time?)",
        rtol=1e-5,
        atol=1e-6,
    )


# ----- the check's own small language model, for tasks 3 and 4 -----------------------------------
class ReferenceLM(nn.Module):
    """The contract of CharLSTM, with nn.LSTM inside: forward(tokens, state) → (logits, (h, c))."""

    def __init__(self, vocab: int, hidden: int, embed: int) -> None:
        super().__init__()
        self.hidden_size = hidden
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        if state is not None:
            h, c = state
            state = (h.reshape(1, *h.shape[-2:]), c.reshape(1, *c.shape[-2:]))
        out, (h, c) = self.lstm(self.embedding(tokens), state)
        return self.head(out), (h[0], c[0])


class RecordingLM(ReferenceLM):
    """Keeps, for every call: the tokens, the incoming state (values and autograd history)."""

    def __init__(self, vocab: int, hidden: int, embed: int) -> None:
        super().__init__(vocab, hidden, embed)
        self.calls: list[dict[str, Any]] = []
        self.clip_calls: list[dict[str, Any]] = []  # each clip_grad_norm_ call (run_tbptt)

    def forward(self, tokens: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        record: dict[str, Any] = {"tokens": torch.as_tensor(tokens).detach().clone(), "state": None}
        if state is not None:
            record["state"] = [
                {"value": s.detach().clone(), "history": s.grad_fn is not None} for s in state
            ]
        self.calls.append(record)
        logits, new = super().forward(tokens, state)
        record["out"] = [s.detach().clone() for s in new]
        return logits, new


class RecordingSGD(torch.optim.SGD):
    """SGD that keeps the parameters and gradients it sees at every step()."""

    def __init__(self, params: Any, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.seen: list[dict[str, list[torch.Tensor | None]]] = []

    def step(self, closure: Any = None) -> Any:
        ps = [p for group in self.param_groups for p in group["params"]]
        self.seen.append(
            {
                "params": [p.detach().clone() for p in ps],
                "grads": [None if p.grad is None else p.grad.detach().clone() for p in ps],
            }
        )
        return super().step(closure)


def chunk_loss(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    tokens: torch.Tensor,
    targets: torch.Tensor,
    state: Any,
    reduction: str = "mean",
) -> torch.Tensor:
    logits, _ = torch.func.functional_call(model, params, (tokens, state))
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction
    )


def reference_grads(
    model: nn.Module,
    names: list[str],
    values: list[torch.Tensor],
    tokens: torch.Tensor,
    targets: torch.Tensor,
    state: Any,
    reduction: str = "mean",
) -> list[torch.Tensor]:
    params = {n: v.clone().requires_grad_(True) for n, v in zip(names, values, strict=True)}
    loss = chunk_loss(model, params, tokens, targets, state, reduction)
    return list(torch.autograd.grad(loss, [params[n] for n in names]))


def clipped(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * coef for g in grads]


# ----- task 3: streams and truncated BPTT ---------------------------------------------------------
@pytest.mark.task(3)
@pytest.mark.parametrize("length, batch", [(103, 4), (50, 7)])
def test_make_streams(learner, length, batch):
    ids = torch.arange(length)
    per_row = length // batch
    want = ids[: batch * per_row].reshape(batch, per_row)
    got = call_with_inputs(
        f"make_streams(arange({length}), {batch})", learner.make_streams, ids.clone(), batch
    )
    if not isinstance(got, torch.Tensor):
        fail(f"make_streams should return a torch.Tensor; got {type(got).__name__}")
    assert_tensor(
        got,
        want,
        name=f"make_streams(torch.arange({length}), batch_size={batch})",
        rtol=0,
        atol=0,
        mistakes={
            "the ids dealt out in turn (row b = ids[b::B], interleaved): each row must be one "
            "contiguous stretch of the text, row b = ids[b·L:(b+1)·L], so that chunk k+1 of a row "
            "continues chunk k": ids[: batch * per_row].reshape(per_row, batch).T.contiguous(),
            "the streams laid out (L, B), time along the rows: this lab keeps one stream per row, "
            "(B, L)": want.T.contiguous(),
            "the leftover ids dropped at the front (the last B·L ids kept): keep the first B·L, "
            "ids[:B·L], so that row 0 starts at the start of the text": ids[
                length - batch * per_row :
            ].reshape(batch, per_row),
        },
    )


def tbptt_case() -> tuple[RecordingLM, RecordingSGD, torch.Tensor, int]:
    seed_everything(0)
    vocab, hidden, embed, batch, chunk = 13, 6, 4, 4, 5
    model = RecordingLM(vocab, hidden, embed)
    optimizer = RecordingSGD(model.parameters(), lr=0.5)
    streams = torch.randint(0, vocab, (batch, 3 * chunk + 1))
    return model, optimizer, streams, chunk


def recording_clip(calls: list[Any]) -> contextlib.ExitStack:
    """Patch clip_grad_norm_ (torch.nn.utils and its submodule) to note each max_norm it gets.

    A learner's module that imported the function by name gets patched too (see run_tbptt);
    one that clips some other way records nothing, and the values alone are judged.
    """
    real = torch.nn.utils.clip_grad.clip_grad_norm_

    def clip_grad_norm_(parameters: Any, max_norm: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(parameters, torch.Tensor):
            parameters = [parameters]
        parameters = list(parameters)
        grads = [p.grad for p in parameters if isinstance(p, torch.Tensor) and p.grad is not None]
        calls.append(
            {"max_norm": max_norm, "had_grads": any(bool(g.abs().sum() > 0) for g in grads)}
        )
        return real(parameters, max_norm, *args, **kwargs)

    stack = contextlib.ExitStack()
    for owner in (torch.nn.utils, torch.nn.utils.clip_grad):
        stack.enter_context(mock.patch.object(owner, "clip_grad_norm_", clip_grad_norm_))
    return stack


def run_tbptt(
    learner: Any, max_norm: float
) -> tuple[RecordingLM, RecordingSGD, torch.Tensor, int, Any]:
    model, optimizer, streams, chunk = tbptt_case()
    real = torch.nn.utils.clip_grad.clip_grad_norm_
    try:
        with recording_clip(model.clip_calls) as stack:
            if getattr(learner, "clip_grad_norm_", None) is real:  # from torch.nn.utils import …
                stack.enter_context(
                    mock.patch.object(learner, "clip_grad_norm_", torch.nn.utils.clip_grad_norm_)
                )
            losses = learner.train_tbptt(model, optimizer, streams.clone(), chunk, max_norm)
    except NotImplementedError:
        raise
    except RuntimeError as exc:
        check_state_history(model, f" (backward then raised: {str(exc).split('. ')[0]})")
        check_chunk_count(model, streams, chunk)
        raise
    check_state_history(model, "")
    check_chunk_count(model, streams, chunk)
    return model, optimizer, streams, chunk, losses


def check_chunk_count(model: RecordingLM, streams: torch.Tensor, chunk: int) -> None:
    calls = model.calls
    if len(calls) != 3 or any(call["tokens"].shape[-1] == 0 for call in calls):
        widths = [int(call["tokens"].shape[-1]) for call in calls]
        fail(
            f"the model was called {len(calls)} times, on chunks of {widths} columns, for streams "
            f"of {streams.shape[1]} columns and chunk_len={chunk}; expected 3 chunks of 5: inputs "
            "columns 0–4, 5–9, 10–14, targets one column later (the last column is only ever a "
            "target: loop over range(0, L - 1, chunk_len))"
        )


def check_state_history(model: RecordingLM, suffix: str) -> None:
    for k, call in enumerate(model.calls[1:], start=1):
        for name, entry in zip(("h", "c"), call["state"] or [], strict=False):
            if entry["history"]:
                fail(
                    f"the state passed to the model for chunk {k + 1} was not detached: its {name} "
                    "still has autograd history (a grad_fn) from the previous chunk, so the graph "
                    f"spans chunks and backward runs back into chunk {k}{suffix}. Hand on "
                    "`tuple(s.detach() for s in state)`: the values go on, the history stops"
                )


@pytest.mark.task(3)
def test_train_tbptt_carries_and_detaches_the_state(learner):
    model, _optimizer, streams, chunk, _losses = run_tbptt(learner, 1e6)
    calls = model.calls
    for k, call in enumerate(calls):
        want = streams[:, k * chunk : (k + 1) * chunk]
        if not torch.equal(call["tokens"], want):
            fail(
                f"chunk {k + 1}: the model got inputs {call['tokens'][0].tolist()} (row 0); "
                f"expected columns {k * chunk}–{(k + 1) * chunk - 1} of the streams, "
                f"{want[0].tolist()}"
            )
    first = calls[0]["state"]
    if first is not None and any(e["value"].abs().max().item() > 0 for e in first):
        fail("the first chunk should start from no state (None, or zeros)")
    for k, call in enumerate(calls[1:], start=1):
        previous = calls[k - 1]["out"]
        state = call["state"]
        if state is None or all(e["value"].abs().max().item() == 0 for e in state):
            fail(
                f"the state was reset for chunk {k + 1} (the model got "
                f"{'None' if state is None else 'zeros'}): carry the state from chunk {k} on — "
                "row b of the next chunk continues row b of this one, so its memory still applies"
            )
        for name, entry, value in zip(("h", "c"), state, previous, strict=False):
            if entry["value"].shape != value.shape or not torch.allclose(entry["value"], value):
                fail(
                    f"the {name} passed to the model for chunk {k + 1} is not the {name} the model "
                    f"returned for chunk {k}: hand the returned state on (detached), unchanged"
                )


def chunk_case(
    model: RecordingLM, streams: torch.Tensor, chunk: int, k: int
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Chunk k's inputs and targets (from the check's own streams) and the state it received."""
    call = model.calls[k]
    tokens = streams[:, k * chunk : (k + 1) * chunk]
    targets = streams[:, k * chunk + 1 : (k + 1) * chunk + 1]
    state = None if call["state"] is None else [e["value"] for e in call["state"]]
    return tokens, targets, state


def gradient_mistakes(
    reference: nn.Module,
    names: list[str],
    values: list[torch.Tensor],
    tokens: torch.Tensor,
    targets: torch.Tensor,
    state: Any,
    want: list[torch.Tensor],
    previous: list[torch.Tensor] | None,
) -> dict[str, Callable[[], list[torch.Tensor]]]:
    found: dict[str, Callable[[], list[torch.Tensor]]] = {}
    if previous is not None:
        found[
            "gradients accumulated across chunks: call optimizer.zero_grad() before each "
            "backward (PyTorch adds every backward's gradients to .grad)"
        ] = lambda: [g + p for g, p in zip(want, previous, strict=True)]
    found[
        "the inputs used as targets (not shifted by one): the target of position t is the "
        "token at t + 1"
    ] = lambda: reference_grads(reference, names, values, tokens, tokens, state)
    found[
        "a summed loss (reduction='sum'): use the mean cross-entropy over the chunk's B·T positions"
    ] = lambda: [g * tokens.numel() for g in want]
    batch, steps = targets.shape
    mixed = (
        "while the other stays batch-first: each logit row then meets another position's "
        "target — flatten both the same way, logits.reshape(-1, V) and targets.reshape(-1)"
    )
    found["the targets flattened time-first (targets.T.reshape(-1)) " + mixed] = lambda: (
        reference_grads(reference, names, values, tokens, targets.T.reshape(batch, steps), state)
    )
    found["the logits flattened time-first (logits.transpose(0, 1)) " + mixed] = lambda: (
        reference_grads(reference, names, values, tokens, targets.reshape(steps, batch).T, state)
    )
    return found


@pytest.mark.task(3)
def test_train_tbptt_steps_on_each_chunks_gradient(learner):
    model, optimizer, streams, chunk, losses = run_tbptt(learner, 1e6)
    names = [n for n, _ in model.named_parameters()]
    reference = ReferenceLM(13, 6, 4)
    if len(optimizer.seen) != 3:
        fail(
            f"optimizer.step() was called {len(optimizer.seen)} times for 3 chunks; expected "
            "once per chunk"
        )
    previous: list[torch.Tensor] | None = None
    want_losses = []
    for k, seen in enumerate(optimizer.seen):
        tokens, targets, state = chunk_case(model, streams, chunk, k)
        values = [p for p in seen["params"] if p is not None]
        want = reference_grads(reference, names, values, tokens, targets, state)
        with torch.no_grad():
            params = dict(zip(names, values, strict=True))
            want_losses.append(chunk_loss(reference, params, tokens, targets, state).item())
        candidates = gradient_mistakes(
            reference, names, values, tokens, targets, state, want, previous
        )
        grads = seen["grads"]
        for index, name in enumerate(names):
            got = grads[index]
            if got is None:
                fail(
                    f"when optimizer.step() ran for chunk {k + 1}, {name}.grad was None: call "
                    "loss.backward() before optimizer.step() (and zero the gradients before "
                    "backward, not between backward and step)"
                )
            assert_tensor(
                got,
                want[index],
                name=f"{name}.grad when optimizer.step() ran for chunk {k + 1}",
                rtol=1e-4,
                atol=1e-6,
                mistakes={label: (lambda f=f, i=index: f()[i]) for label, f in candidates.items()},
            )
        previous = [g for g in grads if g is not None]
    if not isinstance(losses, list | tuple) or len(losses) != 3:
        fail(f"train_tbptt should return a list of 3 losses, one per chunk; got {losses!r:.80}")
    for k, got in enumerate(losses):
        if isinstance(got, torch.Tensor):
            kept = (
                ", and it still holds its chunk's autograd graph (a grad_fn): a list of them keeps "
                "every chunk's graph alive"
                if got.grad_fn is not None
                else ""
            )
            fail(
                f"the loss returned for chunk {k + 1} is a torch.Tensor, not a float{kept}. "
                "Append loss.item()"
            )
    for k, (got, want_loss) in enumerate(zip(losses, want_losses, strict=True)):
        assert_close(float(got), want_loss, name=f"the loss returned for chunk {k + 1}", rtol=1e-4)


def flat(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def clipping_mistakes(raw: list[torch.Tensor], max_norm: float) -> dict[str, Callable[[], Any]]:
    return {
        "gradients that were not clipped: call torch.nn.utils.clip_grad_norm_("
        "model.parameters(), max_norm) after backward and before optimizer.step()": lambda: flat(
            raw
        ),
        "each value clipped to ±max_norm (clip_grad_value_): clip the norm of all the "
        "gradients together, clip_grad_norm_": lambda: flat(
            [g.clamp(-max_norm, max_norm) for g in raw]
        ),
        "each parameter's gradient clipped on its own: clip_grad_norm_ takes all the "
        "parameters at once, so their joint norm is at most max_norm": lambda: flat(
            [clipped([g], max_norm)[0] for g in raw]
        ),
    }


@pytest.mark.task(3)
def test_train_tbptt_clips_the_gradient_norm(learner):
    max_norm = 0.05
    model, optimizer, streams, chunk, _losses = run_tbptt(learner, max_norm)
    names = [n for n, _ in model.named_parameters()]
    reference = ReferenceLM(13, 6, 4)
    for k, call in enumerate(model.clip_calls):
        given = call["max_norm"]
        try:
            same = math.isclose(float(given), max_norm)
        except (TypeError, ValueError):
            same = False
        if not call["had_grads"]:
            fail(
                f"clip_grad_norm_ call {k + 1} ran while every gradient was None or zero (not yet "
                "filled by loss.backward(), or already cleared by zero_grad): it clipped nothing. "
                "The order is zero_grad, backward, clip_grad_norm_, step"
            )
        if not same:
            fail(
                f"clip_grad_norm_ was called with max_norm={given!r}, but train_tbptt was given "
                f"max_norm={max_norm}: pass the argument on, clip_grad_norm_(model.parameters(), "
                "max_norm)"
            )
    for k, seen in enumerate(optimizer.seen[: len(model.calls)]):
        tokens, targets, state = chunk_case(model, streams, chunk, k)
        grads = [g for g in seen["grads"] if g is not None]
        if len(grads) != len(names):
            fail(f"some gradients were None when optimizer.step() ran for chunk {k + 1}")
        values = [p for p in seen["params"] if p is not None]
        raw = reference_grads(reference, names, values, tokens, targets, state)
        norm = torch.linalg.vector_norm(flat(grads)).item()
        assert_tensor(
            flat(grads),
            flat(clipped(raw, max_norm)),
            name=f"the gradients (all parameters, flattened) when optimizer.step() ran for chunk "
            f"{k + 1} with max_norm={max_norm} (their norm is {norm:.4g})",
            rtol=1e-4,
            atol=1e-7,
            mistakes=clipping_mistakes(raw, max_norm),
        )


# ----- task 4: perplexity and a trained model ---------------------------------------------------
def reference_perplexity(
    model: nn.Module,
    streams: torch.Tensor,
    chunk: int,
    *,
    carry: str = "on",
    shifted: bool = True,
    combine: str = "exp-mean",
) -> float:
    """The perplexity, or (with another ``carry``/``shifted``/``combine``) what a slip gives.

    ``carry``: "on" (the state handed from chunk to chunk), "off" (every chunk from zeros),
    "first" (every chunk after the first from the first chunk's final state).
    """
    state = None
    total, count, means, rows, steps = 0.0, 0, [], 0, 0
    with torch.no_grad():
        for start in range(0, streams.shape[1] - 1, chunk):
            targets = streams[:, start + 1 : start + 1 + chunk]
            inputs = streams[:, start : start + targets.shape[1]]
            logits, new_state = model(inputs, None if carry == "off" else state)
            if carry == "on" or (carry == "first" and state is None):
                state = new_state
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                (targets if shifted else inputs).reshape(-1),
                reduction="sum",
            ).item()
            total += loss
            count += targets.numel()
            rows += targets.shape[0]
            steps += targets.shape[1]
            means.append(loss / targets.numel())
    mean = total / count
    return {
        "exp-mean": lambda: math.exp(mean),
        "exp-sum": lambda: math.exp(total),
        "exp-sum-of-means": lambda: math.exp(sum(means)),
        "2**mean": lambda: 2.0**mean,
        "mean": lambda: mean,
        "mean-of-exp": lambda: sum(math.exp(m) for m in means) / len(means),
        "sum-of-means/count": lambda: math.exp(sum(means) / count),
        "sum/rows": lambda: math.exp(total / rows),
        "sum/steps": lambda: math.exp(total / steps),
        "sum/chunks": lambda: math.exp(total / len(means)),
    }[combine]()


def perplexity_mistakes(
    model: nn.Module, streams: torch.Tensor, chunk: int
) -> dict[str, Callable[[], float]]:
    def v(**kw: Any) -> Callable[[], float]:
        return lambda: reference_perplexity(model, streams, chunk, **kw)

    return {
        "exp of the summed loss: perplexity is exp of the mean cross-entropy per predicted "
        "character (sum the losses, then divide by the number of targets)": v(combine="exp-sum"),
        "exp of the sum of the per-chunk mean losses: average over all predicted characters "
        "before the exp": v(combine="exp-sum-of-means"),
        "2 ** loss, a perplexity with log base 2 — cross_entropy is in nats (natural log), so "
        "perplexity = e ** loss": v(combine="2**mean"),
        "the mean cross-entropy itself, without the exp": v(combine="mean"),
        "the mean of the per-chunk perplexities: take the exp once, of the mean over all "
        "characters": v(combine="mean-of-exp"),
        "the state reset to zeros at each chunk: carry it from chunk to chunk, as in training": v(
            carry="off"
        ),
        "every chunk after the first started from the first chunk's final state: the state "
        "was not updated from chunk to chunk — take the state each call returns, "
        "`logits, state = model(inputs, state)`": v(carry="first"),
        "the per-chunk mean losses added up and then divided by the number of targets: either "
        "sum with reduction='sum' and divide by the count, or average the means — not both": v(
            combine="sum-of-means/count"
        ),
        "the summed loss divided by the number of rows (B per chunk), not by the number of "
        "predicted characters (B·T per chunk, targets.numel())": v(combine="sum/rows"),
        "the summed loss divided by the number of time steps (T per chunk), not by the number "
        "of predicted characters (B·T per chunk, targets.numel())": v(combine="sum/steps"),
        "the summed loss divided by the number of chunks, not by the number of predicted "
        "characters (B·T per chunk, targets.numel())": v(combine="sum/chunks"),
        "the inputs used as targets (not shifted by one)": v(shifted=False),
    }


@pytest.mark.task(4)
def test_perplexity(learner):
    seed_everything(0)
    model = ReferenceLM(13, 8, 4)
    # few targets (2 × 12): even exp of the *summed* loss stays finite in float32, to be named
    streams = torch.randint(0, 13, (2, 3 * 4 + 1))
    before = [p.detach().clone() for p in model.parameters()]
    label = "perplexity(model, streams (2, 13), chunk_len=4)"
    got = call_with_inputs(label, learner.perplexity, model, streams.clone(), 4)
    for p, old in zip(model.parameters(), before, strict=True):
        if not torch.equal(p.detach(), old):
            fail("perplexity() changed the model's parameters: it only measures, it must not train")
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    assert_close(
        got,
        reference_perplexity(model, streams, 4),
        name=label,
        rtol=1e-5,
        mistakes=perplexity_mistakes(model, streams, 4),
    )


@functools.lru_cache(maxsize=1)
def lm_data() -> tuple[int, torch.Tensor, torch.Tensor, float]:
    """(vocab size, train streams (64, 843), val streams (16, 353), unigram perplexity on val)."""
    text = text_corpus(CORPUS_CHARS)
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    split = int(len(ids) * TRAIN_FRACTION)
    train, val = ids[:split], ids[split:]
    per_row = len(train) // BATCH
    train_streams = train[: BATCH * per_row].reshape(BATCH, per_row)
    val_len = VAL_CHUNKS * VAL_CHUNK + 1
    val_streams = val[: VAL_STREAMS * val_len].reshape(VAL_STREAMS, val_len)
    counts = torch.bincount(train, minlength=len(vocab)).double() + 1.0  # add-one smoothing
    log_p = torch.log(counts / counts.sum())
    unigram = math.exp(-log_p[val_streams[:, 1:]].mean().item())
    return len(vocab), train_streams, val_streams, unigram


@pytest.mark.task(4)
def test_trained_char_lstm_beats_the_unigram_baseline(learner):
    vocab, train_streams, val_streams, unigram = lm_data()
    target = TARGET_RATIO * unigram
    model = make_model(learner, vocab, HIDDEN, EMBED)
    few = val_streams[:2, : 2 * VAL_CHUNK + 1]  # 128 targets: exp of a summed loss stays finite
    label = f"your perplexity(model, validation streams {tuple(few.shape)}, {VAL_CHUNK})"
    call_with_inputs(label, learner.perplexity, model, few.clone(), VAL_CHUNK)  # before training
    seed_everything(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    window = ROUND * CHUNK
    windows = (train_streams.shape[1] - 1) // window
    history: list[tuple[int, float]] = []
    for r in range(BUDGET // ROUND):
        start = (r % windows) * window
        part = train_streams[:, start : start + window + 1].clone()
        call_with_inputs(
            f"train_tbptt(model, optimizer, streams {tuple(part.shape)}, chunk_len={CHUNK})",
            learner.train_tbptt,
            model,
            optimizer,
            part,
            CHUNK,
            1.0,
        )
        value = reference_perplexity(model, val_streams, VAL_CHUNK)
        steps = (r + 1) * ROUND
        if math.isnan(value):
            fail(f"validation perplexity became NaN after {steps} steps: training diverged")
        history.append((steps, value))
        if value <= target:
            break
    else:
        best_steps, best = min(history, key=lambda item: item[1])
        fail(
            f"validation perplexity did not reach ≤ {target:.4g} (0.35 × the unigram baseline "
            f"{unigram:.4g}) within {BUDGET} steps: best {best:.4g} after {best_steps} steps, "
            f"last {history[-1][1]:.4g} (CharLSTM(vocab_size={vocab}, hidden_size={HIDDEN}, "
            f"embed_size={EMBED}), Adam lr={LEARNING_RATE}, {BATCH} streams, chunks of {CHUNK}). "
            "For scale: a table of which character follows which scores about 12 here"
        )
    label = label.replace("(model", "(trained model")
    theirs = call_with_inputs(label, learner.perplexity, model, few.clone(), VAL_CHUNK)
    if isinstance(theirs, torch.Tensor) and theirs.numel() == 1:
        theirs = theirs.item()
    assert_close(
        theirs,
        reference_perplexity(model, few, VAL_CHUNK),
        name=label,
        rtol=1e-4,
        mistakes=perplexity_mistakes(model, few, VAL_CHUNK),
    )
