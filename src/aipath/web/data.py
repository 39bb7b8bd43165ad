"""What each page shows, gathered from the services the CLI uses (no logic of its own).

Every number comes from a service: lab status from :mod:`aipath.workspace.learner`, the plan,
pace and streak from :func:`aipath.planner.service.status_for`, the roadmap from
:func:`aipath.curriculum.roadmap_with_labs`, notes, marks, hours and audits from the progress
store.  This module only reshapes their answers for the pages and the JSON API.

Reading the store and planning takes tens of milliseconds, far more than rendering a page, so
views are cached until the data under them changes: the progress database files (also written
by the CLI in other processes), the workspace settings, the lab catalogue, the date, and this
process's own writes; and at most ten seconds in any case.  A store given by URL (PostgreSQL)
has no file to watch and is never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from aipath import learner_writes
from aipath.curriculum import roadmap_with_labs
from aipath.errors import AipathError
from aipath.grader.results import CheckResult
from aipath.grader.service import check_lab, load_result
from aipath.labs import Catalogue, Lab, load_catalogue
from aipath.learner_writes import UnknownId
from aipath.planner.done import is_marked
from aipath.planner.render import describe_pace, plan_to_json
from aipath.planner.service import StatusReport, status_for
from aipath.progress import parse_duration
from aipath.roadmap import Roadmap, load_roadmap
from aipath.web import charts
from aipath.web.markdown import highlight_python, render_markdown_file
from aipath.web.schemas import (
    AuditView,
    Hint,
    LabDetail,
    LabLink,
    LabSummary,
    PhaseProgress,
    PhaseView,
    PlanView,
    PortfolioView,
    ProfileView,
    ProjectView,
    ResourceView,
    RoadmapView,
    SearchResult,
    SkillView,
    Solution,
    Summary,
    TopicView,
    WorkLine,
)
from aipath.workspace.learner import LabRow, lab_rows, next_lab, reveal_hint, solution_text
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store

T = TypeVar("T")
CATALOGUE_TTL_S = 1.0
MAX_AGE_S = 10.0


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


class NotFound(UnknownId):
    """An id in a URL that names nothing (answered with 404)."""


def lab_url(lab_id: str) -> str:
    return f"/labs/{lab_id}"


@dataclass(frozen=True)
class _Entry:
    stamp: object
    value: object


class Dashboard:
    """The dashboard's view of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._writes = 0
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._roadmap: tuple[int, Roadmap, list[str]] | None = None
        self._catalogue: tuple[float, Catalogue] | None = None
        url = ws.db_url  # resolved once: it reads the environment and resolves a path
        self._db_file = (
            Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        )

    # ------------------------------------------------------------------ freshness and cache
    def changed(self) -> None:
        """Forget cached views after a write made by this process."""
        with self._guard:
            self._writes += 1

    def version(self, *depends: Path) -> object | None:
        """A value that changes whenever the data under the views (or the files ``depends``)
        change; ``None`` when that cannot be told (a store given by server URL)."""
        stamp = self._stamp()
        if stamp is None or not depends:
            return stamp
        return (stamp, tuple(_mtime(path) for path in depends))

    def _stamp(self) -> object | None:
        db = self._db_file
        if db is None:
            return None
        files = []
        for path in (db, db.with_name(db.name + "-wal"), self.ws.config_path):
            try:
                st = path.stat()
                files.append((st.st_mtime_ns, st.st_size))
            except OSError:
                files.append((0, 0))
        # The time bucket bounds how long a write that left a file's size and (coarse) time
        # stamp unchanged could go unnoticed.
        bucket = int(time.monotonic() // MAX_AGE_S)
        return (self._writes, bucket, date.today(), id(self.catalogue()), tuple(files))

    def _cached(self, key: str, build: Callable[[], T], *depends: Path) -> T:
        """``build()``, computed again only when the store, settings, catalogue or ``depends``
        (files read by ``build`` that a check or an author may change) have changed."""
        stamp = self.version(*depends)
        if stamp is None:
            return build()
        entry = self._cache.get(key)
        if entry is not None and entry.stamp == stamp:
            return entry.value  # type: ignore[return-value]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one thread builds, the others wait for its answer
            entry = self._cache.get(key)
            if entry is not None and entry.stamp == stamp:
                return entry.value  # type: ignore[return-value]
            value = build()
            self._cache[key] = _Entry(stamp, value)
            return value

    # ------------------------------------------------------------------------ the services
    def catalogue(self) -> Catalogue:
        """The lab catalogue, looked at again at most every second (it changes only when a
        lab author edits a lab.toml, and checking that costs a stat of every manifest)."""
        now = time.monotonic()
        held = self._catalogue
        if held is None or now - held[0] > CATALOGUE_TTL_S:
            held = (now, load_catalogue())
            self._catalogue = held
        return held[1]

    def lab(self, lab_id: str) -> Lab:
        """The lab with exactly this id (no prefix matching in URLs)."""
        for lab in self.catalogue():
            if lab.id == lab_id:
                return lab
        raise NotFound(f"no lab called {lab_id!r}", hint="the Roadmap page lists every lab")

    def rows(self) -> list[LabRow]:
        return self._cached("rows", lambda: lab_rows(self.ws, self.catalogue()))

    def status(self) -> StatusReport:
        def build() -> StatusReport:
            with open_store(self.ws) as store:
                return status_for(store)

        return self._cached("status", build)

    def roadmap(self) -> tuple[Roadmap, list[str]]:
        """The roadmap with its labs; a roadmap and catalogue that disagree still show, noted."""
        catalogue = self.catalogue()
        if self._roadmap is not None and self._roadmap[0] == id(catalogue):
            return self._roadmap[1], self._roadmap[2]
        notes: list[str] = []
        try:
            roadmap = roadmap_with_labs(catalogue)
        except AipathError as exc:
            roadmap = load_roadmap()
            notes.append(f"labs are listed from their manifests because {exc.message}")
        self._roadmap = (id(catalogue), roadmap, notes)
        return roadmap, notes

    def _store_facts(self) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            with open_store(self.ws) as store:
                return {
                    "notes": store.notes(),
                    "marks": store.marks(),
                    "audits": store.audits(),
                    "daily": store.daily_minutes(),
                    "studied": store.study_minutes_by_resource(),
                }

        return self._cached("facts", build)

    # ------------------------------------------------------------------------------- labs
    def _summary(self, row: LabRow) -> LabSummary:
        return LabSummary.model_validate({**row.to_json(), "url": lab_url(row.lab.id)})

    def lab_list(self) -> list[LabSummary]:
        return [self._summary(row) for row in self.rows()]

    def lab_row(self, lab_id: str) -> LabRow:
        lab = self.lab(lab_id)
        for row in self.rows():
            if row.lab.id == lab.id:
                return row
        raise NotFound(f"no lab called {lab_id!r}")

    def result(self, lab_id: str) -> CheckResult | None:
        return load_result(self.ws, self.lab(lab_id).id)

    def lab_files(self, lab_id: str) -> tuple[Path, ...]:
        """The files a lab's page shows besides the store: its verdict and its README."""
        lab = self.lab(lab_id)
        return (self.ws.results_dir / f"{lab.id}.json", lab.readme)

    def lab_detail(self, lab_id: str) -> LabDetail:
        return self._cached(
            f"lab:{lab_id}", lambda: self._build_lab_detail(lab_id), *self.lab_files(lab_id)
        )

    def _build_lab_detail(self, lab_id: str) -> LabDetail:
        row = self.lab_row(lab_id)
        lab = row.lab
        hints = lab.manifest.hints
        shown = min(row.hints_shown, len(hints))
        ids = [r.lab.id for r in self.rows()]
        at = ids.index(lab.id)
        return LabDetail(
            lab=self._summary(row),
            topic=lab.manifest.topic,
            readme_html=render_markdown_file(lab.readme),
            result=load_result(self.ws, lab.id),
            hints=[Hint(tier=i + 1, total=len(hints), text=hints[i]) for i in range(shown)],
            hints_total=len(hints),
            folder=str(self.ws.lab_dir(lab)),
            resources=list(lab.manifest.resources),
            previous=ids[at - 1] if at > 0 else None,
            following=ids[at + 1] if at + 1 < len(ids) else None,
        )

    def check(self, lab_id: str) -> CheckResult:
        """Run the lab's checks now (blocking: call it from a worker thread)."""
        result = check_lab(self.ws, self.lab(lab_id))
        self.changed()
        return result

    def hint(self, lab_id: str) -> Hint:
        shown = reveal_hint(self.ws, self.lab(lab_id))
        self.changed()
        return Hint(tier=shown.tier, total=shown.total, text=shown.text, new=shown.new)

    def solution(self, lab_id: str, *, confirm: bool) -> Solution:
        lab = self.lab(lab_id)
        text, passed = solution_text(self.ws, lab, confirmed=confirm)
        self.changed()
        return Solution(lab=lab.id, text=text, passed=passed, html=highlight_python(text))

    # ------------------------------------------------------------------------------- home
    def summary(self) -> Summary:
        return self._cached("summary", self._build_summary)

    def _build_summary(self) -> Summary:
        report = self.status()
        plan = report.plan
        upcoming = next_lab(self.rows())
        target = plan.projected_job_ready or plan.job_ready
        lab_ids = set(self.catalogue().ids())

        def line(item: Any) -> WorkLine:
            return WorkLine(
                kind=item.kind,
                id=item.id,
                title=item.title,
                hours=round(item.hours, 1),
                due=item.due,
                overdue=item.overdue,
                projected_due=item.projected_due,
                url=lab_url(item.id) if item.kind == "lab" and item.id in lab_ids else None,
            )

        return Summary(
            today=plan.today,
            has_profile=report.has_profile,
            hours_per_week=plan.profile.hours_per_week,
            phases=[
                PhaseProgress(
                    id=ph.id,
                    number=ph.number,
                    title=ph.title,
                    done_fraction=ph.done_fraction,
                    start=ph.start,
                    end=ph.end,
                    projected_end=ph.projected_end,
                    hours=ph.hours,
                )
                for ph in plan.phases
            ],
            next_lab=self._summary(upcoming) if upcoming else None,
            this_week=[line(i) for i in plan.this_week],
            next_up=[line(i) for i in plan.next_up],
            pace_status=plan.pace.status,
            pace=describe_pace(plan),
            streak_days=report.streak_days,
            active_today=report.active_today,
            labs_passed=sum(1 for r in self.rows() if r.done),
            labs_total=len(self.rows()),
            job_ready=plan.job_ready,
            projected_job_ready=plan.projected_job_ready,
            days_to_job_ready=(target - plan.today).days,
            finish=plan.finish,
            projected_finish=plan.projected_finish,
            notes=list(plan.notes),
        )

    # ---------------------------------------------------------------------------- roadmap
    def roadmap_view(self) -> RoadmapView:
        return self._cached("roadmap", self._build_roadmap)

    def _build_roadmap(self) -> RoadmapView:
        roadmap, notes = self.roadmap()
        facts = self._store_facts()
        marks: dict[str, str] = facts["marks"]
        written: dict[str, str] = facts["notes"]
        skill_done = {s.id: s.done for s in self.status().plan.skills}
        rows = {r.lab.id: r for r in self.rows()}
        by_skill = self.catalogue().skill_labs()
        studied: dict[str, float] = facts["studied"]
        phase_done = {ph.number: ph.done_fraction for ph in self.status().plan.phases}

        def link(lab_id: str) -> LabLink | None:
            row = rows.get(lab_id)
            if row is None:
                return None
            return LabLink(
                id=lab_id,
                title=row.lab.manifest.title,
                status=row.status,
                done=row.done,
                url=lab_url(lab_id),
            )

        phases: list[PhaseView] = []
        for phase in roadmap.phases:
            topics: list[TopicView] = []
            for topic in phase.topics:
                skills = []
                for skill in topic.skills:
                    names = skill.labs or by_skill.get(skill.id, [])
                    labs = [x for x in (link(n) for n in names) if x is not None]
                    skills.append(
                        SkillView(
                            id=skill.id,
                            title=skill.title,
                            description=skill.description,
                            hours=skill.hours,
                            done=skill_done.get(skill.id, False),  # planner.done: one meaning
                            reading_only=skill.reading_only if not labs else None,
                            labs=labs,
                            note=written.get(skill.id, ""),
                        )
                    )
                resources = [
                    ResourceView(
                        id=res.id,
                        title=res.title,
                        author=res.author,
                        kind=res.kind,
                        url=res.url,
                        hours=res.hours,
                        level=res.level,
                        done=is_marked(marks, res.id),
                        logged_minutes=round(studied.get(res.id, 0.0), 1),
                    )
                    for res in roadmap.resources_for_topic(topic.id)
                ]
                topics.append(
                    TopicView(
                        id=topic.id,
                        title=topic.title,
                        summary=topic.summary,
                        track=topic.track,
                        hours=topic.hours,
                        mark=marks.get(topic.id, "pending"),
                        note=written.get(topic.id, ""),
                        skills_done=sum(s.done for s in skills),
                        resources=resources,
                        skills=skills,
                    )
                )
            phases.append(
                PhaseView(
                    id=phase.id,
                    number=phase.number,
                    title=phase.title,
                    summary=phase.summary,
                    months=f"months {phase.months.start}–{phase.months.end}",
                    hours=phase.hours,
                    done_fraction=phase_done.get(phase.number, 0.0),
                    topics=topics,
                )
            )
        return RoadmapView(phases=phases, notes=notes)

    def title_of(self, item_id: str) -> str:
        """``“Pandas” (p1.python.pandas)`` for a toast: the learner reads titles, not ids."""
        roadmap, _ = self.roadmap()
        titles = {t.id: t.title for t in roadmap.all_topics()}
        titles.update((s.id, s.title) for s in roadmap.all_skills())
        titles.update((r.id, r.title) for r in roadmap.resources)
        title = titles.get(item_id)
        return f"“{title}”" if title else item_id

    def write_note(self, topic_id: str, text: str) -> None:
        with open_store(self.ws) as store:
            learner_writes.write_note(store, topic_id, text)
        self.changed()

    def mark(self, item_id: str, state: str) -> None:
        with open_store(self.ws) as store:
            learner_writes.mark(store, item_id, state)
        self.changed()

    def log_study(
        self,
        duration: str,
        *,
        resource_id: str | None = None,
        topic_id: str | None = None,
        note: str | None = None,
    ) -> int:
        minutes = parse_duration(duration)
        with open_store(self.ws) as store:
            learner_writes.log_study(
                store, minutes, resource_id=resource_id, topic_id=topic_id, note=note
            )
        self.changed()
        return minutes

    # ---------------------------------------------------------------------------- profile
    def profile_view(self) -> ProfileView:
        from aipath.planner.service import DEFAULT_HOURS
        from aipath.progress.types import BACKGROUNDS, TRACKS

        with open_store(self.ws) as store:
            profile = store.get_profile()
        return ProfileView(
            hours_per_week=profile.hours_per_week if profile else DEFAULT_HOURS,
            background=profile.background if profile else "beginner",
            track=profile.track if profile else None,
            start=profile.start if profile else date.today(),
            saved=profile is not None,
            backgrounds=list(BACKGROUNDS),
            tracks=list(TRACKS),
        )

    def update_profile(
        self,
        *,
        hours: float | None = None,
        background: str | None = None,
        track: str | None = None,
        start: date | None = None,
    ) -> ProfileView:
        """The same merge as `aipath profile` (planner.service.update_profile)."""
        from aipath.planner.service import update_profile

        with open_store(self.ws) as store:
            update_profile(store, start=start, hours=hours, background=background, track=track)
        self.changed()
        return self.profile_view()

    # ----------------------------------------------------------------------------- search
    def search(self, query: str) -> list[SearchResult]:
        from aipath.search import search

        roadmap, _ = self.roadmap()
        try:
            catalogue: Catalogue | None = self.catalogue()
        except AipathError:
            catalogue = None
        results = []
        for hit in search(query, roadmap, catalogue):
            if hit.kind == "lab":
                url = lab_url(hit.id)
            elif hit.kind in ("resource", "tool") and hit.url:
                url = hit.url
            else:
                url = f"/roadmap#topic-{hit.topic}" if hit.topic else "/roadmap"
            results.append(
                SearchResult(kind=hit.kind, id=hit.id, title=hit.title, detail=hit.detail, url=url)
            )
        return results

    # ------------------------------------------------------------------------------- plan
    def plan_view(self) -> PlanView:
        return self._cached("plan", self._build_plan)

    def _build_plan(self) -> PlanView:
        plan = self.status().plan
        weeks = charts.week_hours(plan, self._store_facts()["daily"])
        return PlanView(
            plan=plan_to_json(plan),
            pace=describe_pace(plan),
            weeks=weeks,
            timeline_figure=charts.figure_data(charts.timeline_figure(plan)),
            hours_figure=charts.figure_data(charts.hours_figure(weeks)),
        )

    # -------------------------------------------------------------------------- portfolio
    def portfolio_view(self) -> PortfolioView:
        return self._cached("portfolio", self._build_portfolio)

    def _build_portfolio(self) -> PortfolioView:
        from aipath.portfolio.audit.models import AuditReport
        from aipath.portfolio.kinds import KINDS

        audits = []
        for record in reversed(self._store_facts()["audits"]):
            try:
                report: AuditReport | None = AuditReport.model_validate(record.report)
            except ValueError:
                report = None  # written by another version: show the score only
            audits.append(
                AuditView(
                    at=record.at,
                    path=record.path,
                    kind=record.kind,
                    score=record.score,
                    report=report,
                )
            )
        roadmap, _ = self.roadmap()
        kind_of = {spec.project_id: kind for kind, spec in KINDS.items()}
        planned = {p.id: p for p in self.status().plan.projects}
        projects = [
            ProjectView(
                id=p.id,
                title=p.title,
                phase=p.phase,
                description=p.description,
                kind=kind_of.get(p.id),
                due=planned[p.id].due if p.id in planned else None,
                done=planned[p.id].done if p.id in planned else False,
            )
            for p in roadmap.projects
        ]
        return PortfolioView(audits=audits, projects=projects, kinds=sorted(KINDS))
