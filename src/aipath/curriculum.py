"""The curriculum: the roadmap joined with the lab catalogue, and the checks of that join.

``aipath.roadmap`` knows phases, topics and skills; ``aipath.labs`` knows lab folders and their
manifests.  Neither imports the other: this module is the one place that links them, so the
rules of the link live once — every skill, topic and resource a lab names exists (with one
message style and a "did you mean"), and every skill has a lab or a reading-only reason
(enforced by :meth:`Roadmap.with_labs` once the labs are attached).
"""

from __future__ import annotations

from aipath.errors import AipathError
from aipath.ids import suggest
from aipath.labs.catalogue import Catalogue, load_catalogue
from aipath.roadmap.loader import load_roadmap
from aipath.roadmap.model import Roadmap

__all__ = ["check_links", "checked_catalogue", "roadmap_with_labs"]


def _unknown(lab_id: str, field: str, value: str, kind: str, known: set[str]) -> AipathError:
    return AipathError(
        f"lab {lab_id}: lab.toml field {field}: {value!r} is not a roadmap {kind} id"
        f"{suggest(value, known)}",
        hint=f"`aipath roadmap --json` lists the {kind} ids; fix the lab's lab.toml",
    )


def check_links(roadmap: Roadmap, catalogue: Catalogue) -> None:
    """Every skill, topic and resource a lab names must exist in the roadmap."""
    skills = {skill.id for skill in roadmap.all_skills()}
    topics = {topic.id for phase in roadmap.phases for topic in phase.topics}
    resources = {resource.id for resource in roadmap.resources}
    for lab in catalogue.labs:
        for skill in lab.manifest.skills:
            if skill not in skills:
                raise _unknown(lab.id, "skills", skill, "skill", skills)
        if lab.manifest.topic not in topics:
            raise _unknown(lab.id, "topic", lab.manifest.topic, "topic", topics)
        for resource in lab.manifest.resources:
            if resource not in resources:
                raise _unknown(lab.id, "resources", resource, "resource", resources)


def checked_catalogue(catalogue: Catalogue | None = None) -> Catalogue:
    """The lab catalogue, after checking that its links into the roadmap resolve."""
    catalogue = catalogue or load_catalogue()
    check_links(load_roadmap(), catalogue)
    return catalogue


def roadmap_with_labs(catalogue: Catalogue | None = None) -> Roadmap:
    """The roadmap with each skill's labs attached from the catalogue, links checked."""
    catalogue = catalogue or load_catalogue()
    roadmap = load_roadmap()
    check_links(roadmap, catalogue)
    return roadmap.with_labs(catalogue.skill_labs())
