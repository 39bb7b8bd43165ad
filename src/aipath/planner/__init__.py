"""The study plan: dated phases, labs and milestones from the learner's profile and measured pace.

:func:`build_plan` is a pure function of plain inputs (see :mod:`aipath.planner.model`);
:mod:`aipath.planner.service` feeds it from the roadmap, the lab catalogue and the store.
"""

from __future__ import annotations

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
