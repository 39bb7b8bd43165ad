"""The packaged roadmap: shape, hours, ids and the look-up helpers other areas rely on."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest

from aipath.errors import AipathError
from aipath.roadmap import Roadmap, load_roadmap
from aipath.roadmap.model import LAB_ID, SKILL_ID

# The `cover` fixture (conftest.py): labs for the skills whose reading_only line is gone.
Cover = Callable[[Roadmap], dict[str, list[str]]]


@pytest.fixture(scope="module")
def roadmap() -> Roadmap:
    return load_roadmap()


def test_load_is_cached_for_the_packaged_data(roadmap: Roadmap) -> None:
    assert load_roadmap() is roadmap


def test_five_phases_cover_months_1_to_18_without_gaps(roadmap: Roadmap) -> None:
    assert [p.id for p in roadmap.phases] == ["p1", "p2", "p3", "p4", "p5"]
    assert [(p.months.start, p.months.end) for p in roadmap.phases] == [
        (1, 3),
        (3, 6),
        (6, 10),
        (10, 14),
        (14, 18),
    ]
    assert [p.months.duration for p in roadmap.phases] == [3, 3, 4, 4, 4]
    assert sum(p.months.duration for p in roadmap.phases) == 18


def test_phase_hours_follow_the_career_changer_pace(roadmap: Roadmap) -> None:
    pace = roadmap.pace
    assert (pace.hours_per_week, pace.weeks_per_month) == (20, 4.33)
    for phase in roadmap.phases:
        expected = phase.months.duration * 4.33 * 20
        assert abs(phase.hours - expected) <= 1, phase.id


def test_skill_hours_add_up_to_the_phase_and_topic_hours_are_derived(roadmap: Roadmap) -> None:
    for phase in roadmap.phases:
        for topic in phase.topics:
            assert topic.hours == pytest.approx(sum(s.hours for s in topic.skills))
        tracks = phase.tracks or [None]
        for track in tracks:
            assert phase.study_hours(track) == pytest.approx(phase.hours, rel=0.05)


def test_phase_five_has_four_alternative_tracks(roadmap: Roadmap) -> None:
    assert roadmap.phase(5).tracks == ["nlp", "vision", "agents", "rl"]
    assert set(roadmap.tracks) == {"nlp", "vision", "agents", "rl"}
    # One learner follows one track: the phase budget is one track's hours, not all four.
    assert roadmap.phase(5).study_hours("rl") == pytest.approx(346)
    assert all(t.track is None for p in roadmap.phases[:4] for t in p.topics)


def test_ids_are_unique_and_nested(roadmap: Roadmap) -> None:
    ids = [ident for ident, _, _ in roadmap._id_locations()]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert duplicates == []
    for phase in roadmap.phases:
        for topic in phase.topics:
            assert topic.id.startswith(phase.id + ".")
            for skill in topic.skills:
                assert SKILL_ID.match(skill.id)
                assert skill.id.startswith(topic.id + ".")
                assert skill.phase_number == phase.number
                assert skill.topic_id == topic.id


def test_python_fluency_and_version_control_skills(roadmap: Roadmap) -> None:
    python = {s.id for s in roadmap.topic("p1.python").skills}
    assert {
        "p1.python.asyncio",
        "p1.python.rest-apis",
        "p1.python.websockets",
        "p1.python.type-hints",
        "p1.python.testing",
    } <= python
    assert {s.id for s in roadmap.topic("p1.math").skills} == {
        "p1.math.linear-algebra",
        "p1.math.calculus",
        "p1.math.probability",
        "p1.math.information-theory",
    }
    assert len(roadmap.topic("p1.git").skills) == 4


def test_static_data_lists_no_labs_and_pending_reasons_name_real_lab_ids(roadmap: Roadmap) -> None:
    pending = re.compile(r"^No lab yet: (p\d-[a-z0-9-]+(, p\d-[a-z0-9-]+)*) will cover it; ")
    for skill in roadmap.all_skills():
        assert skill.labs == []  # labs come from the lab manifests only
        match = pending.match(skill.reading_only or "")
        if match:
            for lab in match.group(1).split(", "):
                assert LAB_ID.match(lab), (skill.id, lab)


def test_real_reasons_for_skills_no_lab_can_check(roadmap: Roadmap) -> None:
    # The phase-4 capstone is a portfolio project, graded by the audit's maturity levels.
    for skill_id in ("p4.projects.pipeline", "p4.lifecycle.operations"):
        reason = roadmap.skill(skill_id).reading_only or ""
        assert "aipath audit DIR --kind pipeline" in reason and "maturity level" in reason


def test_resources_tools_and_projects_resolve(roadmap: Roadmap) -> None:
    assert len(roadmap.resources) >= 12
    for res in roadmap.resources:
        assert res.url.startswith("https://")
        for topic_id in res.topics:
            roadmap.topic(topic_id)
    for tool in roadmap.tools:
        for skill_id in tool.skills:
            assert roadmap.skill(skill_id).phase_number in tool.phases
    assert {p.id for p in roadmap.projects} == {
        "proj.tabular",
        "proj.timeseries",
        "proj.nlp",
        "proj.rag",
        "proj.pipeline",
    }
    assert roadmap.project("proj.rag").phase == 3


def test_hiring_job_ready_and_maturity(roadmap: Roadmap) -> None:
    assert len(roadmap.hiring.criteria) == 4
    assert len(roadmap.hiring.market_values) == 3
    assert (roadmap.job_ready.phase, roadmap.job_ready.fraction) == (3, 0.5)
    # Phases 1 and 2 (260 h each) plus half of phase 3 (346 h).
    assert roadmap.job_ready_hours() == pytest.approx(260 + 260 + 173)
    assert [m.level for m in roadmap.mlops_maturity] == [1, 2, 3]
    assert [m.goal for m in roadmap.mlops_maturity] == [False, False, True]


def test_lookups(roadmap: Roadmap) -> None:
    assert roadmap.phase(3).title == "Deep learning and modern AI"
    assert roadmap.skill("p1.python.asyncio").title.startswith("Asynchronous")
    assert roadmap.phase_of("p4.serving.vllm").number == 4
    assert {r.id for r in roadmap.resources_for_phase(4)} == {"res.made-with-ml", "res.ml-ops-org"}
    assert "tool.mlflow" in {t.id for t in roadmap.tools_for_skill("p4.orchestration.mlflow")}
    assert len(roadmap.all_skills()) == sum(len(t.skills) for t in roadmap.all_topics())


def test_unknown_ids_raise_a_learner_error_with_a_suggestion(roadmap: Roadmap) -> None:
    with pytest.raises(AipathError, match="no phase 6"):
        roadmap.phase(6)
    with pytest.raises(AipathError, match=r"did you mean p1\.python\.asyncio"):
        roadmap.skill("p1.python.asyncoi")
    with pytest.raises(AipathError, match="unknown topic"):
        roadmap.topic("p9.nothing")
    with pytest.raises(AipathError, match="no phase 9"):
        roadmap.resources_for_phase(9)


def test_with_labs_fills_and_replaces(roadmap: Roadmap, cover: Cover) -> None:
    data = roadmap.model_dump(exclude_computed_fields=True)
    data["phases"][0]["topics"][0]["skills"][0]["reading_only"] = None
    data["phases"][0]["topics"][0]["skills"][0]["labs"] = ["p1-old-lab"]
    prepared = Roadmap.model_validate(data)

    mapping = cover(prepared)
    mapping["p1.python.numpy"] = ["p1-numpy-vectorize", "p1-extra", "p1-numpy-vectorize"]
    attached = prepared.with_labs(mapping)
    # The catalogue's order is kept, duplicates dropped; the old labs are replaced.
    assert attached.skill("p1.python.numpy").labs == ["p1-numpy-vectorize", "p1-extra"]
    assert prepared.skill("p1.python.numpy").labs == ["p1-old-lab"]  # the original is untouched
    for skill in attached.all_skills():
        assert bool(skill.labs) != bool(skill.reading_only)


def test_with_labs_refuses_a_skill_with_labs_and_reading_only(
    roadmap: Roadmap, cover: Cover
) -> None:
    # System design has no lab: a lab naming it contradicts its reading_only line.
    with pytest.raises(AipathError) as info:
        roadmap.with_labs({**cover(roadmap), "p4.lifecycle.design": ["p4-sketch"]})
    message = str(info.value)
    assert message.startswith(
        "roadmap data error in phase4.yaml: phases[0].topics[0].skills[0].reading_only: "
        "skill p4.lifecycle.design has labs (p4-sketch) and also reading_only"
    )
    assert "delete its reading_only line" in message


def test_with_labs_refuses_an_unknown_skill(roadmap: Roadmap) -> None:
    with pytest.raises(
        AipathError, match=r"(?s)lab p1-typing names skill 'p1\.python\.typing'.*lab\.toml"
    ):
        roadmap.with_labs({"p1.python.typing": ["p1-typing"]})


def test_with_labs_refuses_leaving_a_skill_without_labs_or_reason(
    roadmap: Roadmap, cover: Cover
) -> None:
    data = roadmap.model_dump(exclude_computed_fields=True)
    data["phases"][3]["topics"][0]["skills"][0]["reading_only"] = None
    prepared = Roadmap.model_validate(data)  # loads: its lab might simply not be attached yet
    assert prepared.skill("p4.lifecycle.design").reading_only is None
    with pytest.raises(AipathError) as info:
        prepared.with_labs(cover(roadmap))  # ...but no lab reaches it
    assert str(info.value).startswith(
        "roadmap data error in phase4.yaml: phases[0].topics[0].skills[0]: "
        "skill p4.lifecycle.design has neither labs nor reading_only"
    )
