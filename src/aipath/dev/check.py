"""``aipath dev check``: prove every lab works in both directions before a learner sees it.

For each lab: the reference solution and every alternative pass, the starter is *not attempted*
(not failed: a learner's first run must not read as a wrong answer), and every recorded mistake
fails with the message its ``# expect:`` line promises.  All candidates run in parallel, forked
from this process after one warm-up, each in its own scratch folder prepared like a workspace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from aipath.dev.catches import load_catches, save_catches
from aipath.dev.lint import lint_lab
from aipath.errors import AipathError
from aipath.grader.preload import preload
from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, Status
from aipath.grader.service import build_request
from aipath.grader.supervisor import run_many
from aipath.labs import CONTENT_DIR, Catalogue, Lab
from aipath.workspace.create import place_lab

Role = Literal["solution", "starter", "mistake", "alternative"]


def expected_text(path: Path) -> str | None:
    """The ``# expect: <text>`` header of a mistake file."""
    try:
        with path.open(encoding="utf-8") as handle:
            for _ in range(15):
                line = handle.readline()
                if line.strip().lower().startswith("# expect:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def mistake_diff(solution: Path, other: Path) -> str:
    """The unified diff from the reference to a mistake or alternative: the mistake at a glance.

    Mistakes stay whole files (a learner's file is whole, and dev check runs them as they are);
    this diff is how a reader sees what each one changes.
    """
    import difflib

    return "".join(
        difflib.unified_diff(
            solution.read_text(encoding="utf-8").splitlines(keepends=True),
            other.read_text(encoding="utf-8").splitlines(keepends=True),
            fromfile="solution.py",
            tofile=f"{other.parent.name}/{other.name}",
            n=1,
        )
    )


def changed_lines(solution: Path, other: Path) -> int:
    """How many lines a mistake adds or removes relative to solution.py."""
    return sum(
        1
        for line in mistake_diff(solution, other).splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def all_messages(result: CheckResult) -> str:
    parts = [result.summary]
    if result.error is not None:
        parts.append(result.error.message)
    parts.extend(t.message for t in result.tests)
    return "\n".join(parts)


@dataclass
class Candidate:
    lab: Lab
    role: Role
    path: Path
    workdir: Path
    request: CheckRequest


@dataclass
class LabReport:
    lab: Lab
    solution: CheckResult | None = None
    starter: CheckResult | None = None
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reruns: int = 0  # mistakes whose first failure did not name them: run again in full

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.lab.id,
            "ok": self.ok,
            "solution": self.solution.status.value if self.solution else "missing",
            "solution_s": self.solution.duration_s if self.solution else None,
            "starter": self.starter.status.value if self.starter else "missing",
            "mistakes": self.mistakes,
            "mistakes_caught_with_text": sum(bool(m["caught"]) for m in self.mistakes),
            "mistakes_only_rejected": sum(
                not m["caught"] and m["status"] in ("failed", "error") for m in self.mistakes
            ),
            "alternatives": self.alternatives,
            "mistakes_rerun_in_full": self.reruns,
            "problems": self.problems,
            # what this lab costs `dev check`: the time of every candidate's check, summed
            "check_s": round(
                sum(r.duration_s for r in (self.solution, self.starter) if r is not None)
                + sum(float(e.get("seconds", 0.0)) for e in self.mistakes + self.alternatives),
                2,
            ),
        }


def _candidates(lab: Lab, scratch: Path) -> list[Candidate]:
    files: list[tuple[Role, Path]] = [("solution", lab.solution), ("starter", lab.starter)]
    files += [("mistake", p) for p in lab.mistakes()]
    files += [("alternative", p) for p in lab.alternatives()]
    catches = load_catches(lab)
    candidates = []
    for index, (role, path) in enumerate(files):
        workdir = scratch / lab.id / f"{index:02d}-{role}-{path.stem}"
        request = _placed(lab, path, workdir, apply=role != "starter")
        if role == "mistake" and not request.dev_apply:
            # First pass: stop at the first failed check, where a mistake is nearly always
            # named, starting with the check that named it last time (catches.py); a mistake
            # not caught that way runs again in full (see run_dev_check).
            update: dict[str, Any] = {"max_failures": 1}
            if path.name in catches:
                update["test_order"] = [catches[path.name]]
            request = request.model_copy(update=update)
        candidates.append(Candidate(lab, role, path, workdir, request))
    return candidates


def _placed(lab: Lab, path: Path, workdir: Path, *, apply: bool = True) -> CheckRequest:
    """Place ``lab`` in ``workdir`` with ``path`` as the exercise; the request that checks it."""
    place_lab(lab, workdir, exercise_from=path)
    request = build_request(lab, workdir / lab.manifest.exercise, workdir)
    if apply and lab.manifest.dev_apply:
        request = request.model_copy(update={"dev_apply": lab.manifest.dev_apply})
    return request


def _caught(candidate: Candidate, result: CheckResult) -> bool:
    expected = expected_text(candidate.path)
    return (
        expected is not None
        and result.status in (Status.FAILED, Status.ERROR)
        and expected.lower() in all_messages(result).lower()
    )


def _catcher(candidate: Candidate, result: CheckResult) -> str | None:
    """The check whose message named this mistake (None: caught on import, or not at all)."""
    expected = expected_text(candidate.path)
    if expected is None or not _caught(candidate, result):
        return None
    for test in result.tests:
        if test.status in (Status.FAILED, Status.ERROR) and expected.lower() in (
            test.message.lower()
        ):
            return test.name
    return None


def _judge(report: LabReport, candidate: Candidate, result: CheckResult) -> None:
    name = candidate.path.name
    if candidate.role == "solution":
        report.solution = result
        if result.status is not Status.PASSED:
            report.problems.append(f"solution.py does not pass: {all_messages(result)[:600]}")
    elif candidate.role == "starter":
        report.starter = result
        if result.status is not Status.NOT_ATTEMPTED:
            report.problems.append(
                f"the starter {name} is {result.status.value}, not not-attempted: "
                f"{all_messages(result)[:400]}"
            )
    elif candidate.role == "alternative":
        ok = result.status is Status.PASSED
        report.alternatives.append(
            {
                "file": name,
                "status": result.status.value,
                "message": result.summary,
                "seconds": round(result.duration_s, 2),
            }
        )
        if not ok:
            report.problems.append(
                f"alternative {name} does not pass: {all_messages(result)[:600]}"
            )
    else:
        expected = expected_text(candidate.path)
        messages = all_messages(result)
        problem = result.first_problem()
        caught = _caught(candidate, result)
        report.mistakes.append(
            {
                "file": name,
                "changed_lines": changed_lines(candidate.lab.solution, candidate.path),
                "caught": caught,
                "expected": expected,
                "status": result.status.value,
                "message": problem.message if problem else result.summary,
                "seconds": round(result.duration_s, 2),
            }
        )
        if expected is None:
            report.problems.append(f"mistake {name} has no '# expect: <text>' line")
        elif not caught:
            report.problems.append(
                f"mistake {name} is not caught: expected {result.status.value} → "
                f"'{expected}' in the feedback, got: {messages[:600]}"
            )


def run_dev_check(
    catalogue: Catalogue,
    *,
    lab_ids: list[str] | None = None,
    parallel: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_lab_done: Callable[[LabReport, int, int], None] | None = None,
) -> tuple[bool, list[LabReport], list[str]]:
    """Check the catalogue; returns (ok, per-lab reports, catalogue-level problems)."""
    global_problems: list[str] = []
    from aipath.curriculum import check_links, roadmap_with_labs
    from aipath.roadmap.loader import load_roadmap

    try:
        if catalogue.content_dir.resolve() == CONTENT_DIR.resolve():
            # Coverage is a property of the packaged catalogue; a custom collection covers what
            # it covers, but its links into the roadmap must still resolve.
            roadmap_with_labs(catalogue)
        else:
            check_links(load_roadmap(), catalogue)
    except AipathError as exc:
        global_problems.append(f"roadmap links: {exc}")
    labs = [catalogue.get(i) for i in lab_ids] if lab_ids else list(catalogue)
    reports = {lab.id: LabReport(lab) for lab in labs}
    for lab in labs:
        reports[lab.id].problems.extend(lint_lab(lab))
    scratch = Path(tempfile.mkdtemp(prefix="aipath-devcheck-"))
    try:
        candidates: list[Candidate] = []
        for lab in labs:
            candidates.extend(_candidates(lab, scratch))
        preload([lab.source_dir for lab in labs])
        total = len(candidates)
        done = 0
        left = {lab.id: 0 for lab in labs}
        for candidate in candidates:
            left[candidate.lab.id] += 1
        labs_done = 0

        again: list[int] = []
        caught_by: dict[str, dict[str, str]] = {lab.id: {} for lab in labs}

        def record(index: int, result: CheckResult) -> None:
            nonlocal done, labs_done
            candidate = candidates[index]
            if candidate.request.max_failures is not None and not _caught(candidate, result):
                again.append(index)  # judged on the full run below
                reports[candidate.lab.id].reruns += 1
                return
            done += 1
            _judge(reports[candidate.lab.id], candidate, result)
            if candidate.role == "mistake":
                catcher = _catcher(candidate, result)
                if catcher is not None:
                    caught_by[candidate.lab.id][candidate.path.name] = catcher
            if on_progress is not None:
                on_progress(done, total)
            left[candidate.lab.id] -= 1
            if left[candidate.lab.id] == 0:
                labs_done += 1
                if on_lab_done is not None:
                    on_lab_done(reports[candidate.lab.id], labs_done, len(labs))

        parallel = parallel or os.cpu_count() or 2
        run_many(
            [c.request for c in candidates],
            mode="fork",
            parallel=parallel,
            on_result=record,
        )
        if again:
            # A mistake whose first failure did not name it runs in full, in the file's order,
            # as a learner's check does; it is judged on every message.
            retry = list(again)
            for index in retry:
                candidate = candidates[index]
                full_run = candidate.request.model_copy(
                    update={"max_failures": None, "test_order": []}
                )
                candidates[index] = replace(candidate, request=full_run)

            def record_full(position: int, result: CheckResult) -> None:
                record(retry[position], result)

            run_many(
                [candidates[i].request for i in retry],
                mode="fork",
                parallel=parallel,
                on_result=record_full,
            )
        for lab in labs:
            save_catches(lab, caught_by[lab.id])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ordered = [reports[lab.id] for lab in labs]
    ok = not global_problems and all(r.ok for r in ordered)
    return ok, ordered, global_problems


@dataclass
class TryReport:
    """One candidate file run against a lab's checks (a blind reviewer's answer, a bug report)."""

    path: Path
    result: CheckResult

    def to_json(self) -> dict[str, Any]:
        problem = self.result.first_problem()
        return {
            "file": str(self.path),
            "status": self.result.status.value,
            "message": problem.message if problem else self.result.summary,
            "messages": all_messages(self.result),
        }


def try_files(lab: Lab, files: list[Path], *, parallel: int | None = None) -> list[TryReport]:
    """Check each file as if it were the learner's exercise, each in its own scratch folder.

    The same placement, request and warm fork as ``dev check``, without judging: reviewers use it
    to see how the checks answer files that are not in the lab (yet).
    """
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise AipathError(f"no such file: {', '.join(missing)}")
    scratch = Path(tempfile.mkdtemp(prefix="aipath-devtry-"))
    try:
        requests = [
            _placed(lab, path, scratch / f"{index:03d}-{path.stem}")
            for index, path in enumerate(files)
        ]
        preload([lab.source_dir])
        results = run_many(requests, mode="fork", parallel=parallel or min(2, os.cpu_count() or 1))
        return [TryReport(path, result) for path, result in zip(files, results, strict=True)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
