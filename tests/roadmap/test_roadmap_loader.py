"""Corrupted copies of the roadmap data: each problem is one AipathError naming file and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aipath.errors import AipathError
from aipath.roadmap import Roadmap, load_roadmap

# The `edit` fixture (conftest.py): replace one snippet in one file of the data copy.
Edit = Callable[[str, str, str], Path]
# The `cover` fixture (conftest.py): labs for the skills whose reading_only line is gone.
Cover = Callable[[Roadmap], dict[str, list[str]]]


def load_error(data_dir: Path) -> str:
    with pytest.raises(AipathError) as info:
        load_roadmap(data_dir)
    message = str(info.value)
    assert message.count("roadmap data error") == 1, message  # one message, not a list
    return message


def test_an_untouched_copy_loads_like_the_packaged_data(data_copy: Path) -> None:
    copy = load_roadmap(data_copy)
    assert copy == load_roadmap()
    assert copy is not load_roadmap()  # only the packaged folder is cached


def test_yaml_syntax_error_names_file_line_and_column(edit: Edit) -> None:
    data = edit("phase3.yaml", "    hours: 346\n", "    hours: [346\n")
    message = load_error(data)
    assert message.startswith("roadmap data error in phase3.yaml: YAML syntax error at line ")
    assert "column" in message


def test_wrong_type_names_the_field_path_inside_the_file(edit: Edit) -> None:
    data = edit(
        "phase3.yaml",
        "ResNet stack them.\n            hours: 22\n",
        "ResNet stack them.\n            hours: lots\n",
    )
    message = load_error(data)
    assert message.startswith(
        "roadmap data error in phase3.yaml: phases[0].topics[0].skills[2].hours: "
        "Input should be a valid number"
    )


def test_unknown_field_is_refused(edit: Edit) -> None:
    data = edit("tools.yaml", "    name: MLflow\n", "    name: MLflow\n    stars: 5\n")
    message = load_error(data)
    assert "in tools.yaml: tools[" in message
    assert "].stars: Extra inputs are not permitted" in message


def test_duplicate_id_names_both_owners(edit: Edit) -> None:
    data = edit("phase2.yaml", "- id: p2.projects.nlp-basics", "- id: p2.projects.tabular")
    message = load_error(data)
    assert message.startswith(
        "roadmap data error in phase2.yaml: phases[0].topics[1].skills[2].id: "
        "duplicate id 'p2.projects.tabular', already used by a skill of topic p2.projects"
    )


def test_duplicate_yaml_key_is_refused(edit: Edit) -> None:
    data = edit(
        "resources.yaml", "    title: Made With ML\n", "    title: Made With ML\n    title: x\n"
    )
    message = load_error(data)
    assert "in resources.yaml: YAML syntax error at line" in message
    assert "duplicate key 'title'" in message


def test_skill_with_neither_labs_nor_reading_only(edit: Edit, cover: Cover) -> None:
    # A skill whose lab has landed has no reading_only line: the static data still loads (the
    # catalogue validates itself against it), and attaching the labs enforces the rule.
    skill = "id: p5.nlp.advanced-fine-tuning"
    data = edit("phase5.yaml", skill, skill)  # the data as shipped, in a copy
    roadmap = load_roadmap(data)
    assert roadmap.skill("p5.nlp.advanced-fine-tuning").reading_only is None
    mapping = cover(roadmap)
    assert mapping.pop("p5.nlp.advanced-fine-tuning") == ["p5-stand-in"]
    with pytest.raises(AipathError) as info:
        roadmap.with_labs(mapping)  # no lab reaches it after all
    message = str(info.value)
    assert message.startswith("roadmap data error in phase5.yaml: phases[0].topics[0].skills[0]: ")
    assert "skill p5.nlp.advanced-fine-tuning has neither labs nor reading_only" in message
    assert "reading_only:" in message and "lab.toml" in message  # says how to fix it


def test_skill_with_labs_and_reading_only(edit: Edit) -> None:
    data = edit(
        "phase1.yaml",
        "- id: p1.git.basics\n",
        "- id: p1.git.basics\n            labs: [p1-git]\n",
    )
    message = load_error(data)
    assert message.startswith(
        "roadmap data error in phase1.yaml: phases[0].topics[2].skills[0].labs: "
        "labs are not listed in the roadmap"
    )
    assert "lab.toml" in message and "Delete this line" in message


def test_missing_file(data_copy: Path) -> None:
    (data_copy / "tools.yaml").unlink()
    message = load_error(data_copy)
    assert message.startswith("roadmap data error in tools.yaml: missing file")


def test_empty_file(data_copy: Path) -> None:
    (data_copy / "hiring.yaml").write_text("# nothing yet\n", encoding="utf-8")
    message = load_error(data_copy)
    assert message.startswith("roadmap data error in hiring.yaml: the file is empty")


def test_unknown_topic_reference(edit: Edit) -> None:
    data = edit(
        "resources.yaml",
        "topics: [p4.lifecycle, p4.monitoring",
        "topics: [p4.lifecycel, p4.monitoring",
    )
    message = load_error(data)
    assert "in resources.yaml: resources[11].topics[0]: " in message
    assert "unknown topic 'p4.lifecycel' (did you mean p4.lifecycle?)" in message


def test_tool_naming_a_skill_of_a_phase_it_does_not_list(edit: Edit) -> None:
    data = edit(
        "tools.yaml",
        "skills: [p1.python.type-hints]",
        "skills: [p1.python.type-hints, p4.cicd.testing]",
    )
    message = load_error(data)
    assert "in tools.yaml: tools[" in message and "].skills[1]: " in message
    assert "do not include that skill's phase" in message


def test_month_gap_is_refused(edit: Edit) -> None:
    data = edit("phase3.yaml", "months: {start: 6, end: 10}", "months: {start: 7, end: 10}")
    message = load_error(data)
    assert message.startswith("roadmap data error in phase3.yaml: phases[0].months.start: ")
    assert "must start in month 6" in message


def test_skill_hours_far_from_the_phase_budget(edit: Edit) -> None:
    data = edit(
        "phase2.yaml",
        "            hours: 45\n",
        "            hours: 145\n",
    )
    message = load_error(data)
    assert message.startswith("roadmap data error in phase2.yaml: phases[0].hours: ")
    assert "add up to 360 h but the phase has 260 h" in message


def test_phase_hours_must_follow_the_pace(edit: Edit) -> None:
    data = edit("roadmap.yaml", "hours_per_week: 20", "hours_per_week: 10")
    message = load_error(data)
    assert message.startswith("roadmap data error in phase1.yaml: phases[0].hours: ")
    assert "130 h at 10 h/week" in message


def test_key_defined_twice_across_files(data_copy: Path) -> None:
    (data_copy / "extra.yaml").write_text(
        "job_ready: {phase: 2, fraction: 0.5, note: twice}\n", encoding="utf-8"
    )
    message = load_error(data_copy)
    assert message.startswith(
        "roadmap data error in extra.yaml: job_ready: already defined in roadmap.yaml"
    )


def test_extra_files_add_to_list_sections_and_errors_point_at_them(data_copy: Path) -> None:
    (data_copy / "more-tools.yaml").write_text(
        "tools:\n"
        "  - id: tool.jax\n"
        "    name: JAX\n"
        "    kind: library\n"
        "    url: http://jax.example\n"
        "    summary: arrays\n"
        "    phases: [3]\n"
        "    skills: [p3.nn.pytorch]\n",
        encoding="utf-8",
    )
    message = load_error(data_copy)
    assert message.startswith("roadmap data error in more-tools.yaml: tools[0].url: ")
