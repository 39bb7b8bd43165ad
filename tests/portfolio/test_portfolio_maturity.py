"""`aipath audit --kind pipeline` scores the MLOps maturity level a repository reaches.

Hand-built repositories at each level (so each criterion is shown to find what it claims and
nothing else), the scaffold untouched and changed by a learner (so template code earns nothing).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from portfolio_helpers import commit_all, git

from aipath.portfolio import audit_repository

pytestmark = pytest.mark.xdist_group("portfolio-pipeline")

TRAIN = """\
    import joblib
    from sklearn.linear_model import Ridge


    def train(frame):
        model = Ridge().fit(frame[["x"]], frame["y"])
        joblib.dump(model, "model.joblib")
        return model
"""
PIPELINE = """\
    from sklearn.linear_model import Ridge


    def validate_batch(frame):
        return [] if frame["x"].notna().all() else ["missing x"]


    def retrain(frame):
        return Ridge().fit(frame[["x"]], frame["y"])


    def evaluate(candidate, champion, holdout):
        return candidate.score(holdout[["x"]], holdout["y"]) >= champion


    def promote(registry, candidate, wins):
        if wins:
            registry["champion"] = candidate
        return wins
"""
GATE_TEST = """\
    from pipeline import promote


    def test_a_losing_candidate_is_not_promoted():
        registry = {"champion": "old"}
        assert promote(registry, "new", wins=False) is False
        assert registry["champion"] == "old"
"""
RETRAIN_SCHEDULED = """\
    name: retrain
    on:
      schedule:
        - cron: "0 5 * * 1"
    jobs:
      retrain:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: python -m pipeline
"""
CI_ON_PUSH = """\
    name: ci
    on: [push, pull_request]
    jobs:
      test:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: pytest
"""
RETRAIN_TESTED_AND_DEPLOYED = """\
    name: retrain
    on:
      schedule:
        - cron: "0 5 * * 1"
      push:
        paths: ["data/**"]
    jobs:
      retrain:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: pytest
          - run: python -m pipeline
          - run: docker build -t house-prices:latest-champion .
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def levels(root: Path) -> tuple[int, dict[str, bool]]:
    report = audit_repository(root, kind="pipeline")
    assert report.maturity is not None
    return report.maturity.level, {c.id: c.met for c in report.maturity.criteria}


def test_no_training_code_is_not_yet_level_one(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "# Notes\n", "util.py": "def add(a, b):\n    return a + b\n"})
    report = audit_repository(tmp_path, kind="pipeline")
    assert report.maturity is not None and report.maturity.level == 0
    check = report.check("maturity")
    assert check.status == "fail"
    assert "level 0 of 3" in check.summary and "A model trained by code" in check.summary
    assert check.fix is not None and ".fit" in check.fix


def test_training_by_hand_is_level_one_and_names_what_level_two_needs(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    level, met = levels(tmp_path)
    assert level == 1
    assert met["training_code"] and not met["pipeline_steps"] and not met["trigger"]
    report = audit_repository(tmp_path, kind="pipeline")
    assert report.maturity is not None
    missing = {c.id for c in report.maturity.missing()}
    assert missing == {"pipeline_steps", "trigger", "gate_tests"}
    training = report.maturity.criteria[0]
    assert training.summary == "your code trains a model and saves it"
    assert {e.file for e in training.evidence} == {"train.py"}


def test_a_scheduled_tested_pipeline_is_level_two(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.py": PIPELINE,
            "tests/test_gate.py": GATE_TEST,
            ".github/workflows/retrain.yml": RETRAIN_SCHEDULED,
        },
    )
    level, met = levels(tmp_path)
    assert level == 2
    assert not met["ci_tests"] and not met["tests_before_training"] and not met["automated_deploy"]
    check = audit_repository(tmp_path, kind="pipeline").check("maturity")
    assert check.status == "warn" and "for level 3" in check.summary


def test_ci_tests_and_an_automatic_deployment_reach_level_three(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.py": PIPELINE,
            "tests/test_gate.py": GATE_TEST,
            ".github/workflows/ci.yml": CI_ON_PUSH,
            ".github/workflows/retrain.yml": RETRAIN_TESTED_AND_DEPLOYED,
        },
    )
    level, met = levels(tmp_path)
    assert level == 3, met
    report = audit_repository(tmp_path, kind="pipeline")
    assert report.check("maturity").status == "pass"
    assert report.maturity is not None and report.maturity.missing() == []
    deploy = next(c for c in report.maturity.criteria if c.id == "automated_deploy")
    assert deploy.evidence[0].file == ".github/workflows/retrain.yml"
    assert deploy.evidence[0].line == 14


def test_a_pipeline_only_started_by_hand_is_not_automated(tmp_path: Path) -> None:
    manual = RETRAIN_SCHEDULED.replace(
        'schedule:\n        - cron: "0 5 * * 1"', "workflow_dispatch:"
    )
    write(
        tmp_path,
        {
            "pipeline.py": PIPELINE,
            "tests/test_gate.py": GATE_TEST,
            ".github/workflows/retrain.yml": manual,
        },
    )
    report = audit_repository(tmp_path, kind="pipeline")
    assert report.maturity is not None and report.maturity.level == 1
    trigger = next(c for c in report.maturity.criteria if c.id == "trigger")
    assert not trigger.met
    assert trigger.summary == "a workflow runs the pipeline, but only when someone starts it"


