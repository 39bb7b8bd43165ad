"""Read the roadmap YAML files into one validated :class:`Roadmap`.

The data is split over several files (one per phase, plus resources, tools, …) so that each
stays readable.  Every file holds some top-level keys of the Roadmap model: list-valued keys
(``phases``, ``resources``, …) are concatenated across files, any other key must come from
exactly one file.  We remember which file each item came from, so a validation error is reported
against the file and the field path *inside that file*, e.g.
``roadmap data error in phase3.yaml: phases[0].topics[2].skills[1].hours: …``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aipath.errors import AipathError
from aipath.roadmap.model import Loc, Roadmap, error_locations, format_loc

DATA_DIR = Path(__file__).parent / "data"

# Files that must exist; any other *.yaml in the folder is read too.
REQUIRED_FILES: tuple[str, ...] = (
    "roadmap.yaml",
    "phase1.yaml",
    "phase2.yaml",
    "phase3.yaml",
    "phase4.yaml",
    "phase5.yaml",
    "resources.yaml",
    "tools.yaml",
    "projects.yaml",
    "hiring.yaml",
)
LIST_KEYS: frozenset[str] = frozenset(
    {"phases", "mlops_maturity", "resources", "tools", "projects"}
)


# libyaml's parser is several times faster than the pure-Python one, and every CLI command loads
# the roadmap once; both are "safe" loaders (no arbitrary Python objects).
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """Safe loader that refuses duplicate keys, which plain YAML silently lets the last one win."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _fail(file: str, message: str) -> AipathError:
    return AipathError(
        f"roadmap data error in {file}: {message}",
        hint="fix the roadmap data file (src/aipath/roadmap/data/) and run the command again",
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(path.name, f"cannot read the file ({exc.strerror})") from None
    try:
        content = yaml.load(
            text, Loader=_UniqueKeyLoader
        )  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise _fail(path.name, f"YAML syntax error at {where}{problem}") from None
    if content is None:
        raise _fail(path.name, "the file is empty")
    if not isinstance(content, dict):
        raise _fail(path.name, "the file must be a mapping of roadmap keys (phases:, tools:, …)")
    return content


class _Origins:
    """Where each piece of the merged data came from, to translate error paths back to files."""

    def __init__(self) -> None:
        self.items: dict[str, list[tuple[str, int]]] = {}
        self.keys: dict[str, str] = {}

    def locate(self, loc: Loc) -> tuple[str | None, Loc]:
        if not loc or not isinstance(loc[0], str):
            return None, loc
        key = loc[0]
        if key in self.items and len(loc) > 1 and isinstance(loc[1], int):
            items = self.items[key]
            if loc[1] < len(items):
                file, local = items[loc[1]]
                return file, (key, local, *loc[2:])
        if key in self.keys:
            return self.keys[key], loc
        if self.items.get(key):
            return self.items[key][0][0], loc
        return None, loc


def _merge(files: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], _Origins]:
    merged: dict[str, Any] = {}
    origins = _Origins()
    for name, content in files:
        for key, value in content.items():
            if key in LIST_KEYS:
                if not isinstance(value, list):
                    raise _fail(name, f"{key}: must be a list (each item starting with '- ')")
                merged.setdefault(key, []).extend(value)
                origins.items.setdefault(key, []).extend((name, i) for i in range(len(value)))
            elif key in merged:
                raise _fail(name, f"{key}: already defined in {origins.keys.get(key, '?')}")
            else:
                merged[key] = value
                origins.keys[str(key)] = name
    return merged, origins


def _reject_listed_labs(merged: dict[str, Any], origins: _Origins) -> None:
    """Labs come from the lab manifests (one source of truth), never from the roadmap data."""
    phases = merged.get("phases")
    if not isinstance(phases, list):
        return
    for i, phase in enumerate(phases):
        topics = phase.get("topics") if isinstance(phase, dict) else None
        for j, topic in enumerate(topics if isinstance(topics, list) else []):
            skills = topic.get("skills") if isinstance(topic, dict) else None
            for k, skill in enumerate(skills if isinstance(skills, list) else []):
                if isinstance(skill, dict) and "labs" in skill:
                    file, loc = origins.locate(("phases", i, "topics", j, "skills", k, "labs"))
                    raise _fail(
                        file or "the roadmap data",
                        f"{format_loc(loc)}: labs are not listed in the roadmap; they come from "
                        f"the lab manifests (the `skills` of each lab.toml). Delete this line",
                    )


def _validation_message(exc: ValidationError, origins: _Origins, data_dir: Path) -> AipathError:
    problems = error_locations(exc)
    loc, message = problems[0]
    file, local = origins.locate(loc)
    if file is None:
        file = f"{data_dir.name}/ (no file defines it)" if local else data_dir.name
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    field = format_loc(local)
    return _fail(file, f"{field}: {message}{more}" if field else f"{message}{more}")


def _load(data_dir: Path) -> Roadmap:
    if not data_dir.is_dir():
        raise _fail(str(data_dir), "the roadmap data folder does not exist")
    missing = [n for n in REQUIRED_FILES if not (data_dir / n).is_file()]
    if missing:
        raise _fail(missing[0], f"missing file (looked in {data_dir})")
    extra = sorted(p.name for p in data_dir.glob("*.yaml") if p.name not in REQUIRED_FILES)
    names = [*REQUIRED_FILES, *extra]
    files = [(n, _read_yaml(data_dir / n)) for n in names]
    merged, origins = _merge(files)
    _reject_listed_labs(merged, origins)
    try:
        return Roadmap.model_validate(merged)
    except ValidationError as exc:
        raise _validation_message(exc, origins, data_dir) from None


@functools.cache
def _load_default() -> Roadmap:
    return _load(DATA_DIR)


def load_roadmap(data_dir: Path | None = None) -> Roadmap:
    """The validated roadmap (without labs); cached when read from the packaged data."""
    if data_dir is None:
        return _load_default()
    return _load(Path(data_dir))
