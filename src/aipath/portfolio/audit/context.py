"""Everything checks share about one repository, computed once and lazily.

Parsing the README, every Python module or the pyproject is done at most once per audit, and each
parse records its failure (malformed TOML, a syntax error) as data rather than raising, so a
broken file turns into evidence on a check instead of a traceback.
"""

from __future__ import annotations

import ast
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from aipath.portfolio.audit import gitrepo
from aipath.portfolio.audit.readme import README_NAMES, Readme
from aipath.portfolio.audit.readme import parse as parse_readme
from aipath.portfolio.audit.walker import FileEntry, RepoFiles

MAX_PY_FILES = 2_000
T = TypeVar("T")
TEST_DIR_NAMES = frozenset({"tests", "test", "testing"})


@dataclass
class Parsed:
    """A parsed config or module: either ``data`` or the reason it could not be read."""

    rel: str
    data: Any = None
    error: str | None = None
    line: int | None = None


@dataclass
class ModuleIndex:
    """What checks look for in a module, gathered in one walk of its syntax tree."""

    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)
    calls: list[tuple[str, ast.Call]] = field(default_factory=list)
    imports: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class PyModule:
    rel: str
    tree: ast.Module | None
    error: str | None = None
    line: int | None = None
    _index: ModuleIndex | None = None

    @property
    def index(self) -> ModuleIndex:
        if self._index is None:
            self._index = _index(self.tree)
        return self._index


def call_name(node: ast.Call) -> str:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _index(tree: ast.Module | None) -> ModuleIndex:
    found = ModuleIndex()
    if tree is None:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.functions.append(node)
        elif isinstance(node, ast.Call):
            found.calls.append((call_name(node), node))
        elif isinstance(node, ast.Import):
            found.imports.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.imports.append((node.module, node.lineno))
    return found


