"""``/api/labs``: the catalogue, one lab, its verdict, checks, hints and the solution."""

from __future__ import annotations

from fastapi import APIRouter

from aipath.grader.results import CheckResult
from aipath.web.schemas import Hint, LabDetail, LabSummary, Solution, SolutionIn
from aipath.web.state import ERRORS, DashboardState


def router(state: DashboardState) -> APIRouter:
    dashboard = state.dashboard
    router = APIRouter()

    @router.get("/api/labs", tags=["labs"])
    def api_labs() -> list[LabSummary]:
        """Every lab with its status (the shape of `aipath list --json`, plus a page URL)."""
        return dashboard.lab_list()

    @router.get("/api/labs/{lab_id}", tags=["labs"], responses=ERRORS)
    def api_lab(lab_id: str) -> LabDetail:
        """One lab: its README as HTML, its latest verdict and the hints revealed so far."""
        return dashboard.lab_detail(lab_id)

    @router.get("/api/labs/{lab_id}/result", tags=["labs"], responses=ERRORS)
    def api_result(lab_id: str) -> CheckResult | None:
        """The latest check result (`.aipath/results/<lab>.json`), or null before the first."""
        return dashboard.result(lab_id)

    @router.post("/api/labs/{lab_id}/check", tags=["labs"], responses=ERRORS)
    async def api_check(lab_id: str) -> CheckResult:
        """Check the lab now, like `aipath check LAB`; every open page gets the verdict too."""
        return await state.checker.check(dashboard.lab(lab_id))

    @router.post("/api/labs/{lab_id}/hints", tags=["labs"], responses=ERRORS)
    def api_hint(lab_id: str) -> Hint:
        """Reveal the next hint tier (nudge → approach → near-solution), like `aipath hint`."""
        return dashboard.hint(lab_id)

    @router.post("/api/labs/{lab_id}/solution", tags=["labs"], responses=ERRORS)
    def api_solution(lab_id: str, body: SolutionIn | None = None) -> Solution:
        """The reference solution: after a pass, or before one with `confirm` (recorded)."""
        return dashboard.solution(lab_id, confirm=bool(body and body.confirm))

    return router
