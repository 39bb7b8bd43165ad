"""What a learner's background lets them skip or shorten — the one table, with its reasons.

The seed plans for a career-changer starting from scratch and says people who
already program go faster.  Rather than a blanket speed-up, each rule names the
roadmap skills (or whole topics) a background already covers and how much of
their hours remain: the refresher, the labs and the parts that are new.  The
plan prints every rule that applied with the hours it saved, so the learner
can see — and dispute — what was assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aipath.progress.types import Background


@dataclass(frozen=True)
class Discount:
    """``keep`` is the fraction of the targets' hours that stays in the plan."""

    rule: str
    background: Background
    label: str
    targets: tuple[str, ...]  # skill ids, or topic ids meaning all of their skills
    keep: float
    reason: str


DISCOUNTS: Final[tuple[Discount, ...]] = (
    Discount(
        rule="developer-python",
        background="developer",
        label="Python for services: async I/O, REST, WebSockets, typing, testing",
        targets=(
            "p1.python.asyncio",
            "p1.python.rest-apis",
            "p1.python.websockets",
            "p1.python.type-hints",
            "p1.python.testing",
        ),
        keep=0.4,
        reason="a working developer already builds and tests networked code; what is left is "
        "Python's own idioms and the labs, not the concepts",
    ),
    Discount(
        rule="developer-git",
        background="developer",
        label="Everyday git: commits, branches, pull requests, reviews, conflicts",
        targets=("p1.git.basics", "p1.git.collaboration"),
        keep=0.2,
        reason="team version control is daily work for a developer; only the data-specific "
        "parts (large files, notebooks) stay at full length",
    ),
    Discount(
        rule="developer-ops",
        background="developer",
        label="Containers and CI pipelines",
        targets=("p4.containers.docker", "p4.containers.compose", "p4.cicd.workflows"),
        keep=0.5,
        reason="Dockerfiles and CI workflows are common developer tooling; the ML-specific "
        "parts (training pipelines, model gates) remain",
    ),
    Discount(
        rule="data-scientist-dataframes",
        background="data-scientist",
        label="NumPy and pandas",
        targets=("p1.python.numpy", "p1.python.pandas"),
        keep=0.25,
        reason="array and table wrangling is the core of a data scientist's day",
    ),
    Discount(
        rule="data-scientist-statistics",
        background="data-scientist",
        label="Probability and statistics",
        targets=("p1.math.probability",),
        keep=0.35,
        reason="distributions, hypothesis tests and Bayesian reasoning are familiar tools; "
        "a refresher and the lab suffice",
    ),
    Discount(
        rule="data-scientist-math",
        background="data-scientist",
        label="Linear algebra and calculus",
        targets=("p1.math.linear-algebra", "p1.math.calculus"),
        keep=0.7,
        reason="usually met in training; the geometric view and gradients still deserve time",
    ),
    Discount(
        rule="data-scientist-classical-ml",
        background="data-scientist",
        label="Classical ML: scikit-learn pipelines, boosting, features, evaluation",
        targets=("p2.ml",),
        keep=0.35,
        reason="classical modelling on tabular data is what data scientists already ship; "
        "the labs check the leakage-free habits quickly",
    ),
    Discount(
        rule="data-scientist-projects",
        background="data-scientist",
        label="Phase-2 projects (tabular, time series, text)",
        targets=("p2.projects.tabular", "p2.projects.time-series", "p2.projects.nlp-basics"),
        keep=0.7,
        reason="the portfolio still needs them in public, but familiar ground goes faster",
    ),
    Discount(
        rule="data-scientist-notebooks",
        background="data-scientist",
        label="Notebooks under version control",
        targets=("p1.git.notebooks",),
        keep=0.5,
        reason="notebooks are a data scientist's home; only pairing and clean diffs are new",
    ),
)


def rules_for(background: Background) -> tuple[Discount, ...]:
    """The rules that apply to ``background`` (none for a beginner)."""
    return tuple(d for d in DISCOUNTS if d.background == background)


def all_targets() -> set[str]:
    """Every id the table names (a test checks each exists in the roadmap)."""
    return {t for d in DISCOUNTS for t in d.targets}
