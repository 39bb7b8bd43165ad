"""The study plan: dated phases, labs and milestones from the learner's profile and measured pace.

:func:`build_plan` is a pure function of plain inputs (see :mod:`aipath.planner.model`);
:mod:`aipath.planner.service` feeds it from the roadmap, the lab catalogue and the store.

Names are imported on first use (PEP 562) so that `aipath --help` and commands that do not
need this package stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aipath.lazy import lazy_exports

if TYPE_CHECKING:
    from aipath.planner.discounts import DISCOUNTS, Discount
    from aipath.planner.model import (
        JobReadyInput,
        LabInput,
        PhaseInput,
        Plan,
        PlanProgress,
        ProjectInput,
        SkillInput,
        TopicInput,
        WorkItem,
    )
    from aipath.planner.render import describe_pace, plan_to_ics, plan_to_json, plan_to_markdown
    from aipath.planner.schedule import build_plan
    from aipath.planner.service import load_inputs, plan_for, update_profile

_EXPORTS: dict[str, str] = {
    "DISCOUNTS": "aipath.planner.discounts",
    "Discount": "aipath.planner.discounts",
    "JobReadyInput": "aipath.planner.model",
    "LabInput": "aipath.planner.model",
    "PhaseInput": "aipath.planner.model",
    "Plan": "aipath.planner.model",
    "PlanProgress": "aipath.planner.model",
    "ProjectInput": "aipath.planner.model",
    "SkillInput": "aipath.planner.model",
    "TopicInput": "aipath.planner.model",
    "WorkItem": "aipath.planner.model",
    "describe_pace": "aipath.planner.render",
    "plan_to_ics": "aipath.planner.render",
    "plan_to_json": "aipath.planner.render",
    "plan_to_markdown": "aipath.planner.render",
    "build_plan": "aipath.planner.schedule",
    "load_inputs": "aipath.planner.service",
    "plan_for": "aipath.planner.service",
    "update_profile": "aipath.planner.service",
}

__all__ = [
    "DISCOUNTS",
    "Discount",
    "JobReadyInput",
    "LabInput",
    "PhaseInput",
    "Plan",
    "PlanProgress",
    "ProjectInput",
    "SkillInput",
    "TopicInput",
    "WorkItem",
    "build_plan",
    "describe_pace",
    "load_inputs",
    "plan_for",
    "plan_to_ics",
    "plan_to_json",
    "plan_to_markdown",
    "update_profile",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