def test_untested_retraining_and_ungated_deployment_are_named(tmp_path: Path) -> None:
    untested = RETRAIN_TESTED_AND_DEPLOYED.replace("          - run: pytest\n", "")
    deploy_first = untested.replace(
        "          - run: python -m pipeline\n          - run: docker build -t house-prices:latest-champion .\n",
        "          - run: docker build -t house-prices:latest-champion .\n          - run: python -m pipeline\n",
    )
    write(
        tmp_path,
        {
            "pipeline.py": PIPELINE,
            "tests/test_gate.py": GATE_TEST,
            ".github/workflows/ci.yml": CI_ON_PUSH,
            ".github/workflows/retrain.yml": deploy_first,
        },
    )
    report = audit_repository(tmp_path, kind="pipeline")
    assert report.maturity is not None and report.maturity.level == 2
    found = {c.id: c for c in report.maturity.criteria}
    assert found["tests_before_training"].summary == (
        "the automated pipeline runs without the test suite first"
    )
    assert found["automated_deploy"].summary == (
        "a deployment step runs without tests or the pipeline before it"
    )


def test_a_gate_test_must_exercise_the_project(tmp_path: Path) -> None:
    hollow = 'def test_promotion_gate():\n    assert "champion"\n'
    write(
        tmp_path,
        {
            "pipeline.py": PIPELINE,
            "tests/test_gate.py": hollow,
            ".github/workflows/retrain.yml": RETRAIN_SCHEDULED,
        },
    )
    level, met = levels(tmp_path)
    assert level == 1 and not met["gate_tests"]


def test_the_untouched_scaffold_earns_no_level(scaffolded: Callable[[str], Path]) -> None:
    report = audit_repository(scaffolded("pipeline"), kind="pipeline")
    assert report.untouched_scaffold and report.maturity is not None
    assert report.maturity.level == 0
    # The scaffold's workflows are found but said to be unchanged; its code counts for nothing.
    trigger = next(c for c in report.maturity.criteria if c.id == "trigger")
    assert trigger.met
    assert all("(the scaffold's workflow, unchanged)" in e.detail for e in trigger.evidence)


def test_only_the_scaffold_functions_a_learner_changed_count(
    scaffolded: Callable[[str], Path], tmp_path: Path
) -> None:
    repo = tmp_path / "project"
    shutil.copytree(scaffolded("pipeline"), repo)
    package = next((repo / "src").iterdir())
    pipeline = package / "pipeline.py"
    # A comment is not work: the steps stay the scaffold's.
    pipeline.write_text(
        pipeline.read_text(encoding="utf-8").replace(
            "def promote(", "# promote every passing candidate\ndef promote("
        ),
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Comment the promotion step")
    level, met = levels(repo)
    assert level == 0 and not met["pipeline_steps"] and not met["gate_tests"]

    model = package / "model.py"
    model.write_text(
        model.read_text(encoding="utf-8").replace("max_iter=120", "max_iter=200"),
        encoding="utf-8",
    )
    text = pipeline.read_text(encoding="utf-8")
    for before, after in (
        ('"training data rejected: "', '"history rejected: "'),
        ('"""Judge the candidate on fresh data;', '"""Judge the candidate on the newest year;'),
        ('"""Register every candidate (for audit);', '"""Register each candidate;'),
    ):
        assert before in text
        text = text.replace(before, after)
    pipeline.write_text(text, encoding="utf-8")
    test_file = repo / "tests" / "test_pipeline.py"
    test_file.write_text(
        test_file.read_text(encoding="utf-8")
        + textwrap.dedent(
            f"""

            def test_my_gate_rejects_a_candidate_that_failed() -> None:
                from {package.name}.pipeline import Decision

                decision = Decision(2010, 1.0, 0.5, promote=False, reasons=["worse"])
                assert decision.promote is False
            """
        ),
        encoding="utf-8",
    )
    commit_all(repo, "Adapt the pipeline steps and test my gate")
    report = audit_repository(repo, kind="pipeline")
    assert report.maturity is not None
    found = {c.id: c for c in report.maturity.criteria}
    assert found["training_code"].met
    assert found["gate_tests"].met
    assert [e.detail for e in found["gate_tests"].evidence] == [
        "test_my_gate_rejects_a_candidate_that_failed()"
    ]


def test_json_and_markdown_carry_the_maturity_ladder(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    commit_all(tmp_path, "Train by hand")
    report = audit_repository(tmp_path, kind="pipeline")
    data = json.loads(report.model_dump_json())
    assert data["maturity"]["level"] == 1
    assert [c["level"] for c in data["maturity"]["criteria"]] == [1, 2, 2, 2, 3, 3, 3]
    markdown = report.to_markdown()
    assert "## MLOps maturity — level 1 of 3: Manual process" in markdown
    assert "**Level 2: Starts without a person: a schedule or new data**" in markdown
    assert audit_repository(tmp_path, kind="tabular").maturity is None
