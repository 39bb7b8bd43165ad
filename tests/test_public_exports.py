"""Each package exports what it says: its ``__all__`` is the surface, every name resolves, and
the surface changes only on purpose (the expected sets below are edited with the change)."""

from __future__ import annotations

import importlib
import inspect

import pytest

EXPECTED: dict[str, set[str]] = {
    "aipath.grader": {
        "CheckRequest",
        "CheckResult",
        "ErrorInfo",
        "ErrorKind",
        "Status",
        "TestOutcome",
    },
    "aipath.labs": {
        "CONTENT_DIR",
        "Catalogue",
        "Lab",
        "LabManifest",
        "load_catalogue",
        "load_manifest",
    },
    "aipath.portfolio": {"AuditReport", "KINDS", "KindSpec", "audit_repository", "create_project"},
    "aipath.workspace": {"Workspace", "default_workspace_path", "find_workspace"},
    "aipath.curriculum": {"check_links", "checked_catalogue", "roadmap_with_labs"},
    "aipath.ids": {"LAB_ID", "PHASE_ID", "SKILL_ID", "SLUG", "TOPIC_ID", "suggest"},
    "aipath.learner_writes": {
        "MARK_KINDS",
        "NOTE_KINDS",
        "STUDY_TOPIC_KINDS",
        "UnknownId",
        "check_id",
        "known_ids",
        "log_study",
        "mark",
        "write_note",
    },
    "aipath.roadmap": {
        "Community",
        "DATA_DIR",
        "HiringCriterion",
        "JobReady",
        "MarketValue",
        "MaturityLevel",
        "MonthRange",
        "Pace",
        "Phase",
        "Project",
        "Resource",
        "Roadmap",
        "Skill",
        "Tool",
        "Topic",
        "load_roadmap",
    },
}
PACKAGES = [*EXPECTED, "aipath.checks", "aipath.planner", "aipath.progress"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_surface_is_what_it_says(name: str) -> None:
    assert set(importlib.import_module(name).__all__) == EXPECTED[name]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "a name is listed twice in __all__"
    for symbol in exported:
        assert getattr(module, symbol, None) is not None, f"{name}.{symbol} does not resolve"


def test_every_check_helper_is_documented() -> None:
    """Lab authors read these docstrings; an undocumented helper is not part of the library."""
    checks = importlib.import_module("aipath.checks")
    for symbol in checks.__all__:
        value = getattr(checks, symbol)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"aipath.checks.{symbol} has no docstring"
