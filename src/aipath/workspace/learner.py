"""The learner's view of the catalogue: status of each lab, what comes next, hints, solutions.

Shared by the CLI and the dashboard so both always agree on "what's next".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aipath.errors import AipathError
from aipath.labs import Catalogue, Lab
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store


@dataclass(frozen=True)
class LabRow:
    lab: Lab
    status: str  # latest check: passed / failed / not-attempted / error
    done: bool  # passed at least once
    path: Path
    attempts: int
    hints_shown: int
    waiting_on: tuple[str, ...] = ()  # required labs not passed yet (a hint, never a lock)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.lab.id,
            "phase": self.lab.manifest.phase,
            "title": self.lab.manifest.title,
            "status": self.status,
            "done": self.done,
            "path": str(self.path),
            "requires": list(self.lab.manifest.requires),
            "minutes": self.lab.manifest.minutes,
            "tier": self.lab.manifest.tier,
            "skills": list(self.lab.manifest.skills),
            "attempts": self.attempts,
            "hints_shown": self.hints_shown,
            "waiting_on": list(self.waiting_on),
        }


def lab_rows(ws: Workspace, catalogue: Catalogue) -> list[LabRow]:
    with open_store(ws) as store:
        states = store.lab_states()
    rows = []
    for lab in catalogue:
        state = states.get(lab.id)
        rows.append(
            LabRow(
                lab=lab,
                status=state.status if state and state.status else "not-attempted",
                done=bool(state and state.ever_passed),
                path=ws.lab_file(lab),
                attempts=state.attempts if state else 0,
                hints_shown=state.hints_shown if state else 0,
                waiting_on=tuple(
                    r
                    for r in lab.manifest.requires
                    if not ((s := states.get(r)) is not None and s.ever_passed)
                ),
            )
        )
    return rows


def next_lab(rows: list[LabRow]) -> LabRow | None:
    """The first unfinished lab whose prerequisites are done; else the first unfinished one."""
    done = {row.lab.id for row in rows if row.done}
    unfinished = [row for row in rows if not row.done]
    for row in unfinished:
        if all(req in done for req in row.lab.manifest.requires):
            return row
    return unfinished[0] if unfinished else None


@dataclass(frozen=True)
class HintReveal:
    tier: int
    total: int
    text: str
    new: bool


def reveal_hint(ws: Workspace, lab: Lab) -> HintReveal:
    """Show the next hint tier (nudge → approach → near-solution) and record it."""
    hints = lab.manifest.hints
    with open_store(ws) as store:
        shown = store.hints_shown(lab.id)
        tier = min(shown + 1, len(hints))
        new = shown < len(hints)
        if new:
            store.record_hint(lab.id, tier)
    return HintReveal(tier=tier, total=len(hints), text=hints[tier - 1], new=new)


def shown_hints(ws: Workspace, lab: Lab) -> list[str]:
    """The hint tiers already revealed, in order (to read them again without revealing more)."""
    with open_store(ws) as store:
        shown = store.hints_shown(lab.id)
    return list(lab.manifest.hints[:shown])


def solution_text(ws: Workspace, lab: Lab, *, confirmed: bool) -> tuple[str, bool]:
    """The reference solution; before a pass only with confirmation. Records the reveal."""
    with open_store(ws) as store:
        state = store.lab_states().get(lab.id)
        passed = bool(state and state.ever_passed)
        if not passed and not confirmed:
            raise AipathError(
                f"{lab.id} is not passed yet, so its solution is still hidden",
                hint="pass `--yes` to reveal it anyway (it is recorded in your progress)",
            )
        store.record_solution(lab.id, after_pass=passed)
    return lab.solution.read_text(encoding="utf-8"), passed
