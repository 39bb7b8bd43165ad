"""The schema of a lab's ``lab.toml``: what an author must declare so the engine can run it.

A lab is data, not engine code (see ``labs/content``).  The manifest is the only place where a
lab tells the engine its limits, its place in the roadmap and its hints, so the schema is strict:
an unknown key is almost always a typo that would otherwise be silently ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aipath.ids import LAB_ID

LAB_ID_PATTERN = LAB_ID.pattern


class LabManifest(BaseModel):
    """One lab, as declared by its author in ``lab.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=LAB_ID_PATTERN)
    title: str = Field(min_length=3)
    phase: int = Field(ge=1, le=5)
    topic: str = Field(min_length=2)
    skills: list[str] = Field(min_length=1)
    minutes: int = Field(gt=0, le=600, description="honest estimate of the learner's working time")
    requires: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    memory_mb: int = Field(default=1024, ge=64, le=16384)
    tier: Literal["fast", "train"] = "fast"
    hints: list[str] = Field(min_length=3, description="ordered: nudge → approach → near-solution")
    resources: list[str] = Field(default_factory=list)
    exercise: str = Field(default="exercise.py", description="the file the learner edits")
    workspace_files: list[str] = Field(
        default_factory=list,
        description="extra files or folders of the lab copied next to the learner's exercise",
    )
    setup: str | None = Field(
        default=None,
        description="a Python file of the lab defining prepare(workdir: Path) -> None; run when the "
        "lab is placed in a workspace and before every dev check (e.g. to generate a practice repo)",
    )
    models: list[Literal["minilm", "smollm2"]] = Field(
        default_factory=list,
        description="packaged models the checks use (aipath.checks.models): a warm worker loads "
        "each once, before it forks the first check of a lab that names it",
    )
    verdict_process: Literal["shared", "trusted"] = Field(
        default="shared",
        description="where the verdict is decided: 'shared' runs the checks in the same (OS-"
        "confined) process as the learner's module; 'trusted' runs them in a process of their "
        "own that learner code cannot reach, calling the learner's functions across a socket "
        "(arguments and results by value: data, arrays, frames, tensors; other objects as "
        "handles).  For labs whose checks call learner functions and compare what comes back",
    )
    dev_apply: str | None = Field(
        default=None,
        description="for labs whose work happens outside Python (e.g. git): the name of a function "
        "in a candidate solution that dev check calls with the work folder before the checks run",
    )

    @model_validator(mode="after")
    def _trusted_needs_no_dev_apply(self) -> LabManifest:
        if self.verdict_process == "trusted" and (self.dev_apply or self.models):
            raise ValueError(
                "verdict_process = 'trusted' runs no dev_apply step and loads no models: "
                "those labs keep the shared process"
            )
        return self

    @field_validator("hints")
    @classmethod
    def _hints_not_blank(cls, hints: list[str]) -> list[str]:
        for number, hint in enumerate(hints, start=1):
            if not hint.strip():
                raise ValueError(f"hint {number} is empty")
        return hints

    @field_validator("requires", "skills", "resources")
    @classmethod
    def _no_duplicates(cls, values: list[str]) -> list[str]:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise ValueError(f"{value!r} is listed twice")
            seen.add(value)
        return values
