"""What the grader needs to know to check one file: the same message for fork, spawn and socket."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

VerdictProcess = Literal["shared", "trusted"]


class CheckRequest(BaseModel):
    """Check ``learner_file`` with the checks in ``lab_dir``, inside ``workdir``, within limits."""

    lab_id: str
    lab_dir: str = Field(description="the lab's source folder holding checks.py")
    learner_file: str = Field(description="the file under test (the learner's exercise)")
    module_name: str = "exercise"
    workdir: str = Field(description="the current folder of the check: the learner's lab folder")
    timeout_s: float = 10.0
    memory_mb: int = 1024
    seed: int = 0
    dev_apply: str | None = None
    max_failures: int | None = Field(
        default=None, description="stop after this many failed checks (dev check's first pass)"
    )
    test_order: list[str] = Field(
        default_factory=list,
        description="checks to run first, in this order (dev check: the check that named a "
        "mistake last time)",
    )
    models: list[str] = Field(
        default_factory=list, description="models to load in a forking parent (a warm worker)"
    )
    isolate_network: bool = Field(
        default=True,
        description="run in a network namespace of its own (loopback only) where Linux allows",
    )
    verdict_process: VerdictProcess = Field(
        default="shared",
        description="'trusted': the checks run in a process of their own that never imports the "
        "learner's module; learner code runs in a confined child that serves their calls",
    )
