"""A deliberately poor repository scores at most 30 and the report names every problem."""

from __future__ import annotations

from pathlib import Path

from aipath.portfolio import audit_repository
from aipath.portfolio.audit.models import AuditReport, CheckResult


def _files(check: CheckResult) -> set[str]:
    return {ev.file for ev in check.evidence if ev.file}


def _report(poor_repo: Path) -> AuditReport:
    return audit_repository(poor_repo)


def test_poor_repository_scores_at_most_30(poor_repo: Path) -> None:
    report = _report(poor_repo)
    assert report.score <= 30, report.to_markdown()
    assert report.grade == "F"


def test_each_problem_is_named_with_its_evidence(poor_repo: Path) -> None:
    report = _report(poor_repo)
    notebooks = report.check("notebooks")
    assert notebooks.status == "fail"
    assert "analysis.ipynb" in _files(notebooks)
    assert "outputs" in " ".join(ev.detail for ev in notebooks.evidence)

    assert report.check("tests_present").status == "fail"

    secrets = report.check("secrets")
    assert secrets.status == "fail"
    assert ("config.py", 1) in {(ev.file, ev.line) for ev in secrets.evidence}
    assert "AWS Access Key" in secrets.summary

    for check_id in ("large_files", "data_files"):
        check = report.check(check_id)
        assert check.status == "fail"
        assert "data/train.csv" in _files(check)
    assert "Git LFS" in (report.check("large_files").fix or "")

    assert report.check("readme").summary == "no README"
    for check_id in ("business_problem", "business_metric", "business_value"):
        assert report.check(check_id).status == "fail"

    history = report.check("commit_history")
    assert history.status == "fail"
    assert "data/train.csv" in " ".join(ev.detail for ev in history.evidence)


def test_every_failure_says_how_to_fix_it(poor_repo: Path) -> None:
    report = _report(poor_repo)
    failed = [c for c in report.checks() if c.status == "fail"]
    assert len(failed) >= 10
    assert all(c.fix for c in failed)


def test_markdown_report_lists_the_problems(poor_repo: Path) -> None:
    text = _report(poor_repo).to_markdown()
    assert text.startswith("# Portfolio audit:")
    for needle in ("FAIL", "`config.py:1`", "`data/train.csv`", "analysis.ipynb", "*Fix:*"):
        assert needle in text
