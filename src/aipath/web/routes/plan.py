"""``/api/summary``, ``/api/plan`` and ``/api/portfolio``: derived views of the learner's progress."""

from __future__ import annotations

from fastapi import APIRouter

from aipath.web.schemas import PlanView, PortfolioView, Summary
from aipath.web.state import DashboardState


def router(state: DashboardState) -> APIRouter:
    dashboard = state.dashboard
    router = APIRouter()

    @router.get("/api/summary", tags=["progress"])
    def api_summary() -> Summary:
        """Progress by phase, the next lab, this week, pace, streak, days to job-ready."""
        return dashboard.summary()

    @router.get("/api/plan", tags=["plan"])
    def api_plan() -> PlanView:
        """The plan (as `aipath plan --json`), weekly hours, and the charts' figures."""
        return dashboard.plan_view()

    @router.get("/api/portfolio", tags=["portfolio"])
    def api_portfolio() -> PortfolioView:
        """Audit reports of your projects (newest first) and the roadmap's projects."""
        return dashboard.portfolio_view()

    return router
