"""``/api/roadmap``, notes, marks and study logs: what the learner writes goes through :mod:`aipath.learner_writes`."""

from __future__ import annotations

from fastapi import APIRouter, Query

from aipath.web.schemas import MarkIn, NoteIn, RoadmapView, Saved, SearchResult, StudyIn
from aipath.web.state import ERRORS, DashboardState


def router(state: DashboardState) -> APIRouter:
    dashboard = state.dashboard
    router = APIRouter()

    @router.get("/api/roadmap", tags=["roadmap"])
    def api_roadmap() -> RoadmapView:
        """Phases → topics → skills with status, resources, notes and labs."""
        return dashboard.roadmap_view()

    @router.get("/api/search", tags=["roadmap"])
    def api_search(q: str = Query(max_length=200)) -> list[SearchResult]:
        """Labs, skills, topics, resources and tools holding every word of `q`, best first."""
        return dashboard.search(q)

    @router.put("/api/notes/{topic_id}", tags=["roadmap"], responses=ERRORS)
    def api_note(topic_id: str, body: NoteIn) -> Saved:
        """Replace your note on a topic or skill, like `aipath note` (empty text clears it)."""
        dashboard.write_note(topic_id, body.text)
        what = "note cleared on" if not body.text.strip() else "note saved on"
        return Saved(message=f"{what} {dashboard.title_of(topic_id)}")

    @router.put("/api/marks/{item_id}", tags=["roadmap"], responses=ERRORS)
    def api_mark(item_id: str, body: MarkIn) -> Saved:
        """Mark a topic, skill or resource done or skipped, or back to pending."""
        dashboard.mark(item_id, body.state)
        return Saved(message=f"{dashboard.title_of(item_id)} marked {body.state}")

    @router.post("/api/study", tags=["progress"], responses=ERRORS)
    def api_study(body: StudyIn) -> Saved:
        """Log study time outside the labs, like `aipath log 1h30m --resource res.…`."""
        from aipath.progress import format_minutes

        minutes = dashboard.log_study(
            body.duration, resource_id=body.resource_id, topic_id=body.topic_id, note=body.note
        )
        target = body.resource_id or body.topic_id
        return Saved(
            message=f"logged {format_minutes(minutes)}"
            + (f" on {dashboard.title_of(target)}" if target else "")
        )

    return router
