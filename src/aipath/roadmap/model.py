"""The roadmap as a typed, validated model.

Everything else in aipath (labs, planner, progress, dashboard) reads the roadmap through these
classes, so the rules that keep the data coherent live here and nowhere else: ids that are
unique and say where they belong, month ranges without gaps, hours that add up, references that
resolve, and a skill that is either checked by labs or says why it is reading only.

Cross-cutting rules raise :class:`RuleError` (a pydantic custom error) carrying the path of the
offending field *relative* to the model that found it, so the loader can point at the exact line
of the exact YAML file instead of at "the roadmap".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    computed_field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from aipath.errors import AipathError
from aipath.ids import (  # one grammar for all ids
    LAB_ID,
    PHASE_ID,
    SKILL_ID,
    SLUG,
    TOPIC_ID,
    suggest,
)

# Validation context key set by ``Roadmap.with_labs``: only once the catalogue's labs are attached
# can we tell a skill that no lab reaches from one whose lab simply is not attached yet.
LABS_ATTACHED = "labs_attached"

# Skill hours of a phase may drift this far from the phase's budget before we call it an error:
# estimates are rough, but a phase whose skills need twice its months would mislead the planner.
HOURS_TOLERANCE = 0.05

Url = Annotated[str, Field(pattern=r"^https://\S+$")]
Text = Annotated[str, Field(min_length=1)]
Hours = Annotated[float, Field(gt=0, le=1000)]

Loc = tuple[str | int, ...]


def rule_error(at: Loc, message: str) -> PydanticCustomError:
    """A validation error that remembers *where* (relative to the validating model) it applies."""
    return PydanticCustomError("roadmap_rule", "{message}", {"message": message, "at": at})


def format_loc(loc: Iterable[str | int]) -> str:
    """``('phases', 0, 'topics', 2)`` → ``phases[0].topics[2]``: the way a reader points at YAML."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def error_locations(exc: ValidationError) -> list[tuple[Loc, str]]:
    """Each error of ``exc`` as (full field path, message), rule errors resolved to their field."""
    found: list[tuple[Loc, str]] = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "roadmap_rule" and "at" in ctx:
            loc = loc + tuple(ctx["at"])
        found.append((loc, str(err["msg"])))
    return found


class _Model(BaseModel):
    # Frozen: the default roadmap is cached and shared, so nobody may edit it in place.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Skill(_Model):
    """The unit the rest of aipath tracks: something a learner can study, practise and be checked on."""

    id: str = Field(pattern=SKILL_ID.pattern)
    title: Text
    description: Text
    hours: Hours
    labs: list[Annotated[str, Field(pattern=LAB_ID.pattern)]] = []
    reading_only: Annotated[str, Field(min_length=10)] | None = None

    @model_validator(mode="after")
    def _labs_or_reading(self, info: ValidationInfo) -> Skill:
        # The static data never lists labs (they come from the lab manifests), so "neither" is
        # only an error once labs are attached; before that, a skill without reading_only is
        # one whose lab has landed.
        attached = bool(info.context and info.context.get(LABS_ATTACHED))
        if attached and not self.labs and self.reading_only is None:
            raise rule_error(
                (),
                f"skill {self.id} has neither labs nor reading_only: add "
                f'`reading_only: "<why no lab checks it>"`, or write a lab whose lab.toml '
                f"lists {self.id} in its skills",
            )
        if self.labs and self.reading_only is not None:
            raise rule_error(
                ("reading_only",),
                f"skill {self.id} has labs ({', '.join(self.labs)}) and also reading_only: a skill "
                f"is either checked by labs or reading only; delete its reading_only line now "
                f"that a lab covers it",
            )
        return self

    @property
    def phase_number(self) -> int:
        return int(self.id.split(".", 1)[0][1:])

    @property
    def topic_id(self) -> str:
        return self.id.rsplit(".", 1)[0]


