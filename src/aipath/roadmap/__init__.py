"""The seed's AI-engineer roadmap as validated data.

Other areas import from here only: ``load_roadmap()`` for the static roadmap.  The roadmap with labs attached is
:func:`aipath.curriculum.roadmap_with_labs` (this package knows nothing of labs).
"""

from __future__ import annotations

from aipath.roadmap.loader import DATA_DIR, load_roadmap
from aipath.roadmap.model import (
    Community,
    HiringCriterion,
    JobReady,
    MarketValue,
    MaturityLevel,
    MonthRange,
    Pace,
    Phase,
    Project,
    Resource,
    Roadmap,
    Skill,
    Tool,
    Topic,
)

__all__ = [
    "DATA_DIR",
    "Community",
    "HiringCriterion",
    "JobReady",
    "MarketValue",
    "MaturityLevel",
    "MonthRange",
    "Pace",
    "Phase",
    "Project",
    "Resource",
    "Roadmap",
    "Skill",
    "Tool",
    "Topic",
    "load_roadmap",
]
