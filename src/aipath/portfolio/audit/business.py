"""Business translation: does the README say what problem this solves and what it is worth?

Hiring managers ask whether a candidate can connect a metric to money or time.  The checks read
the README: a problem statement, a named metric with a number, and that number translated into
currency or hours under stated assumptions.
"""

from __future__ import annotations

import re

from aipath.portfolio.audit.context import AuditContext
from aipath.portfolio.audit.registry import Outcome, check, ev
from aipath.portfolio.audit.textutil import snippet

GROUP = "business"

METRICS = re.compile(
    r"\b(accuracy|precision|recall(@\d+)?|f1|f-score|roc[- ]?auc|auc|pr[- ]?auc|log[- ]?loss|"
    r"rmse|mae|mape|smape|mse|r2|r²|r-squared|mrr|ndcg(@\d+)?|map@\d+|hit rate|bleu|rouge|"
    r"perplexity|brier|latency|throughput)\b",
    re.I,
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
MONEY = re.compile(
    r"([$€£¥]\s?\d|\d\s?(k|m|bn)?\s?(usd|eur|gbp|dollars?|euros?|pounds)\b|"
    r"\b(usd|eur|gbp)\s?\d)",
    re.I,
)
TIME = re.compile(
    r"\b\d+(?:[.,]\d+)?\s?(hours?|hrs?|minutes?|mins?|days?|weeks?|months?|fte|person[- ]days?)\b",
    re.I,
)
VALUE_WORDS = re.compile(
    r"\b(cost|costs|revenue|saves?|saving|savings|profit|loss|budget|churn|time[- ]to|"
    r"hours?|money|spend|roi)\b",
    re.I,
)


def _blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs and tables with their first line number: a table's header names the metric
    and its rows hold the numbers, so they are judged together."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, "\n".join(current)))
            current = []
    if current:
        blocks.append((start, "\n".join(current)))
    return blocks


NO_README_FIX = "Write README.md; open it with the problem, who has it and what it costs them."


@check("business_problem", "README states the problem", group=GROUP, weight=4)
def business_problem(ctx: AuditContext) -> Outcome:
    doc = ctx.readme
    if doc is None:
        return Outcome("fail", "no README, so no problem statement", fix=NO_README_FIX)
    section = doc.topic("problem")
    fix = (
        "Open the README with a ‘Problem’ section: who has the problem, what it costs them "
        "today and what decision the model supports."
    )
    if section is not None and section.words >= 25:
        return Outcome(
            "pass",
            f"“{section.title}” ({section.words} words)",
            [ev(snippet(section.body), doc.rel, section.line)],
        )
    if section is not None:
        return Outcome(
            "warn",
            f"“{section.title}” is thin ({section.words} words)",
            [ev("", doc.rel, section.line)],
            fix=fix,
        )
    return Outcome("fail", "no problem or business section", fix=fix)


@check("business_metric", "README names the metric, with a number", group=GROUP, weight=4)
def business_metric(ctx: AuditContext) -> Outcome:
    doc = ctx.readme
    if doc is None:
        return Outcome("fail", "no README, so no metric", fix=NO_README_FIX)
    fix = (
        "State the metric you optimise and why it fits the decision (e.g. MAE in dollars for a "
        "price estimate, recall on complaints for triage), with the measured value."
    )
    named: tuple[int, str] | None = None
    for start, block in _blocks(doc.text):
        # Every metric of the block that has a number on its own line, in the order written:
        # "MAE 23,400 (RMSE 35,000)" is reported as MAE and RMSE, not as the first word that
        # happens to look like a metric ("accuracy" in a sentence about the goal).
        measured: list[tuple[int, str, str]] = []
        for match in METRICS.finditer(block):
            text_line = block[block.rfind("\n", 0, match.start()) + 1 :].split("\n", 1)[0]
            if NUMBER.search(METRICS.sub(" ", text_line)):
                line = start + block.count("\n", 0, match.start())
                measured.append((line, match.group(0), text_line))
        if measured:
            names = list(dict.fromkeys(m[1] for m in measured))
            line, _name, first = measured[0]
            return Outcome(
                "pass", f"{', '.join(names[:3])} reported", [ev(snippet(first), doc.rel, line)]
            )
        found = list(METRICS.finditer(block))
        if found and NUMBER.search(METRICS.sub(" ", block)):  # e.g. a table: header, then values
            names = list(dict.fromkeys(m.group(0) for m in found))
            line = start + block.count("\n", 0, found[0].start())
            first = block[found[0].start() :].splitlines()[0]
            return Outcome(
                "pass", f"{', '.join(names[:3])} reported", [ev(snippet(first), doc.rel, line)]
            )
        if found:
            line = start + block.count("\n", 0, found[0].start())
            named = named or (line, found[0].group(0))
    if named:
        return Outcome(
            "warn",
            f"{named[1]} named but no value next to it",
            [ev("metric named without a number", doc.rel, named[0])],
            fix=fix,
        )
    return Outcome("fail", "no evaluation metric named", fix=fix)


@check("business_value", "README translates the metric into money or time", group=GROUP, weight=5)
def business_value(ctx: AuditContext) -> Outcome:
    doc = ctx.readme
    if doc is None:
        return Outcome("fail", "no README, so no business value", fix=NO_README_FIX)
    fix = (
        "Translate the metric for a non-technical reader with stated assumptions: ‘an MAE of "
        "$15k on a $180k median price means …’, or hours of manual work saved per week."
    )
    hits = []
    for number, line in enumerate(doc.text.splitlines(), start=1):
        if MONEY.search(line) or TIME.search(line):
            hits.append(ev(snippet(line), doc.rel, number))
    if len(hits) >= 2:
        return Outcome("pass", "impact stated in money or time", hits[:3])
    if hits:
        return Outcome("warn", "impact stated once only", hits, fix=fix)
    words = doc.line_of(VALUE_WORDS)
    if words is not None:
        return Outcome(
            "warn", "value mentioned without a figure", [ev("no amount", doc.rel, words)], fix=fix
        )
    return Outcome("fail", "nothing in money or time", fix=fix)
