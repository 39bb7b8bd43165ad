"""The workspace's ``aipath.toml``: the marker that makes a folder a workspace, and its settings."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aipath.errors import AipathError


class ProfileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date = Field(default_factory=date.today)
    hours_per_week: float = Field(default=20.0, gt=0, le=100)
    background: Literal["beginner", "developer", "data-scientist"] = "beginner"
    track: Literal["nlp", "vision", "agents", "rl"] | None = None


class WorkspaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    profile: ProfileConfig = Field(default_factory=ProfileConfig)
    current_lab: str | None = None


def read_config(path: Path) -> WorkspaceConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AipathError(
            f"{path} is missing", hint="run `aipath init` to create a workspace"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise AipathError(f"{path} is not valid TOML: {exc}", hint="fix the line shown") from exc
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise AipathError(f"{path}: field {field}: {first['msg']}") from exc


def write_config(path: Path, config: WorkspaceConfig) -> None:
    data = config.model_dump(mode="json", exclude_none=True)
    text = "# aipath workspace settings (the planner keeps the authoritative profile)\n"
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text + tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)