def is_test_path(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        any(p in TEST_DIR_NAMES for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


@dataclass
class AuditContext:
    root: Path
    files: RepoFiles
    is_git: bool
    kind: str | None = None
    run_tests: bool = False
    test_timeout_s: float = 300.0
    notes: list[str] = field(default_factory=list)
    cache: dict[str, object] = field(default_factory=dict)

    @cached_property
    def commits(self) -> list[gitrepo.Commit] | None:
        return gitrepo.history(self.root) if self.is_git else None

    @cached_property
    def readme(self) -> Readme | None:
        entry = self.files.find(*README_NAMES)
        if entry is None:
            return None
        text = self.files.read_text(entry.rel)
        return parse_readme(entry.rel, text or "")

    @cached_property
    def pyproject(self) -> Parsed | None:
        entry = self.files.find("pyproject.toml")
        return self.toml(entry.rel) if entry else None

    def toml(self, rel: str) -> Parsed:
        text = self.files.read_text(rel)
        if text is None:
            return Parsed(rel, error="could not be read (binary, too large or unreadable)")
        try:
            return Parsed(rel, data=tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            return Parsed(rel, error=f"invalid TOML: {exc}", line=_toml_line(str(exc)))

    def yaml(self, rel: str) -> Parsed:
        text = self.files.read_text(rel)
        if text is None:
            return Parsed(rel, error="could not be read (binary, too large or unreadable)")
        try:
            return Parsed(rel, data=yaml.safe_load(text))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = mark.line + 1 if mark is not None else None
            return Parsed(rel, error=f"invalid YAML: {exc.problem or exc}", line=line)
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            return Parsed(rel, error=f"invalid YAML: {type(exc).__name__}")

    @cached_property
    def unchanged_scaffold(self) -> frozenset[str]:
        """Generated files the learner has not changed (empty for a repository not scaffolded)."""
        from aipath.portfolio.fingerprint import unchanged_scaffold_files

        return unchanged_scaffold_files(self.root)

    def learner_modules(self, *, tests: bool) -> list[PyModule]:
        """Parsed test (or non-test) modules the learner wrote or changed."""
        return [
            m
            for m in self.modules
            if is_test_path(m.rel) == tests and m.rel not in self.unchanged_scaffold
        ]

    @cached_property
    def scaffold_sources(self) -> dict[str, str]:
        """The generated text of each scaffold Python file the learner has since changed.

        Read from the scaffold's own commit and kept only when it hashes to the fingerprint, so
        a rewritten history cannot pass the learner's code off as the template (or back).
        """
        import hashlib

        from aipath.portfolio.fingerprint import SCAFFOLD_SUBJECT, fingerprint_digests

        digests = fingerprint_digests(self.root)
        commits = self.commits or []
        scaffold = [c.sha for c in commits if c.subject.startswith(SCAFFOLD_SUBJECT)]
        if not digests or not scaffold:
            return {}
        sha = scaffold[-1]  # the oldest: history() lists the newest first
        found: dict[str, str] = {}
        for rel, digest in digests.items():
            if not rel.endswith(".py") or rel in self.unchanged_scaffold:
                continue
            shown = gitrepo.run_git(self.root, "show", f"{sha}:{rel}")
            if shown.ok and hashlib.sha256(shown.out).hexdigest() == digest:
                found[rel] = shown.out.decode("utf-8", errors="replace")
        return found

    def learner_functions(
        self, *, tests: bool
    ) -> list[tuple[PyModule, ast.FunctionDef | ast.AsyncFunctionDef]]:
        """Functions the learner wrote or changed, in the (test or non-test) modules.

        Finer than :meth:`learner_modules`: in a scaffold file the learner edited elsewhere,
        a function still exactly as generated (comments and layout aside) earns nothing.
        """
        found = []
        for mod in self.learner_modules(tests=tests):
            generated = _function_dumps(self.scaffold_sources.get(mod.rel))
            found += [(mod, fn) for fn in mod.index.functions if ast.dump(fn) not in generated]
        return found

    @cached_property
    def python_files(self) -> list[FileEntry]:
        return self.files.with_suffix("py")

    @cached_property
    def source_files(self) -> list[FileEntry]:
        """Python files that are not tests: where public functions and entry points live."""
        return [e for e in self.python_files if not is_test_path(e.rel)]

    @cached_property
    def test_files(self) -> list[FileEntry]:
        return [e for e in self.python_files if is_test_path(e.rel)]

    @cached_property
    def modules(self) -> list[PyModule]:
        """ASTs of up to MAX_PY_FILES Python files (sources first); parse errors kept as data."""
        ordered = self.source_files + self.test_files
        if len(ordered) > MAX_PY_FILES:
            self.notes.append(
                f"only the first {MAX_PY_FILES:,} of {len(ordered):,} Python files were parsed"
            )
        return [self._parse_py(e.rel) for e in ordered[:MAX_PY_FILES]]

    @cached_property
    def source_modules(self) -> list[PyModule]:
        return [m for m in self.modules if not is_test_path(m.rel)]

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Share one computation between checks (e.g. the web apps two checks look for)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return cast(T, self.cache[key])

    def module(self, rel: str) -> PyModule | None:
        for mod in self.modules:
            if mod.rel == rel:
                return mod
        return None

    def _parse_py(self, rel: str) -> PyModule:
        text = self.files.read_text(rel)
        if text is None:
            return PyModule(rel, None, "not read (binary, too large or unreadable)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return PyModule(rel, ast.parse(text, filename=rel))
        except SyntaxError as exc:
            return PyModule(rel, None, f"syntax error: {exc.msg}", exc.lineno)
        except (RecursionError, MemoryError, ValueError) as exc:
            return PyModule(rel, None, f"could not parse: {type(exc).__name__}")

    def text_files(self, suffixes: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
        """(path, text) of readable text files, optionally only those with the given suffixes."""
        out: list[tuple[str, str]] = []
        for entry in self.files.entries:
            if suffixes is not None and entry.suffix not in suffixes:
                continue
            text = self.files.read_text(entry.rel)
            if text is not None:
                out.append((entry.rel, text))
        return out

    def grep(
        self, needles: tuple[str, ...], suffixes: tuple[str, ...] = ("py",)
    ) -> list[tuple[str, int, str]]:
        """Lines (path, number, text) containing any needle, case-insensitively, in text files."""
        lowered = tuple(n.lower() for n in needles)
        hits: list[tuple[str, int, str]] = []
        for rel, text in self.text_files(suffixes):
            low = text.lower()
            if not any(n in low for n in lowered):
                continue
            for number, line in enumerate(text.splitlines(), start=1):
                if any(n in line.lower() for n in lowered):
                    hits.append((rel, number, line.strip()))
        return hits


def _function_dumps(source: str | None) -> set[str]:
    """``ast.dump`` of every function in ``source``: equal dumps mean the same code."""
    if source is None:
        return set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    return {
        ast.dump(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _toml_line(message: str) -> int | None:
    marker = "(at line "
    if marker in message:
        tail = message.split(marker, 1)[1]
        digits = "".join(ch for ch in tail.split(",", 1)[0] if ch.isdigit())
        return int(digits) if digits else None
    return None
