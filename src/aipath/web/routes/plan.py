"""``/api/summary``, ``/api/plan``, ``/api/profile`` and ``/api/portfolio``: the learner's plan and progress."""

from __future__ import annotations

from fastapi import APIRouter

from aipath.web.schemas import PlanView, PortfolioView, ProfileIn, ProfileView, Summary
from aipath.web.state import ERRORS, DashboardState


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

    @router.get("/api/profile", tags=["plan"])
    def api_profile() -> ProfileView:
        """Your profile: hours per week, background, track, start (as `aipath profile`)."""
        return dashboard.profile_view()

    @router.put("/api/profile", tags=["plan"], responses=ERRORS)
    def api_set_profile(body: ProfileIn) -> ProfileView:
        """Change the fields given, keep the others (as `aipath profile --hours …`)."""
        return dashboard.update_profile(
            hours=body.hours_per_week,
            background=body.background,
            track=body.track,
            start=body.start,
        )

    @router.get("/api/portfolio", tags=["portfolio"])
    def api_portfolio() -> PortfolioView:
        """Audit reports of your projects (newest first) and the roadmap's projects."""
        return dashboard.portfolio_view()

    return router
