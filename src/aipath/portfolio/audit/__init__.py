"""Score a repository 0–100 against what hiring managers look for, with evidence and fixes.

``audit_repository`` is the service both the CLI and the dashboard call.  It never executes the
audited code (ruff, git and detect-secrets only read files) unless ``run_tests`` is set, and every
check runs inside a guard so one surprising file yields a warning, not a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

from aipath.errors import AipathError
from aipath.portfolio.audit import (  # noqa: F401  (importing registers the checks)
    business,
    discipline,
    gitrepo,
    hygiene,
    kind_checks,
    maturity,
    ownership,
    rag,
)
from aipath.portfolio.audit.context import AuditContext
from aipath.portfolio.audit.models import (
    STATUS_CREDIT,
    AuditReport,
    CheckResult,
    Evidence,
    GroupResult,
    grade_for,
)
from aipath.portfolio.audit.registry import GROUPS, REGISTRY, CheckSpec, Outcome
from aipath.portfolio.audit.walker import Limits, RepoFiles, from_listing, walk
from aipath.portfolio.kinds import KINDS

__all__ = ["AuditReport", "CheckResult", "Evidence", "GroupResult", "audit_repository"]


def _load_files(root: Path, limits: Limits) -> tuple[RepoFiles, bool, list[str]]:
    notes: list[str] = []
    is_git = gitrepo.is_work_tree(root)
    if not gitrepo.git_available():
        notes.append("git is not installed: history and tracked-file checks cannot run")
    listing = gitrepo.list_files(root) if is_git else None
    if is_git and listing is None:
        notes.append("git could not list the files; walked the folder instead")
    if listing is not None:
        files = from_listing(root, listing[0], listing[1], limits)
    else:
        files = walk(root, limits)
        if not is_git:
            notes.append("not a git repository: the whole folder was walked")
    return files, is_git, notes


def _detect_kind(ctx: AuditContext) -> str | None:
    """A scaffolded project records its kind in ``[tool.aipath]`` of its pyproject."""
    py = ctx.pyproject
    if py is None or not isinstance(py.data, dict):
        return None
    tool = py.data.get("tool")
    section = tool.get("aipath") if isinstance(tool, dict) else None
    kind = section.get("kind") if isinstance(section, dict) else None
    return kind if isinstance(kind, str) and kind in KINDS else None


def _run(spec: CheckSpec, ctx: AuditContext) -> CheckResult:
    try:
        outcome = spec.fn(ctx)
    except Exception as exc:  # one odd file must cost a check, never the whole audit
        outcome = Outcome(
            "warn",
            f"check could not complete: {type(exc).__name__}: {exc}"[:300],
            fix="Report this to aipath with the repository layout that triggered it.",
        )
    return CheckResult(
        id=spec.id,
        title=spec.title,
        group=spec.group,
        status=outcome.status,
        weight=spec.weight,
        summary=outcome.summary,
        evidence=outcome.evidence,
        fix=None if outcome.status in ("pass", "skip") else outcome.fix,
    )


def _score(checks: list[CheckResult]) -> int | None:
    counted = [c for c in checks if c.status != "skip"]
    weight = sum(c.weight for c in counted)
    if weight == 0:
        return None
    earned = sum(c.weight * STATUS_CREDIT[c.status] for c in counted)
    return round(100 * earned / weight)


def audit_repository(
    path: Path,
    kind: str | None = None,
    run_tests: bool = False,
    *,
    test_timeout_s: float = 300.0,
    limits: Limits | None = None,
) -> AuditReport:
    """Audit the repository at ``path``; ``kind`` adds that project kind's checks."""
    started = time.monotonic()
    root = Path(path).expanduser()
    if not root.exists():
        raise AipathError(f"{path} does not exist", hint="pass the folder of a repository")
    if not root.is_dir():
        raise AipathError(f"{path} is not a folder", hint="pass the repository's top folder")
    if kind is not None and kind not in KINDS:
        raise AipathError(
            f"unknown project kind {kind!r}", hint=f"choose one of: {', '.join(KINDS)}"
        )
    root = root.resolve()
    files, is_git, notes = _load_files(root, limits or Limits())
    ctx = AuditContext(
        root=root,
        files=files,
        is_git=is_git,
        kind=kind,
        run_tests=run_tests,
        test_timeout_s=test_timeout_s,
        notes=notes,
    )
    if kind is None:
        ctx.kind = _detect_kind(ctx)
        if ctx.kind:
            notes.append(f"kind {ctx.kind!r} read from [tool.aipath] in pyproject.toml")
    if not files.entries:
        notes.append("the folder has no files to audit")
    if files.truncated:
        notes.append(f"stopped listing after {len(files.entries):,} files (audit limit)")

    results = [
        _run(spec, ctx)
        for spec in REGISTRY
        if spec.kinds is None or (ctx.kind is not None and ctx.kind in spec.kinds)
    ]
    if files.symlinks:
        notes.append(f"{len(files.symlinks)} symlink(s) not followed")
    if files.special:
        notes.append(f"{len(files.special)} special file(s) (FIFO, socket, device) skipped")
    if files.unreadable:
        sample = ", ".join(sorted(files.unreadable)[:3])
        notes.append(f"{len(files.unreadable)} file(s) could not be read: {sample}")
    groups = []
    for group_id, title in GROUPS.items():
        checks = [r for r in results if r.group == group_id]
        if checks:
            groups.append(
                GroupResult(id=group_id, title=title, score=_score(checks), checks=checks)
            )
    score = _score(results) or 0
    untouched = _untouched_scaffold(root, is_git, notes)
    if untouched:
        score = 0
    return AuditReport(
        maturity=maturity.assess_maturity(ctx) if ctx.kind == "pipeline" else None,
        path=str(root),
        kind=ctx.kind,
        score=score,
        grade=grade_for(score),
        groups=groups,
        notes=notes,
        files_seen=len(files.entries),
        is_git=is_git,
        duration_s=round(time.monotonic() - started, 2),
        untouched_scaffold=untouched,
    )


def _untouched_scaffold(root: Path, is_git: bool, notes: list[str]) -> bool:
    """True when the repository is aipath's scaffold as generated (then nothing is the learner's).

    A pass, a done mark or an audit score reflects what the learner did: the template's own
    README, tests and metrics are aipath's work, so they earn nothing until the learner changes
    the project.
    """
    from aipath.portfolio.audit.gitrepo import history, run_git
    from aipath.portfolio.fingerprint import scaffold_state

    subjects: list[str] | None = None
    clean = False
    if is_git:
        commits = history(root)
        subjects = None if commits is None else [c.subject for c in commits]
        status = run_git(root, "status", "--porcelain")
        clean = status.ok and not status.out.strip()
    state = scaffold_state(root, subjects, clean)
    if state is None:
        return False
    if state.untouched:
        notes.append(
            "this is the scaffold exactly as `aipath project new` generated it: the score counts "
            "your work, so it is 0 until you change the project and commit"
        )
        return True
    notes.append(
        f"{state.unchanged} of {state.fingerprinted} generated files are unchanged"
        + (
            f"; {state.learner_commits} commit(s) after the scaffold"
            if state.learner_commits
            else ""
        )
    )
    return False
