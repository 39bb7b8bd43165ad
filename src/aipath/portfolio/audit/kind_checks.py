"""Checks that only make sense for one kind of project (``--kind``)."""

from __future__ import annotations

import ast
import re

from aipath.portfolio.audit.context import AuditContext
from aipath.portfolio.audit.models import Evidence
from aipath.portfolio.audit.readme import has_number
from aipath.portfolio.audit.registry import Outcome, check, ev

GROUP = "kind"
TABLE_ROW = re.compile(r"^\s*\|.*\d.*\|\s*$")
TIME_SPLIT_NAMES = re.compile(
    r"backtest|rolling_origin|walk_forward|expanding_window|temporal_split|time_split"
)
RETRIEVAL_METRICS = re.compile(r"recall@|recall_at|mrr|reciprocal_rank|ndcg|hit_rate|hits@", re.I)


@check("model_card", "Model card or results table", group=GROUP, weight=10, kinds=("tabular",))
def model_card(ctx: AuditContext) -> Outcome:
    cards = [
        e.rel for e in ctx.files.entries if e.name.lower() in {"model_card.md", "modelcard.md"}
    ]
    fix = (
        "Add MODEL_CARD.md (intended use, data, metrics by segment, limitations) or a results "
        "table in the README comparing the model with a baseline."
    )
    if cards:
        return Outcome("pass", f"model card {cards[0]}", [ev("model card", cards[0])])
    doc = ctx.readme
    if doc is not None:
        for number, line in enumerate(doc.text.splitlines(), start=1):
            if TABLE_ROW.match(line):
                return Outcome(
                    "warn",
                    "results table in the README, no model card",
                    [ev("table", doc.rel, number)],
                    fix=fix,
                )
    return Outcome("fail", "no model card and no results table", fix=fix)


@check("time_split", "Time-ordered validation", group=GROUP, weight=10, kinds=("timeseries",))
def time_split(ctx: AuditContext) -> Outcome:
    ordered: list[Evidence] = []
    shuffled: list[Evidence] = []
    for mod in ctx.modules:
        for name, call in mod.index.calls:
            if name == "TimeSeriesSplit":
                ordered.append(ev("TimeSeriesSplit", mod.rel, call.lineno))
            elif name == "train_test_split":
                no_shuffle = any(
                    k.arg == "shuffle"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is False
                    for k in call.keywords
                )
                label = "shuffle=False" if no_shuffle else "shuffled"
                (ordered if no_shuffle else shuffled).append(
                    ev(f"train_test_split({label})", mod.rel, call.lineno)
                )
        for fn in mod.index.functions:
            if TIME_SPLIT_NAMES.search(fn.name):
                ordered.append(ev(f"{fn.name}()", mod.rel, fn.lineno))
    fix = (
        "Validate on the most recent period only: TimeSeriesSplit or a rolling-origin backtest; "
        "never shuffle a time series before splitting."
    )
    if shuffled:
        return Outcome(
            "fail", "a shuffled split leaks the future into training", shuffled[:4], fix=fix
        )
    if ordered:
        return Outcome("pass", "validation respects time order", ordered[:4])
    return Outcome("warn", "no time-ordered split found", fix=fix)


@check("text_baseline", "Compared with a simple baseline", group=GROUP, weight=10, kinds=("nlp",))
def text_baseline(ctx: AuditContext) -> Outcome:
    code = ctx.grep(("DummyClassifier", "majority", "baseline"))
    doc = ctx.readme
    readme_rows = []
    if doc is not None:
        readme_rows = [
            ev("baseline in the README", doc.rel, n)
            for n, line in enumerate(doc.text.splitlines(), start=1)
            if re.search(r"baseline|majority", line, re.I) and has_number(line)
        ]
    fix = (
        "Report a majority-class (DummyClassifier) and a TF-IDF baseline next to the model, "
        "so readers see what the model adds."
    )
    evidence = [ev("baseline in code", rel, n) for rel, n, _ in code[:2]] + readme_rows[:2]
    if code and readme_rows:
        return Outcome("pass", "baseline implemented and reported", evidence)
    if code or readme_rows:
        return Outcome("warn", "baseline in code or README, not both", evidence, fix=fix)
    return Outcome("fail", "no baseline comparison", fix=fix)


@check(
    "retrieval_eval", "Retrieval evaluation (recall@k, MRR)", group=GROUP, weight=10, kinds=("rag",)
)
def retrieval_eval(ctx: AuditContext) -> Outcome:
    code = [
        (rel, n)
        for rel, n, line in ctx.grep(("recall", "mrr", "reciprocal", "ndcg", "hit_rate"))
        if RETRIEVAL_METRICS.search(line)
    ]
    doc = ctx.readme
    reported = None
    if doc is not None:
        for number, line in enumerate(doc.text.splitlines(), start=1):
            if RETRIEVAL_METRICS.search(line) and has_number(line):
                reported = ev("retrieval metric reported", doc.rel, number)
                break
    fix = (
        "Build a labelled query set and report recall@k and MRR of the retriever in the README; "
        "test that they stay above a floor."
    )
    evidence = [ev("retrieval metric computed", rel, n) for rel, n in code[:2]]
    if code and reported:
        return Outcome("pass", "recall@k/MRR computed and reported", [*evidence, reported])
    if code or reported:
        return Outcome("warn", "retrieval metric computed or reported, not both", evidence, fix=fix)
    return Outcome("fail", "no retrieval evaluation", fix=fix)


@check(
    "promotion_gate",
    "Retrain → validate → promote, with tests",
    group=GROUP,
    weight=10,
    kinds=("pipeline",),
)
def promotion_gate(ctx: AuditContext) -> Outcome:
    steps: dict[str, Evidence] = {}
    tested = False
    # Only functions the learner wrote or changed: the scaffold's own loop is aipath's work.
    for mod, fn in ctx.learner_functions(tests=False):
        for step in ("retrain", "validate", "promote"):
            if step in fn.name:
                steps.setdefault(step, ev(f"{fn.name}()", mod.rel, fn.lineno))
    tested = any("promot" in fn.name for _, fn in ctx.learner_functions(tests=True))
    missing = [s for s in ("retrain", "validate", "promote") if s not in steps]
    fix = (
        "Write the loop as three functions — retrain on new data, validate the candidate against "
        "the champion with explicit gates, promote only if it passes — and test the gate."
    )
    if not missing and tested:
        return Outcome(
            "pass", "retrain, validate and promote steps, gate tested", list(steps.values())
        )
    if not steps and ctx.unchanged_scaffold:
        return Outcome(
            "fail", "the scaffold's retrain/validate/promote steps are unchanged", fix=fix
        )
    if len(missing) < 3:
        what = f"missing {', '.join(missing)}" if missing else "the promotion gate is untested"
        return Outcome("warn", what, list(steps.values()), fix=fix)
    return Outcome("fail", "no retrain/validate/promote steps", fix=fix)
