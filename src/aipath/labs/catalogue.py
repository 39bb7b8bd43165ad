"""Discovery and validation of the lab catalogue.

Labs live as folders ``content/p<phase>/<NN-slug>/``.  Loading the catalogue validates every
manifest, the presence of the files the contract requires, and the prerequisite graph (the links into the
roadmap are :mod:`aipath.curriculum`'s job), and turns any problem into one :class:`AipathError` that names the lab, the file
and the field — an author fixing a typo should never have to read a pydantic traceback.
"""

from __future__ import annotations

import functools
import graphlib
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from aipath.errors import AipathError
from aipath.labs.manifest import LabManifest

CONTENT_DIR = Path(__file__).parent / "content"
REQUIRED_FILES = ("README.md", "checks.py", "solution.py")


@dataclass(frozen=True)
class Lab:
    """A validated lab: its manifest plus where its files are."""

    manifest: LabManifest
    source_dir: Path

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def slug(self) -> str:
        """The folder name (``01-numpy-vectorize``), also used in the learner's workspace."""
        return self.source_dir.name

    @property
    def relative_dir(self) -> Path:
        """Where the lab lives inside a workspace's ``labs/`` folder: ``p1/01-numpy-vectorize``."""
        return Path(self.source_dir.parent.name) / self.source_dir.name

    @property
    def starter(self) -> Path:
        return self.source_dir / self.manifest.exercise

    @property
    def solution(self) -> Path:
        return self.source_dir / "solution.py"

    @property
    def checks(self) -> Path:
        return self.source_dir / "checks.py"

    @property
    def readme(self) -> Path:
        return self.source_dir / "README.md"

    def mistakes(self) -> list[Path]:
        return sorted((self.source_dir / "mistakes").glob("*.py"))

    def alternatives(self) -> list[Path]:
        return sorted((self.source_dir / "alternatives").glob("*.py"))


@dataclass
class Catalogue:
    """Every lab, in learning order (phase, then prerequisites, then folder order)."""

    labs: list[Lab]
    content_dir: Path
    _by_id: dict[str, Lab] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {lab.id: lab for lab in self.labs}

    def __iter__(self) -> Iterator[Lab]:
        return iter(self.labs)

    def __len__(self) -> int:
        return len(self.labs)

    def ids(self) -> list[str]:
        return [lab.id for lab in self.labs]

    def get(self, lab_id: str) -> Lab:
        """Find a lab by id, or by a unique fragment of it (``numpy`` → ``p1-numpy-vectorize``)."""
        if lab_id in self._by_id:
            return self._by_id[lab_id]
        matches = [lab for lab in self.labs if lab_id in lab.id or lab_id == lab.slug]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(lab.id for lab in matches)
            raise AipathError(f"'{lab_id}' matches several labs: {names}", hint="give the full id")
        raise AipathError(f"no lab called '{lab_id}'", hint="`aipath list` shows every lab id")

    def skill_labs(self) -> dict[str, list[str]]:
        """``{skill id: [lab ids]}``: how the roadmap learns which labs reach each skill."""
        mapping: dict[str, list[str]] = {}
        for lab in self.labs:
            for skill in lab.manifest.skills:
                mapping.setdefault(skill, []).append(lab.id)
        return mapping


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def load_manifest(lab_dir: Path) -> LabManifest:
    """Parse and validate one ``lab.toml``."""
    path = lab_dir / "lab.toml"
    label = f"{lab_dir.parent.name}/{lab_dir.name}/lab.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AipathError(f"lab {lab_dir.name}: {label} is missing") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AipathError(
            f"lab {lab_dir.name}: {label} is not valid TOML: {exc}",
            hint="fix the syntax at the line shown",
        ) from exc
    try:
        return LabManifest.model_validate(raw)
    except ValidationError as exc:
        raise AipathError(f"lab {lab_dir.name}: {label}: {_format_validation_error(exc)}") from exc