class Topic(_Model):
    """A group of skills taught together; its hours are derived, never typed in, so they can't drift."""

    id: str = Field(pattern=TOPIC_ID.pattern)
    title: Text
    summary: Text
    # Phase 5 is a choice of one specialization: its topics each belong to a track.
    track: Annotated[str, Field(pattern=rf"^{SLUG}$")] | None = None
    skills: list[Skill] = Field(min_length=1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hours(self) -> float:
        return round(sum(s.hours for s in self.skills), 2)

    @model_validator(mode="after")
    def _skill_ids_belong(self) -> Topic:
        for j, skill in enumerate(self.skills):
            if not skill.id.startswith(self.id + "."):
                raise rule_error(
                    ("skills", j, "id"),
                    f"skill id {skill.id!r} must start with its topic id {self.id!r} "
                    f"(e.g. {self.id}.{skill.id.rsplit('.', 1)[-1]})",
                )
        return self


class MonthRange(_Model):
    """The seed's month labels for a phase, e.g. 3–6.

    Neighbouring phases share their boundary month (1–3, 3–6, 6–10, …): we read that as one
    continuous timeline where a phase runs from the end of the previous phase to the end of month
    ``end``, and phase 1 from the start of month 1.  So the durations are 3, 3, 4, 4 and 4 months,
    which add up to the seed's 18.
    """

    start: int = Field(ge=1)
    end: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> MonthRange:
        if self.end <= self.start:
            raise rule_error(("end",), f"month range {self.start}–{self.end} ends before it starts")
        return self

    @property
    def duration(self) -> int:
        """Months this range lasts on the continuous timeline (see the class docstring)."""
        return self.end - self.start + (1 if self.start == 1 else 0)


class Phase(_Model):
    id: str = Field(pattern=PHASE_ID.pattern)
    number: int = Field(ge=1)
    title: Text
    summary: Text
    months: MonthRange
    hours: Hours
    topics: list[Topic] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> Phase:
        if self.id != f"p{self.number}":
            raise rule_error(("id",), f"phase number {self.number} must have id 'p{self.number}'")
        for i, topic in enumerate(self.topics):
            if not topic.id.startswith(self.id + "."):
                raise rule_error(
                    ("topics", i, "id"),
                    f"topic id {topic.id!r} must start with its phase id {self.id!r}",
                )
        for track in [None, *self.tracks]:
            total = self.study_hours(track)
            if abs(total - self.hours) > HOURS_TOLERANCE * self.hours:
                what = f"track {track!r} of phase {self.id}" if track else f"phase {self.id}"
                raise rule_error(
                    ("hours",),
                    f"the skills of {what} add up to {total:g} h but the phase has "
                    f"{self.hours:g} h: adjust skill hours to within "
                    f"{HOURS_TOLERANCE:.0%} of the phase",
                )
        return self

    @property
    def tracks(self) -> list[str]:
        """Specialization tracks of this phase, in order (empty for a phase everyone follows)."""
        seen: list[str] = []
        for topic in self.topics:
            if topic.track and topic.track not in seen:
                seen.append(topic.track)
        return seen

    def topics_for(self, track: str | None = None) -> list[Topic]:
        """The topics a learner on ``track`` studies: every common topic plus that track's own."""
        return [t for t in self.topics if t.track is None or t.track == track]

    def study_hours(self, track: str | None = None) -> float:
        """Hours of skills a learner on ``track`` studies in this phase.

        Without a track in a phase that has tracks, the first track stands in, so the number
        is what one learner does, never the sum of alternatives.
        """
        if track is None and self.tracks:
            track = self.tracks[0]
        return round(sum(t.hours for t in self.topics_for(track)), 2)


class Resource(_Model):
    id: str = Field(pattern=rf"^res\.{SLUG}$")
    title: Text
    author: Text
    kind: Literal["book", "video", "course", "docs", "tutorial"]
    url: Url
    hours: Hours
    level: Literal["beginner", "intermediate", "advanced"]
    summary: Text
    phases: list[int] = Field(min_length=1)
    topics: list[str] = Field(min_length=1)


class Tool(_Model):
    id: str = Field(pattern=rf"^tool\.{SLUG}$")
    name: Text
    kind: Literal["library", "application", "service", "platform", "model", "method"]
    url: Url
    summary: Text
    phases: list[int] = Field(min_length=1)
    skills: list[str] = Field(min_length=1)


class Project(_Model):
    """A portfolio project; its id names the scaffold `aipath project new` creates."""

    id: str = Field(pattern=rf"^proj\.{SLUG}$")
    title: Text
    phase: int
    description: Text
    skills: list[str] = Field(min_length=1)
    tools: list[str] = []


class MaturityLevel(_Model):
    """One of the seed's MLOps automation levels (1 = manual … 3 = full CI/CD)."""

    id: str = Field(pattern=rf"^maturity\.{SLUG}$")
    level: int = Field(ge=1)
    title: Text
    description: Text
    goal: bool = False


class HiringCriterion(_Model):
    id: str = Field(pattern=rf"^hire\.{SLUG}$")
    title: Text
    description: Text
    evidence: list[Text] = Field(min_length=1)


class MarketValue(_Model):
    """Something the job market prefers (``valued``) over something else (``over``)."""

    id: str = Field(pattern=rf"^market\.{SLUG}$")
    valued: Text
    over: Text
    description: Text


class Community(_Model):
    id: str = Field(pattern=rf"^community\.{SLUG}$")
    name: Text
    url: Url
    description: Text


class Hiring(_Model):
    criteria: list[HiringCriterion] = Field(min_length=1)
    market_values: list[MarketValue] = Field(min_length=1)
    communities: list[Community] = []


class Pace(_Model):
    """The seed's career-changer pace, from which every phase's hours follow."""

    hours_per_week: float = Field(gt=0, le=80)
    weeks_per_month: float = Field(gt=4, lt=5)
    total_months: int = Field(ge=1)

    def hours_for_months(self, months: float) -> float:
        return months * self.weeks_per_month * self.hours_per_week


class JobReady(_Model):
    """When junior roles start to open: ``fraction`` of the way through ``phase``."""

    phase: int
    fraction: float = Field(gt=0, le=1)
    note: Text


class Roadmap(_Model):
    pace: Pace
    job_ready: JobReady
    phases: list[Phase] = Field(min_length=1)
    mlops_maturity: list[MaturityLevel] = []
    resources: list[Resource] = []
    tools: list[Tool] = []
    projects: list[Project] = []
    hiring: Hiring

    # ----------------------------------------------------------------- validation
    @model_validator(mode="after")
    def _coherent(self) -> Roadmap:
        self._check_phases()
        self._check_unique_ids()
        self._check_references()
        return self

    def _check_phases(self) -> None:
        for i, phase in enumerate(self.phases):
            if phase.number != i + 1:
                raise rule_error(
                    ("phases", i, "number"),
                    f"phase {phase.id} is number {phase.number} but is phase {i + 1} in order: "
                    f"phases must be numbered 1, 2, 3, … without gaps",
                )
            expected_start = 1 if i == 0 else self.phases[i - 1].months.end
            if phase.months.start != expected_start:
                raise rule_error(
                    ("phases", i, "months", "start"),
                    f"phase {phase.id} starts in month {phase.months.start} but must start in "
                    f"month {expected_start}, where the previous phase ends",
                )
            budget = self.pace.hours_for_months(phase.months.duration)
            if abs(phase.hours - budget) > 1:
                raise rule_error(
                    ("phases", i, "hours"),
                    f"phase {phase.id} lasts {phase.months.duration} months, which is "
                    f"{budget:.0f} h at {self.pace.hours_per_week:g} h/week, not {phase.hours:g} h",
                )
        last = self.phases[-1]
        if last.months.end != self.pace.total_months:
            raise rule_error(
                ("phases", len(self.phases) - 1, "months", "end"),
                f"the last phase ends in month {last.months.end} but the roadmap lasts "
                f"{self.pace.total_months} months",
            )
        levels = [m.level for m in self.mlops_maturity]
        if levels != list(range(1, len(levels) + 1)):
            raise rule_error(("mlops_maturity",), "maturity levels must be numbered 1, 2, 3, …")

    def _id_locations(self) -> Iterator[tuple[str, Loc, str]]:
        """Every id with its path and a description of its owner (for duplicate messages)."""
        for i, phase in enumerate(self.phases):
            yield phase.id, ("phases", i, "id"), f"phase {phase.number}"
            for j, topic in enumerate(phase.topics):
                yield topic.id, ("phases", i, "topics", j, "id"), f"a topic of phase {phase.id}"
                for k, skill in enumerate(topic.skills):
                    where = ("phases", i, "topics", j, "skills", k, "id")
                    yield skill.id, where, f"a skill of topic {topic.id}"
        for name in ("mlops_maturity", "resources", "tools", "projects"):
            for i, item in enumerate(getattr(self, name)):
                yield item.id, (name, i, "id"), f"item {i + 1} of {name}"
        for name in ("criteria", "market_values", "communities"):
            for i, item in enumerate(getattr(self.hiring, name)):
                yield item.id, ("hiring", name, i, "id"), f"item {i + 1} of hiring.{name}"

    def _check_unique_ids(self) -> None:
        first: dict[str, str] = {}
        for ident, loc, owner in self._id_locations():
            if ident in first:
                raise rule_error(
                    loc,
                    f"duplicate id {ident!r}, already used by {first[ident]}: ids must be unique "
                    f"across the whole roadmap, so rename one of them",
                )
            first[ident] = owner

    def _check_references(self) -> None:
        numbers = {p.number for p in self.phases}
        topics = {t.id: t for p in self.phases for t in p.topics}
        skills = {s.id: s for s in self.all_skills()}
        tools = {t.id for t in self.tools}

        def phase_ok(n: int, at: Loc) -> None:
            if n not in numbers:
                raise rule_error(at, f"there is no phase {n}: phases are {sorted(numbers)}")

        for i, res in enumerate(self.resources):
            for j, n in enumerate(res.phases):
                phase_ok(n, ("resources", i, "phases", j))
            for j, tid in enumerate(res.topics):
                if tid not in topics:
                    raise rule_error(
                        ("resources", i, "topics", j),
                        f"resource {res.id} names unknown topic {tid!r}{suggest(tid, topics)}",
                    )
                if int(tid.split(".")[0][1:]) not in res.phases:
                    raise rule_error(
                        ("resources", i, "topics", j),
                        f"resource {res.id} serves topic {tid} but its phases {res.phases} "
                        f"do not include that topic's phase",
                    )
        for i, tool in enumerate(self.tools):
            for j, n in enumerate(tool.phases):
                phase_ok(n, ("tools", i, "phases", j))
            for j, sid in enumerate(tool.skills):
                if sid not in skills:
                    raise rule_error(
                        ("tools", i, "skills", j),
                        f"tool {tool.id} names unknown skill {sid!r}{suggest(sid, skills)}",
                    )
                if skills[sid].phase_number not in tool.phases:
                    raise rule_error(
                        ("tools", i, "skills", j),
                        f"tool {tool.id} appears in skill {sid} but its phases {tool.phases} "
                        f"do not include that skill's phase",
                    )
        for i, proj in enumerate(self.projects):
            phase_ok(proj.phase, ("projects", i, "phase"))
            for j, sid in enumerate(proj.skills):
                if sid not in skills:
                    raise rule_error(
                        ("projects", i, "skills", j),
                        f"project {proj.id} names unknown skill {sid!r}{suggest(sid, skills)}",
                    )
            for j, tid in enumerate(proj.tools):
                if tid not in tools:
                    raise rule_error(
                        ("projects", i, "tools", j),
                        f"project {proj.id} names unknown tool {tid!r}{suggest(tid, tools)}",
                    )
        phase_ok(self.job_ready.phase, ("job_ready", "phase"))

    # ----------------------------------------------------------------- look-ups
    def phase(self, number: int) -> Phase:
        for phase in self.phases:
            if phase.number == number:
                return phase
        raise AipathError(
            f"there is no phase {number}: the roadmap has phases 1–{len(self.phases)}",
            hint="pick a phase number from `aipath roadmap`",
        )

    def all_topics(self) -> list[Topic]:
        return [t for p in self.phases for t in p.topics]

    def all_skills(self) -> list[Skill]:
        return [s for t in self.all_topics() for s in t.skills]

    def topic(self, topic_id: str) -> Topic:
        for topic in self.all_topics():
            if topic.id == topic_id:
                return topic
        ids = [t.id for t in self.all_topics()]
        raise AipathError(
            f"unknown topic {topic_id!r}{suggest(topic_id, ids)}",
            hint="topic ids look like p1.python; `aipath roadmap` lists them",
        )

    def skill(self, skill_id: str) -> Skill:
        for skill in self.all_skills():
            if skill.id == skill_id:
                return skill
        ids = [s.id for s in self.all_skills()]
        raise AipathError(
            f"unknown skill {skill_id!r}{suggest(skill_id, ids)}",
            hint="skill ids look like p1.python.asyncio; `aipath roadmap --json` lists them",
        )

    def phase_of(self, ident: str) -> Phase:
        """The phase a topic or skill id belongs to."""
        head = ident.split(".", 1)[0]
        if not PHASE_ID.match(head):
            raise AipathError(
                f"{ident!r} is not a topic or skill id (those start with p1., p2., …)"
            )
        return self.phase(int(head[1:]))

    def resources_for_phase(self, number: int) -> list[Resource]:
        self.phase(number)  # an unknown phase is an error, not an empty list
        return [r for r in self.resources if number in r.phases]

    def resources_for_topic(self, topic_id: str) -> list[Resource]:
        return [r for r in self.resources if topic_id in r.topics]

    def tools_for_skill(self, skill_id: str) -> list[Tool]:
        return [t for t in self.tools if skill_id in t.skills]

    def project(self, project_id: str) -> Project:
        for proj in self.projects:
            if proj.id == project_id:
                return proj
        ids = [p.id for p in self.projects]
        raise AipathError(f"unknown project {project_id!r}{suggest(project_id, ids)}")

    @property
    def tracks(self) -> dict[str, Topic]:
        """Specialization tracks (e.g. ``nlp``) and the topic that holds each."""
        return {t.track: t for t in self.all_topics() if t.track}

    @property
    def total_hours(self) -> float:
        return round(sum(p.hours for p in self.phases), 2)

    def job_ready_hours(self) -> float:
        """Study hours from the start until junior roles open (the seed's halfway-through-phase-3)."""
        before = sum(p.hours for p in self.phases if p.number < self.job_ready.phase)
        return round(before + self.job_ready.fraction * self.phase(self.job_ready.phase).hours, 2)

    # ----------------------------------------------------------------- labs
    def with_labs(self, mapping: Mapping[str, list[str]]) -> Roadmap:
        """A copy whose skills carry the labs the catalogue says reach them, re-validated.

        The lab manifests are the one source of truth for labs, so this *replaces* every skill's
        labs: a skill missing from ``mapping`` ends up with none.  This is also where the rule
        "every skill has labs or a reading_only reason" is enforced, since only now is it known.
        """
        known = {s.id for s in self.all_skills()}
        for skill_id, labs in mapping.items():
            if skill_id not in known:
                who = f"lab {labs[0]} names" if len(labs) == 1 else f"labs {', '.join(labs)} name"
                raise AipathError(
                    f"{who} skill {skill_id!r}, which the roadmap does not "
                    f"have{suggest(skill_id, known)}",
                    hint="fix the `skills` list in that lab's lab.toml",
                )
        data = self.model_dump(exclude_computed_fields=True)
        for phase in data["phases"]:
            for topic in phase["topics"]:
                for skill in topic["skills"]:
                    skill["labs"] = list(dict.fromkeys(mapping.get(skill["id"], [])))
        try:
            return Roadmap.model_validate(data, context={LABS_ATTACHED: True})
        except ValidationError as exc:
            loc, message = error_locations(exc)[0]
            where = format_loc(loc)
            if len(loc) > 1 and loc[0] == "phases" and isinstance(loc[1], int):
                # Phase N lives in phaseN.yaml as the file's only phase: point inside that file.
                where = f"phase{loc[1] + 1}.yaml: {format_loc(('phases', 0, *loc[2:]))}"
            raise AipathError(
                f"roadmap data error in {where}: {message}",
                hint="the roadmap data (src/aipath/roadmap/data/) and the lab manifests "
                "(labs/content/*/*/lab.toml) must agree",
            ) from None