def _discover(content_dir: Path) -> list[Lab]:
    labs: list[Lab] = []
    if not content_dir.is_dir():
        raise AipathError(f"lab content folder {content_dir} does not exist")
    for phase_dir in sorted(p for p in content_dir.iterdir() if p.is_dir()):
        if not phase_dir.name.startswith("p"):
            continue
        for lab_dir in sorted(p for p in phase_dir.iterdir() if p.is_dir()):
            if lab_dir.name.startswith(("_", ".")):
                continue
            manifest = load_manifest(lab_dir)
            labs.append(Lab(manifest=manifest, source_dir=lab_dir))
    return labs


def _check_files(lab: Lab) -> None:
    label = f"{lab.relative_dir}"
    expected_phase = f"p{lab.manifest.phase}"
    if lab.source_dir.parent.name != expected_phase:
        raise AipathError(
            f"lab {lab.id}: lab.toml field phase = {lab.manifest.phase} but the folder is under "
            f"{lab.source_dir.parent.name}/",
            hint=f"move it to {expected_phase}/ or fix the phase",
        )
    if not lab.id.startswith(expected_phase + "-"):
        raise AipathError(f"lab {lab.id}: lab.toml field id must start with '{expected_phase}-'")
    for name in (*REQUIRED_FILES, lab.manifest.exercise):
        if not (lab.source_dir / name).is_file():
            raise AipathError(f"lab {lab.id}: {label}/{name} is missing")
    for name in lab.manifest.workspace_files:
        if not (lab.source_dir / name).exists():
            raise AipathError(
                f"lab {lab.id}: lab.toml field workspace_files: {name} does not exist"
            )
    if lab.manifest.setup and not (lab.source_dir / lab.manifest.setup).is_file():
        raise AipathError(
            f"lab {lab.id}: lab.toml field setup: {lab.manifest.setup} does not exist"
        )


def _order(labs: list[Lab]) -> list[Lab]:
    """Validate prerequisites (known, acyclic, not from a later phase) and sort by learning order."""
    by_id: dict[str, Lab] = {}
    for lab in labs:
        if lab.id in by_id:
            raise AipathError(
                f"lab id {lab.id} is used twice: {by_id[lab.id].relative_dir} and {lab.relative_dir}"
            )
        by_id[lab.id] = lab
    for lab in labs:
        for req in lab.manifest.requires:
            if req not in by_id:
                raise AipathError(f"lab {lab.id}: lab.toml field requires: unknown lab '{req}'")
            if by_id[req].manifest.phase > lab.manifest.phase:
                raise AipathError(
                    f"lab {lab.id}: lab.toml field requires: '{req}' belongs to a later phase"
                )
    sorter = graphlib.TopologicalSorter({lab.id: lab.manifest.requires for lab in labs})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = " → ".join(exc.args[1])
        raise AipathError(f"lab prerequisites form a cycle: {cycle}") from exc
    # Stable learning order: phase first, then folder order, while respecting prerequisites.
    position = {lab.id: index for index, lab in enumerate(labs)}
    ordered: list[Lab] = []
    done: set[str] = set()
    remaining = sorted(labs, key=lambda lab: (lab.manifest.phase, position[lab.id]))
    while remaining:
        for lab in remaining:
            if all(req in done for req in lab.manifest.requires):
                ordered.append(lab)
                done.add(lab.id)
                remaining.remove(lab)
                break
    return ordered


ENV_LABS_DIR = "AIPATH_LABS_DIR"


def load_catalogue(content_dir: Path | None = None) -> Catalogue:
    """Load and validate the catalogue (cached per folder).

    ``$AIPATH_LABS_DIR`` replaces the packaged content: authors try a lab collection of their
    own, and tests use a small fixture catalogue.
    """
    folder = content_dir or Path(os.environ.get(ENV_LABS_DIR) or CONTENT_DIR)
    return _load_cached(folder.resolve(), _fingerprint(folder))


def _fingerprint(folder: Path) -> float:
    """Newest manifest time, so an edited lab.toml is re-read by long-running processes."""
    try:
        return max((p.stat().st_mtime for p in folder.glob("*/*/lab.toml")), default=0.0)
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=8)
def _load_cached(folder: Path, _stamp: float) -> Catalogue:
    return _load(folder)


def _load(content_dir: Path) -> Catalogue:
    labs = _discover(content_dir)
    for lab in labs:
        _check_files(lab)
    ordered = _order(labs)
    return Catalogue(labs=ordered, content_dir=content_dir)
