"""Checks for p4-docker: a production image and a Compose stack, checked without a Docker engine.

What each part rests on:

* the Dockerfile is read with `dockerfile-parse` (stages, ENV and ARG values per instruction)
  and linted with the real `hadolint` binary (`--format json`, the lab's own config, inline
  `# hadolint ignore=` pragmas disabled); the lab's own rules add what hadolint does not see:
  multi-stage with the dependencies copied from the build stage, a slim pinned Python that the
  pinned packages accept, requirements installed before the source is copied, a non-root user
  that exists in the final stage, an exec-form uvicorn command that listens on all interfaces,
  a HEALTHCHECK whose probe exists in a slim image and whose URL the app answers;
* the build context is filtered with Docker's own .dockerignore rules (a port of
  moby/patternmatcher, the matcher BuildKit uses: patterns anchored at the context root,
  `**`, `!` exceptions, last match wins), and every COPY is resolved against it, so a COPY of an
  excluded or missing file fails here as `docker build` would;
* the final stage's files are laid out in a scratch folder as the image would hold them, the
  app named in the CMD is imported from there (never from the lab folder) and served on
  127.0.0.1 with `serve_app`, and the HEALTHCHECK's path is requested over a real socket;
* the Compose file is validated against the Compose Specification JSON schema shipped inside
  `check_jsonschema` (no download), then read for what the schema cannot say (a healthcheck on
  the database and `condition: service_healthy`, a declared named volume on PostgreSQL's data
  directory, a DATABASE_URL that reaches the database service, no plaintext secret);
* healthcheck.py (the learner's Python) is called against servers started here: a healthy one,
  failing ones, a closed port and a port that accepts but never answers.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import io
import json
import os
import posixpath
import re
import shlex
import shutil
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from fastapi import FastAPI, Response

from aipath.checks import fail, imported_modules
from aipath.checks.servers import TestClient, serve_app
from aipath.checks.tools import run_tool

LAB_DIR = Path(__file__).resolve().parent
HADOLINT_CONFIG = LAB_DIR / "hadolint.yaml"
# PATH in the official python images (the base every stage here starts from)
IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEM_BIN = ("/usr/local/bin", "/usr/local/sbin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
# non-root accounts that /etc/passwd of the Debian-based python images already holds
BASE_IMAGE_USERS = {"nobody", "www-data", "daemon"}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY", re.IGNORECASE)


def _starter_dockerfile() -> str:
    spec = importlib.util.spec_from_file_location("p4_docker_setup", LAB_DIR / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.STARTER_DOCKERFILE)


# ===== .dockerignore: Docker's matching rules (moby/patternmatcher, ignorefile.ReadAll) ========


def go_clean(path: str) -> str:
    """Go's `filepath.Clean` on a slash-separated path (what Docker applies to each pattern)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    text = "/".join(parts)
    if rooted:
        return "/" + text
    return text or "."


class _BadPattern(Exception):
    pass


def _class_char(pattern: str, index: int) -> int:
    """Go's getEsc: one (possibly escaped) character of a [class]; the index after it."""
    if index >= len(pattern) or pattern[index] in "-]":
        raise _BadPattern
    if pattern[index] == "\\":
        index += 1
        if index >= len(pattern):
            raise _BadPattern
    index += 1
    if index >= len(pattern):
        raise _BadPattern
    return index


def _bad_pattern(pattern: str) -> bool:
    """What Go's `filepath.Match` rejects: an unclosed or empty `[class]`, a trailing `\\`."""
    index, n = 0, len(pattern)
    try:
        while index < n:
            if pattern[index] == "\\":
                index += 2
                if index > n:
                    return True
            elif pattern[index] == "[":
                index += 1
                if index < n and pattern[index] == "^":
                    index += 1
                ranges = 0
                while not (index < n and pattern[index] == "]" and ranges):
                    index = _class_char(pattern, index)
                    if pattern[index] == "-":
                        index = _class_char(pattern, index + 1)
                    ranges += 1
                index += 1
            else:
                index += 1
    except _BadPattern:
        return True
    return False


@dataclass
class IgnoreRule:
    """One .dockerignore line, compiled as moby/patternmatcher compiles it."""

    line: int
    written: str
    pattern: str
    exclusion: bool
    kind: str = "exact"
    regex: re.Pattern[str] | None = field(default=None, repr=False)

    def compile(self) -> None:
        pattern, reg, kind = self.pattern, "^", "exact"
        pos, n, step = 0, len(pattern), 0
        while pos < n:
            ch = pattern[pos]
            pos += 1
            if ch == "*":
                if pos < n and pattern[pos] == "*":
                    pos += 1
                    if pos < n and pattern[pos] == "/":
                        pos += 1
                    if pos >= n:
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            reg += ".*"
                            kind = "regexp"
                    else:
                        reg += "(.*/)?"
                        kind = "regexp"
                    if step == 0:
                        kind = "suffix"
                else:
                    reg += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                reg += "[^/]"
                kind = "regexp"
            elif ch in ".+()|{}$":
                reg += "\\" + ch
            elif ch == "\\":
                if pos < n:
                    reg += "\\" + pattern[pos]
                    pos += 1
                    kind = "regexp"
                else:
                    reg += "\\\\"
            elif ch in "[]":
                reg += ch
                kind = "regexp"
            else:
                reg += ch
            step += 1
        self.kind = kind
        if kind == "regexp":
            self.regex = re.compile(reg + "$", re.DOTALL)

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.pattern
        if self.kind == "prefix":
            return path.startswith(self.pattern[:-2])
        if self.kind == "suffix":
            suffix = self.pattern[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.search(path) is not None


class BadIgnoreFile(ValueError):
    pass


def parse_dockerignore(text: str) -> list[IgnoreRule]:
    """The rules of a .dockerignore, read as ignorefile.ReadAll and patternmatcher.New read it."""
    rules: list[IgnoreRule] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if number == 1:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        if invert:
            pattern = "!" + pattern
        pattern = go_clean(pattern)
        exclusion = pattern.startswith("!")
        if exclusion:
            if len(pattern) == 1:
                raise BadIgnoreFile(f'line {number}: illegal exclusion pattern: "!"')
            pattern = pattern[1:]
        if _bad_pattern(pattern):
            raise BadIgnoreFile(f"line {number} `{line.strip()}`: syntax error in pattern")
        rule = IgnoreRule(number, line.strip(), pattern, exclusion)
        rule.compile()
        rules.append(rule)
    return rules


def deciding_rule(rules: list[IgnoreRule], path: str) -> IgnoreRule | None:
    """The rule that settles `path` (MatchesOrParentMatches: a match of a parent counts too)."""
    matched = False
    decided: IgnoreRule | None = None
    parent = posixpath.dirname(path) or "."
    parents = parent.split("/")
    for rule in rules:
        if rule.exclusion != matched:
            continue
        hit = rule.match(path)
        if not hit and parent != ".":
            hit = any(rule.match("/".join(parents[: i + 1])) for i in range(len(parents)))
        if hit:
            matched = not rule.exclusion
            decided = rule
    return decided


def rule_hits(rule: IgnoreRule, path: str) -> bool:
    """Whether `rule` matches `path` or one of its parent folders (as patternmatcher counts it)."""
    if rule.match(path):
        return True
    parents = (posixpath.dirname(path) or ".").split("/")
    return parents != ["."] and any(
        rule.match("/".join(parents[: i + 1])) for i in range(len(parents))
    )


def is_excluded(rules: list[IgnoreRule], path: str) -> bool:
    rule = deciding_rule(rules, path)
    return rule is not None and not rule.exclusion


@dataclass
class Context:
    """The build context: the lab folder as the builder receives it."""

    root: Path
    rules: list[IgnoreRule]
    has_ignore_file: bool
    files: list[str]  # sent to the builder, relative, sorted
    pruned: set[str]  # excluded folders not walked (no `!` rule could bring anything back)

    @functools.cached_property
    def file_set(self) -> frozenset[str]:
        return frozenset(self.files)

    @functools.cached_property
    def dirs(self) -> frozenset[str]:
        found: set[str] = set()
        for name in self.files:
            parts = name.split("/")[:-1]
            found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return frozenset(found)

    def why_missing(self, path: str) -> str:
        """Why `path` (relative) is not in the context: excluded by which line, or absent."""
        full = self.root / path
        if full.is_dir():
            for inner in sorted(full.rglob("*")):
                if inner.is_file():
                    rule = deciding_rule(self.rules, inner.relative_to(self.root).as_posix())
                    if rule is not None and not rule.exclusion:
                        return (
                            f".dockerignore line {rule.line} `{rule.written}` excludes "
                            f"{inner.relative_to(self.root).as_posix()}, and every other file "
                            "in it is excluded too"
                        )
            return "nothing in it reaches the build context"
        if full.exists():
            rule = deciding_rule(self.rules, path)
            if rule is not None and not rule.exclusion:
                return f".dockerignore line {rule.line} `{rule.written}` excludes it"
            return ".dockerignore excludes it"
        return "there is no such file in this folder"


MAX_CONTEXT_FILES = 20_000


@functools.cache
def build_context(workdir: Path) -> Context:
    ignore = workdir / ".dockerignore"
    rules: list[IgnoreRule] = []
    if ignore.is_file():
        try:
            rules = parse_dockerignore(ignore.read_text(encoding="utf-8"))
        except BadIgnoreFile as exc:
            fail(f".dockerignore {exc}: docker build stops on it before sending anything")
    can_prune = not any(rule.exclusion for rule in rules)
    files: list[str] = []
    pruned: set[str] = set()
    for folder, dirnames, filenames in os.walk(workdir):
        rel = Path(folder).relative_to(workdir).as_posix()
        rel = "" if rel == "." else rel
        keep = []
        for name in sorted(dirnames):
            path = f"{rel}/{name}" if rel else name
            if can_prune and is_excluded(rules, path):
                pruned.add(path)
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            path = f"{rel}/{name}" if rel else name
            if not is_excluded(rules, path):
                files.append(path)
        if len(files) > MAX_CONTEXT_FILES:
            break
    return Context(workdir, rules, ignore.is_file(), sorted(files), pruned)


# ===== the Dockerfile, read with dockerfile-parse ==============================================


@dataclass
class Instr:
    line: int
    name: str
    value: str
    envs: dict[str, str]
    args: dict[str, str]

    def _split(self) -> tuple[list[tuple[str, str]], str]:
        rest = self.value.strip()
        found: list[tuple[str, str]] = []
        while rest.startswith("--"):
            word, _, rest = rest.partition(" ")
            key, _, value = word[2:].partition("=")
            found.append((key, value))
            rest = rest.strip()
        return found, rest

    def flags(self) -> tuple[dict[str, str], str]:
        """Leading `--flag=value` options and the rest (`COPY --from=builder a b`)."""
        found, rest = self._split()
        return dict(found), rest

    def mounts(self) -> list[str]:
        """The values of `RUN --mount=...` options."""
        return [value for key, value in self._split()[0] if key == "mount"]

    def expand(self, text: str) -> str:
        return expand_vars(text, {**self.args, **self.envs})

    @property
    def where(self) -> str:
        return f"line {self.line} `{self.name} {one_line(self.value)}`"


def one_line(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_VAR = re.compile(
    r"\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def expand_vars(text: str, values: dict[str, str]) -> str:
    """Docker's word expansion: $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}, \\$."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "\\$":
            return "$"
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if op == ":-":
            return value if value else word
        if op == "-":
            return value if value is not None else word
        if op == ":+":
            return word if value else ""
        if op == "+":
            return word if value is not None else ""
        return value or ""

    return _VAR.sub(sub, text)


@dataclass
class Stage:
    """One FROM and its instructions; `instrs` starts with those inherited from a parent stage."""

    index: int
    name: str | None
    image: str
    line: int
    instrs: list[Instr]
    parent: Stage | None = None
    written: str = ""  # the FROM line's value as written (before ARG expansion)

    @property
    def own(self) -> list[Instr]:
        return [i for i in self.instrs if i.line > self.line]

    @property
    def root_image(self) -> str:
        return self.parent.root_image if self.parent is not None else self.image

    @property
    def ancestors(self) -> list[Stage]:
        return [*self.parent.ancestors, self.parent] if self.parent is not None else []

    def all(self, name: str) -> list[Instr]:
        return [i for i in self.instrs if i.name == name]

    def last(self, name: str) -> Instr | None:
        found = self.all(name)
        return found[-1] if found else None

    @property
    def label(self) -> str:
        return f"stage `{self.name}`" if self.name else f"stage {self.index} (line {self.line})"


@dataclass
class Dockerfile:
    text: str
    stages: list[Stage]
    global_args: set[str] = field(default_factory=set)  # ARGs declared before the first FROM

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, ref: str) -> Stage | None:
        for stage in self.stages:
            if stage.name is not None and stage.name.lower() == ref.lower():
                return stage
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def _read_dockerfile(workdir: Path) -> str:
    path = workdir / "Dockerfile"
    if not path.is_file():
        fail(
            "there is no Dockerfile in this folder: it was deleted or renamed (`aipath reset "
            "p4-docker` puts the starter back and keeps your other files as <name>.old-1)"
        )
    text = path.read_text(encoding="utf-8")
    if text == _starter_dockerfile():
        raise NotImplementedError("the Dockerfile is still the starter")
    return text


@functools.cache
def dockerfile(workdir: Path) -> Dockerfile:
    text = _read_dockerfile(workdir)
    parser = DockerfileParser(
        fileobj=io.BytesIO(text.encode("utf-8")),
        env_replace=True,
        parent_env={"PATH": IMAGE_PATH},
    )
    try:
        structure = parser.structure
        contexts = parser.context_structure
        images = parser.parent_images
    except Exception as exc:  # dockerfile-parse's own errors
        fail(f"dockerfile-parse cannot read the Dockerfile: {exc}")
    stages: list[Stage] = []
    global_args: set[str] = set()
    froms = 0
    for item, context in zip(structure, contexts, strict=True):
        name = item["instruction"].upper()
        if name == "COMMENT":
            continue
        line = int(item["startline"]) + 1
        if name == "FROM":
            words = item["value"].split()
            alias = words[-1] if len(words) >= 3 and words[-2].lower() == "as" else None
            image = images[froms] if froms < len(images) else words[0]
            froms += 1
            parent = next(
                (st for st in stages if st.name and st.name.lower() == image.lower()), None
            )
            inherited = list(parent.instrs) if parent is not None else []
            stages.append(Stage(len(stages), alias, image, line, inherited, parent, item["value"]))
            base_envs = dict(inherited[-1].envs) if inherited else {}
            own_keys: set[str] = set()
            previous = dict(context.envs)
            continue
        if not stages:  # ARG before the first FROM: already applied to the FROM lines
            if name == "ARG":
                global_args.update(_arg_names(item["value"]))
            continue
        envs = dict(context.envs)
        if name == "ENV":
            own_keys.update(
                k for k, v in envs.items() if previous.get(k) != v or k in item["value"]
            )
        previous = envs
        if base_envs:  # FROM an earlier stage: its ENV values carry on
            envs = {**base_envs, **{k: v for k, v in envs.items() if k in own_keys}}
        stages[-1].instrs.append(Instr(line, name, item["value"], envs, dict(context.args)))
    if not stages:
        fail("the Dockerfile has no FROM line: every build starts from a base image")
    return Dockerfile(text, stages, global_args)


def _arg_names(value: str) -> list[str]:
    """The names an `ARG NAME[=default] ...` line declares."""
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    return [w.split("=", 1)[0] for w in words if w]


# ----- hadolint --------------------------------------------------------------------------------

# hadolint's rules about how the container runs are reported with task 3; all others with task 1.
RUNTIME_RULES = {"DL3025", "DL3002", "DL3000", "DL4003", "DL4004", "DL3011", "DL3012", "DL3057"}
HADOLINT_NOTES = {
    "DL3006": "a FROM without a tag means `latest`",
    "DL3007": "`latest` moves: next month's build gets another Python and other system libraries "
    "than today's; pin a release such as python:3.12.8-slim-bookworm",
    "DL3013": "an unpinned pip install takes whatever is newest on the day of the build; "
    "install from the pinned requirements.txt only (`pip install --upgrade pip` counts too)",
    "DL3042": "pip keeps every downloaded wheel in ~/.cache/pip, tens of MB in the layer that "
    "nothing reads again: add --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1)",
    "DL3008": "pin each apt package (`curl=7.88.1-10+deb12u12`), or better, install none: the "
    "probe in healthcheck.py needs only Python",
    "DL3020": "ADD also downloads URLs and unpacks archives; COPY does only what it says",
    "DL3045": "a relative destination with no WORKDIR lands wherever the base image left off: "
    "set WORKDIR first",
    "DL3022": "COPY --from must name a stage defined above it (`FROM ... AS builder`)",
    "DL3025": "in shell form /bin/sh is PID 1 and does not pass SIGTERM on, so `docker stop` "
    "waits 10 s and kills uvicorn instead of letting it finish its requests",
    "DL3064": "ENV and ARG values stay in the image's configuration and history, where anyone "
    "who pulls it reads them (`docker inspect`, `docker history`): pass secrets at run time",
    "DL3002": "a process running as root inside the container is root on anything it can reach",
    "DL4006": 'in `a | b` only b\'s exit status counts: `SHELL ["/bin/bash", "-o", '
    '"pipefail", "-c"]` makes a failing a fail the build',
}


@functools.cache
def hadolint_findings(workdir: Path) -> tuple[dict[str, Any], ...]:
    _read_dockerfile(workdir)  # not attempted while the Dockerfile is the starter

    result = run_tool(
        "hadolint",
        "--config",
        str(HADOLINT_CONFIG),
        "--disable-ignore-pragma",
        "--no-fail",
        "--no-color",
        "--format",
        "json",
        "Dockerfile",
        cwd=workdir,
        timeout=30,
    )
    try:
        findings = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        fail(f"hadolint did not answer in JSON: {(result.stderr or result.stdout)[:300]}")
    return tuple(f for f in findings if f.get("level") in ("error", "warning"))


def _report_hadolint(findings: list[dict[str, Any]], lines: list[str]) -> None:
    if not findings:
        return
    parts = []
    for f in findings:
        line = int(f.get("line", 0))
        source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        note = HADOLINT_NOTES.get(f["code"], "")
        if f["code"] == "DL3025" and source.upper().startswith("HEALTHCHECK"):
            note = 'write the HEALTHCHECK command as a JSON array too: CMD ["python", ...]'
        parts.append(
            f"{f['code']} ({f['level']}) at line {line} `{one_line(source, 70)}`: {f['message']}"
            + (f" — {note}" if note else "")
        )
    fail("hadolint: " + "; ".join(parts))


# ----- base images ----------------------------------------------------------------------------

_PY_TAG = re.compile(r"^(?P<version>\d+(?:\.\d+){0,2})(?P<variant>(?:-[a-z0-9.]+)*)$")


@dataclass(frozen=True)
class ImageRef:
    repo: str
    tag: str | None
    digest: str | None

    @property
    def python(self) -> tuple[int, ...] | None:
        if self.repo not in ("python", "library/python", "docker.io/library/python"):
            return None
        match = _PY_TAG.match(self.tag or "")
        return tuple(int(p) for p in match["version"].split(".")) if match else None

    @property
    def variant(self) -> str:
        match = _PY_TAG.match(self.tag or "")
        return match["variant"] if match else ""


def image_ref(image: str) -> ImageRef:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return ImageRef(name.lower(), tag, digest or None)


def _python_label(version: tuple[int, ...]) -> str:
    return ".".join(str(v) for v in version)


# ----- where the dependencies are installed ----------------------------------------------------

_PIP = re.compile(r"^pip(3(\.\d+)?)?$")
_PYTHON = re.compile(r"^python(3(\.\d+)?)?$")


def shell_segments(command: str) -> list[list[str]]:
    """The simple commands of a shell line (split at &&, ||, ;, |), each as its words."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    segments: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) <= set(";&|"):
                segments.append([])
            else:
                segments[-1].append(token)
    except ValueError:  # an unclosed quote: fall back to plain words
        return [command.split()]
    return [s for s in segments if s]


def run_command(instr: Instr) -> str:
    _flags, rest = instr.flags()
    if rest.startswith("["):
        with contextlib.suppress(ValueError):
            words = json.loads(rest)
            if isinstance(words, list):
                return " ".join(str(w) for w in words)
    return rest


@dataclass
class PipCall:
    instr: Instr
    tool: str  # "pip" or "uv"
    sub: str  # install, wheel, download, sync
    program: str  # the word that starts it: pip, /opt/venv/bin/pip, python, uv
    args: list[str]
    requirements: list[str]

    def option(self, *names: str) -> str | None:
        for index, word in enumerate(self.args):
            for name in names:
                if word == name and index + 1 < len(self.args):
                    return self.args[index + 1]
                if name.startswith("--") and word.startswith(name + "="):
                    return word.split("=", 1)[1]
                if not name.startswith("--") and word.startswith(name) and len(word) > len(name):
                    return word[len(name) :]
        return None

    def has(self, flag: str) -> bool:
        return flag in self.args


def pip_calls(instr: Instr) -> list[PipCall]:
    calls = []
    for words in shell_segments(run_command(instr)):
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]  # VAR=value pip install ...
        if not words:
            continue
        base = posixpath.basename(words[0])
        if _PIP.match(base):
            tool, rest = "pip", words[1:]
        elif _PYTHON.match(base) and words[1:3] == ["-m", "pip"]:
            tool, rest = "pip", words[3:]
        elif base == "uv" and words[1:2] == ["pip"]:
            tool, rest = "uv", words[2:]
        else:
            continue
        subs = [w for w in rest if not w.startswith("-")]
        if not subs or subs[0] not in ("install", "wheel", "download", "sync"):
            continue
        sub = subs[0]
        args = rest[rest.index(sub) + 1 :]
        reqs = []
        for index, word in enumerate(args):
            if word in ("-r", "--requirement") and index + 1 < len(args):
                reqs.append(args[index + 1])
            elif word.startswith("--requirement="):
                reqs.append(word.split("=", 1)[1])
            elif word.startswith("-r") and len(word) > 2 and not word.startswith("--"):
                reqs.append(word[2:])
        if tool == "uv" and sub == "sync":
            reqs += [w for w in args if not w.startswith("-") and w.endswith(".txt")]
        calls.append(PipCall(instr, tool, sub, words[0], args, reqs))
    return calls


def venvs_created(stage: Stage, upto: int | None = None) -> dict[str, Instr]:
    """Virtual environments a stage creates (python -m venv X, virtualenv X, uv venv X)."""
    found: dict[str, Instr] = {}
    for instr in stage.instrs:
        if upto is not None and instr.line >= upto:
            break
        if instr.name != "RUN":
            continue
        workdir = stage_workdir(stage, instr)
        for words in shell_segments(run_command(instr)):
            base = posixpath.basename(words[0])
            target = None
            if _PYTHON.match(base) and words[1:3] == ["-m", "venv"]:
                rest = [w for w in words[3:] if not w.startswith("-")]
                target = rest[-1] if rest else None
            elif base == "virtualenv" or (base == "uv" and words[1:2] == ["venv"]):
                start = 1 if base == "virtualenv" else 2
                rest = [w for w in words[start:] if not w.startswith("-")]
                target = rest[-1] if rest else ".venv"
            if target:
                found[posixpath.normpath(posixpath.join(workdir, instr.expand(target)))] = instr
    return found


@dataclass
class Deps:
    """Where one install put the packages."""

    call: PipCall
    stage: Stage
    kind: str  # venv, prefix, target, user, system, wheels, unknown
    path: str | None


def install_target(stage: Stage, call: PipCall) -> Deps:
    instr = call.instr
    workdir = stage_workdir(stage, instr)

    def absolute(path: str) -> str:
        return posixpath.normpath(posixpath.join(workdir, instr.expand(path)))

    if call.sub in ("wheel", "download"):
        folder = call.option("-w", "--wheel-dir") if call.sub == "wheel" else None
        folder = folder or call.option("-d", "--dest")
        return Deps(call, stage, "wheels", absolute(folder or "."))
    for flag, kind in (("--prefix", "prefix"), ("--target", "target"), ("-t", "target")):
        value = call.option(flag)
        if value:
            return Deps(call, stage, kind, absolute(value))
    if call.has("--user"):
        return Deps(call, stage, "user", None)
    venvs = venvs_created(stage, instr.line)
    if call.tool == "uv":
        python = call.option("--python", "-p")
        if python:
            path = absolute(python)
            for venv in venvs:
                if path == venv or path.startswith(venv + "/"):
                    return Deps(call, stage, "venv", venv)
            return Deps(call, stage, "system", None)
        if call.has("--system"):
            return Deps(call, stage, "system", None)
        active = instr.envs.get("VIRTUAL_ENV")
        if active:
            return Deps(call, stage, "venv", absolute(active))
        return Deps(call, stage, "unknown", None)
    program = call.program
    if "/" in program:
        path = absolute(program)
        for venv in venvs:
            if path.startswith(venv + "/bin/"):
                return Deps(call, stage, "venv", venv)
        return Deps(call, stage, "system", None)
    for folder in instr.envs.get("PATH", IMAGE_PATH).split(":"):
        folder = posixpath.normpath(folder) if folder else folder
        for venv in venvs:
            if folder == venv + "/bin":
                return Deps(call, stage, "venv", venv)
        if folder in SYSTEM_BIN:
            return Deps(call, stage, "system", None)
    return Deps(call, stage, "system", None)


def requirement_installs(df: Dockerfile) -> list[Deps]:
    """Every RUN that installs (or builds wheels of) the requirements file, with its target."""
    found = []
    for stage in df.stages:
        for instr in stage.own:
            if instr.name != "RUN":
                continue
            for call in pip_calls(instr):
                if call.requirements:
                    found.append(install_target(stage, call))
    return found


# ----- the files each stage copies from the build context --------------------------------------


def stage_workdir(stage: Stage, before: Instr | None = None) -> str:
    """The working directory in effect at `before` (or at the end of the stage)."""
    workdir = "/"
    for instr in stage.instrs:
        if before is not None and instr is before:
            break
        if instr.name == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, instr.expand(instr.value.strip())))
    return workdir


_GLOB = re.compile(r"[*?\[]")


def _go_match(pattern: str, path: str) -> bool:
    """Go's filepath.Match: `*` and `?` never cross a `/`."""
    reg = ""
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        if ch == "*":
            reg += "[^/]*"
        elif ch == "?":
            reg += "[^/]"
        elif ch == "[":
            end = pattern.find("]", index + 2)
            if end == -1:
                return False
            body = pattern[index + 1 : end]
            reg += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            index = end
        elif ch == "\\" and index + 1 < len(pattern):
            index += 1
            reg += re.escape(pattern[index])
        else:
            reg += re.escape(ch)
        index += 1
    return re.fullmatch(reg, path) is not None


@dataclass
class Placed:
    image_path: str
    context_path: str
    instr: Instr


@dataclass
class CopyFrom:
    instr: Instr
    ref: str
    sources: list[str]
    dest: str


@dataclass
class StageFiles:
    placed: dict[str, Placed]
    imports: list[CopyFrom]
    problems: list[str]
    dirs: set[str]


def copy_words(rest: str) -> list[str]:
    if rest.startswith("["):
        with contextlib.suppress(ValueError):
            words = json.loads(rest)
            if isinstance(words, list):
                return [str(w) for w in words]
    return rest.split()


def resolve_source(source: str, ctx: Context) -> tuple[list[tuple[str, str]], bool]:
    """Context files a COPY source brings, as (context path, path under the destination).

    The flag says whether the source is (or matched) a folder or several items.
    """
    clean = go_clean(source.lstrip("/")) if source.strip("/.") else "."
    if clean == ".":
        return [(f, f) for f in ctx.files], True
    if _GLOB.search(clean):
        depth = clean.count("/")
        found: list[tuple[str, str]] = []
        for name in ctx.files:
            if name.count("/") == depth and _go_match(clean, name):
                found.append((name, posixpath.basename(name)))
        for folder in sorted(ctx.dirs):
            if folder.count("/") == depth and _go_match(clean, folder):
                found += [
                    (f, f[len(folder) + 1 :]) for f in ctx.files if f.startswith(folder + "/")
                ]
        return found, True
    if clean in ctx.file_set:
        return [(clean, posixpath.basename(clean))], False
    if clean in ctx.dirs:
        return [(f, f[len(clean) + 1 :]) for f in ctx.files if f.startswith(clean + "/")], True
    return [], False


@functools.cache
def stage_files(workdir: Path, index: int) -> StageFiles:
    df = dockerfile(workdir)
    ctx = build_context(workdir)
    stage = df.stages[index]
    placed: dict[str, Placed] = {}
    imports: list[CopyFrom] = []
    problems: list[str] = []
    dirs: set[str] = {"/"}
    workdir_now = "/"
    for instr in stage.instrs:
        if instr.name == "WORKDIR":
            step = instr.expand(instr.value.strip())
            workdir_now = posixpath.normpath(posixpath.join(workdir_now, step))
            dirs.add(workdir_now)
            continue
        if instr.name == "RUN":
            for mount in instr.mounts():
                options = dict(o.partition("=")[::2] for o in mount.split(","))
                if options.get("from"):
                    source = options.get("source") or options.get("src") or "/"
                    target = options.get("target") or options.get("dst") or source
                    imports.append(CopyFrom(instr, options["from"], [source], target))
            continue
        if instr.name not in ("COPY", "ADD"):
            continue
        flags, rest = instr.flags()
        words = [instr.expand(w) for w in copy_words(rest)]
        if len(words) < 2:
            problems.append(f"{instr.where} needs a source and a destination")
            continue
        *sources, dest_raw = words
        dest = posixpath.normpath(posixpath.join(workdir_now, dest_raw))
        if "from" in flags:
            imports.append(CopyFrom(instr, flags["from"], sources, dest))
            continue
        dir_dest = (
            dest_raw.endswith("/")
            or dest_raw in (".", "./")
            or dest_raw.endswith("/.")
            or len(sources) > 1
            or dest in dirs
        )
        for source in sources:
            if re.match(r"^[a-z]+://", source):
                continue  # ADD of a URL: nothing from the context
            entries, folder = resolve_source(source, ctx)
            if not entries:
                why = ctx.why_missing(go_clean(source.lstrip("/")))
                problems.append(
                    f"{instr.where}: `{source}` is not in the build context ({why}), so docker "
                    f'build stops with `"/{source.strip("/")}": not found`'
                )
                continue
            for context_path, under in entries:
                target = posixpath.join(dest, under) if folder or dir_dest else dest
                placed[target] = Placed(target, context_path, instr)
                parent = posixpath.dirname(target)
                while parent not in dirs:
                    dirs.add(parent)
                    parent = posixpath.dirname(parent)
    return StageFiles(placed, imports, problems, dirs)


def copy_problems(workdir: Path) -> None:
    df = dockerfile(workdir)
    problems = []
    for stage in df.stages:
        problems += stage_files(workdir, stage.index).problems
    if problems:
        fail("; ".join(problems))


# ----- how the container starts ----------------------------------------------------------------


def exec_form(instr: Instr) -> list[str] | None:
    text = instr.value.strip()
    if not text.startswith("["):
        return None
    try:
        words = json.loads(text)
    except ValueError:
        return None
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        return None
    return words


@dataclass
class Server:
    argv: list[str]
    program: str  # what the container executes first (uvicorn, python, /opt/venv/bin/uvicorn)
    app: str
    host: str
    port: int
    app_dir: str
    factory: bool
    where: str


def container_command(df: Dockerfile) -> tuple[list[str], str]:
    """The argv the container runs (ENTRYPOINT + CMD, exec form), and where it is written."""
    final = df.final
    entry, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    for instr in (entry, cmd):
        if instr is not None and exec_form(instr) is None:
            fail(
                f'{instr.where} is in shell form: Docker runs it as `/bin/sh -c "..."`, so '
                "the shell is PID 1 and does not pass SIGTERM on — `docker stop` waits 10 s and "
                "kills uvicorn instead of letting it finish its requests. Write the exec form, a "
                f'JSON array: {instr.name} ["uvicorn", "app.main:app", "--host", "0.0.0.0", '
                '"--port", "8000"]'
            )
    if entry is None and cmd is None:
        fail(
            "the final stage has no CMD (or ENTRYPOINT): the container would run the base "
            'image\'s default, a Python prompt, and exit. End with CMD ["uvicorn", ...]'
        )
    argv = (exec_form(entry) if entry else []) + (exec_form(cmd) if cmd else [])
    where = " + ".join(i.where for i in (entry, cmd) if i is not None)
    return [w for w in argv], where


def server_command(workdir: Path) -> Server:
    df = dockerfile(workdir)
    argv, where = container_command(df)
    if not argv:
        fail(f"{where} is an empty command")
    words = argv
    base = posixpath.basename(words[0])
    if base in ("sh", "bash", "dash") and words[1:2] == ["-c"] and len(words) > 2:
        script = words[2].strip()
        if not script.startswith("exec "):
            fail(
                f"{where} starts uvicorn through a shell (`{base} -c`) without `exec`: the "
                "shell stays PID 1 and SIGTERM never reaches uvicorn. Run uvicorn directly in "
                "exec form (or write `exec uvicorn ...` inside the script)"
            )
        words = shlex.split(expand_vars(script, df.final.instrs[-1].envs))[1:]
        base = posixpath.basename(words[0]) if words else ""
    if words and len(words[0].split()) > 1:
        fail(
            f"{where} puts the whole command line in one item, `{words[0]}`: in exec form "
            "Docker runs the first item as the program, without a shell to split it, so it "
            f"looks for an executable called `{words[0]}` and the container does not start. "
            'Give each word its own item: ["uvicorn", "app.main:app", "--host", "0.0.0.0", '
            '"--port", "8000"]'
        )
    if base == "uvicorn":
        program, args = words[0], words[1:]
    elif _PYTHON.match(base) and words[1:3] == ["-m", "uvicorn"]:
        program, args = words[0], words[3:]
    else:
        fail(
            f"{where} runs `{' '.join(words)}`; the image must start the app with uvicorn, "
            "which requirements.txt installs (`uvicorn app.main:app ...` or `python -m uvicorn "
            "app.main:app ...`): the checks read the app, host and port from its command line"
        )
    from uvicorn.main import main as uvicorn_cli

    try:
        params = uvicorn_cli.make_context("uvicorn", list(args), resilient_parsing=False).params
    except Exception as exc:  # click's UsageError and friends
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        fail(f"{where}: uvicorn would refuse this command line: {message}")
    if params.get("uds") or params.get("fd") is not None:
        fail(f"{where} serves on a Unix socket or a file descriptor; serve on a TCP port")
    if params.get("reload"):
        fail(
            f"{where} passes --reload: a development flag (a file watcher that restarts the "
            "server, one process, more memory); a production image runs the code it was built "
            "with — drop it"
        )
    host = str(params.get("host"))
    if host not in ("0.0.0.0", "::", "[::]"):
        fail(
            f"{where} lets uvicorn listen on {host} (its default is 127.0.0.1): inside a "
            "container that is the container's own loopback, so `docker run -p 8000:8000` "
            "reaches nothing. Pass --host 0.0.0.0"
        )
    return Server(
        argv=argv,
        program=program,
        app=str(params["app"]),
        host=host,
        port=int(params.get("port") or 8000),
        app_dir=str(params.get("app_dir") or ""),
        factory=bool(params.get("factory")),
        where=where,
    )


@dataclass
class Health:
    instr: Instr
    argv: list[str]
    url: urllib.parse.SplitResult
    port: int


def healthcheck(workdir: Path) -> Health:
    df = dockerfile(workdir)
    final = df.final
    instr = final.last("HEALTHCHECK")
    if instr is None:
        elsewhere = [i for s in df.stages[:-1] for i in s.all("HEALTHCHECK")]
        if elsewhere:
            fail(
                f"the HEALTHCHECK ({elsewhere[0].where}) is in {df.stages[0].label}, not in the "
                "final stage: only the final stage's instructions describe the image"
            )
        fail(
            "the final stage has no HEALTHCHECK: Docker (and Compose, and `docker ps`) cannot "
            'tell a hung server from a healthy one. Add HEALTHCHECK CMD ["python", '
            '"healthcheck.py", "http://127.0.0.1:8000/health"]'
        )
    _flags, rest = instr.flags()
    if rest.upper() == "NONE":
        fail(f"{instr.where} turns the health check off; the image needs one")
    if not rest.upper().startswith("CMD"):
        fail(f"{instr.where}: write `HEALTHCHECK [options] CMD ...`")
    command = rest[3:].strip()
    words: list[str] | None = None
    if command.startswith("["):
        with contextlib.suppress(ValueError):
            words = json.loads(command)
    argv = words if isinstance(words, list) else ["/bin/sh", "-c", command]
    text = " ".join(argv)
    found = re.search(r"https?://[^\s'\"\])]+", text)
    if found is None:
        fail(
            f"{instr.where} names no http:// URL: pass the URL your probe requests as an "
            "argument (`python healthcheck.py http://127.0.0.1:8000/health`), so the Dockerfile "
            "says what it checks and the checks can request it too"
        )
    url = urllib.parse.urlsplit(instr.expand(found.group(0)))
    if url.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        fail(
            f"{instr.where} probes {url.hostname}: the health check runs inside the container, "
            "where the app is at 127.0.0.1 (or localhost)"
        )
    port = url.port or (443 if url.scheme == "https" else 80)
    return Health(instr, argv, url, port)


# ===== the Compose file ========================================================================


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@functools.cache
def compose_path(workdir: Path) -> Path:
    for name in COMPOSE_NAMES:
        if (workdir / name).is_file():
            return workdir / name
    raise NotImplementedError("write compose.yaml")


@functools.cache
def compose(workdir: Path) -> dict[str, Any]:
    path = compose_path(workdir)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        fail(f"{path.name} is not valid YAML: {one_line(str(exc), 300)}")
    if not isinstance(data, dict):
        fail(f"{path.name} holds {type(data).__name__}; expected a mapping with `services:`")
    return data


@functools.cache
def compose_schema() -> dict[str, Any]:
    package = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return dict(json.loads((package / "compose-spec.json").read_text(encoding="utf-8")))


@functools.cache
def dotenv(workdir: Path) -> dict[str, str]:
    path = workdir / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


_INTERP = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}"
    r"|\$([A-Za-z_][A-Za-z0-9_]*)"
)


@dataclass
class VarUse:
    name: str
    op: str | None
    word: str


def variables(text: str) -> list[VarUse]:
    found = []
    for match in _INTERP.finditer(text):
        if match.group(0) == "$$":
            continue
        found.append(VarUse(match.group(1) or match.group(4), match.group(2), match.group(3) or ""))
    return found


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's interpolation (what `docker compose config` shows), with `values` from .env."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if op == ":-":
            return value if value else word
        if op == "-":
            return value if value is not None else word
        if op == ":+":
            return word if value else ""
        if op == "+":
            return word if value is not None else ""
        return value or ""

    return _INTERP.sub(sub, text)


def strings_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")


def service_env(workdir: Path, service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A service's environment: name -> (value as written, where it is written)."""
    found: dict[str, tuple[str, str]] = {}
    files = service.get("env_file") or []
    for item in [files] if isinstance(files, str | dict) else files:
        name = item.get("path") if isinstance(item, dict) else item
        if not isinstance(name, str):
            continue
        path = workdir / name
        if path.is_file():
            from dotenv import dotenv_values

            for key, value in dotenv_values(path, interpolate=False).items():
                found[key] = (value or "", f"env_file {name}")
    env = service.get("environment") or {}
    if isinstance(env, dict):
        for key, value in env.items():
            found[str(key)] = (None if value is None else str(value), "environment")  # type: ignore[assignment]
    elif isinstance(env, list):
        for item in env:
            key, equals, value = str(item).partition("=")
            found[key] = (value if equals else None, "environment")  # type: ignore[assignment]
    for key, (value, where) in list(found.items()):
        if value is None:  # `- NAME` or `NAME:` with no value: taken from the shell or .env
            found[key] = (f"${{{key}}}", where)
    return found


def services(workdir: Path) -> dict[str, dict[str, Any]]:
    data = compose(workdir)
    problem = schema_problem(workdir)
    if problem is not None:
        fail(problem)
    found = data.get("services")
    if not isinstance(found, dict) or not found:
        fail(f"{compose_path(workdir).name} has no services")
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in found.items()}


def postgres_service(workdir: Path) -> tuple[str, dict[str, Any], ImageRef]:
    for name, service in services(workdir).items():
        image = service.get("image")
        if isinstance(image, str):
            ref = image_ref(image)
            if ref.repo.rsplit("/", 1)[-1] == "postgres":
                return name, service, ref
    fail(
        f"no service in {compose_path(workdir).name} runs the official PostgreSQL image "
        "(`image: postgres:16.4-bookworm`, for example)"
    )


def app_service(workdir: Path) -> tuple[str, dict[str, Any]]:
    built = [(n, s) for n, s in services(workdir).items() if "build" in s]
    if not built:
        fail(
            f"no service in {compose_path(workdir).name} builds this folder's Dockerfile: give "
            "the app's service `build: .`"
        )
    if len(built) > 1:
        fail(
            f"{len(built)} services build an image ({', '.join(n for n, _ in built)}); one is enough"
        )
    return built[0]


def postgres_major(ref: ImageRef) -> int | None:
    match = re.match(r"^(\d+)", ref.tag or "")
    return int(match.group(1)) if match else None


# ===== task 1: a small, cacheable, pinned image ================================================


@pytest.mark.task(1)
def test_hadolint_finds_nothing_wrong(workdir: Path) -> None:
    findings = [f for f in hadolint_findings(workdir) if f.get("code") not in RUNTIME_RULES]
    _report_hadolint(findings, dockerfile(workdir).text.splitlines())


@pytest.mark.task(1)
def test_base_images_are_slim_pinned_and_agree(workdir: Path) -> None:
    df = dockerfile(workdir)
    for stage in df.stages:
        for match in _VAR.finditer(stage.written):
            var = match.group(1) or match.group(4)
            if not var or var in df.global_args:
                continue
            if match.group(2) in ("-", ":-") and match.group(3):
                continue  # ${VAR:-default}: the default applies
            in_stage = [
                (other, instr)
                for other in df.stages
                for instr in other.own
                if instr.name == "ARG" and var in _arg_names(instr.value)
            ]
            where = f"line {stage.line} `FROM {one_line(stage.written, 60)}`"
            if in_stage:
                other, instr = in_stage[0]
                fail(
                    f"{where} uses ${var}, but {instr.where} declares it inside "
                    f"{other.label}, after a FROM: such an ARG exists only in its own stage, "
                    "and FROM lines see only the ARGs written above the first FROM, so this "
                    f"one expands to nothing (FROM {stage.image}). Move `ARG {instr.value.strip()}` "
                    "to the top of the Dockerfile"
                )
            fail(
                f"{where} uses ${var}, which no ARG above the first FROM declares: it expands to "
                f"nothing (FROM {stage.image}). Declare it at the top of the Dockerfile "
                f"(`ARG {var}=...`)"
            )
    for stage in df.stages:
        if df.stage(stage.image) is not None:
            continue  # FROM another stage
        ref = image_ref(stage.image)
        if ref.tag in (None, "latest") and not ref.digest:
            fail(
                f"{stage.label} starts FROM {stage.image}: with no tag (or `latest`) the base "
                "image is whatever was pushed last; pin a release, e.g. python:3.12.8-slim-bookworm"
            )
    final = df.final
    installs_above = [d for d in requirement_installs(df) if d.stage in final.ancestors]
    if installs_above:
        fail(
            f"the final stage starts FROM {final.image}, the stage where "
            f"{installs_above[0].call.instr.where} installs the packages: everything that stage "
            "holds (pip, its caches, build files) is in the image. Start the final stage from "
            "the slim base image and COPY --from only what runs"
        )
    ref = image_ref(final.root_image)
    if ref.python is None:
        fail(
            f"the final stage starts FROM {final.root_image}; use the official Python image with a "
            "version in its tag (python:3.12.8-slim-bookworm): the checks and the venv you copy "
            "rely on its /usr/local/bin/python"
        )
    if "slim" not in ref.variant and "alpine" not in ref.variant:
        fail(
            f"the final stage starts FROM {final.root_image}, the full Debian image (about 1 GB, "
            "with compilers and headers the app never uses); start it from the slim variant, "
            f"python:{_python_label(ref.python)}-slim-bookworm (about 150 MB)"
        )
    if len(ref.python) < 2:
        fail(
            f"FROM {final.root_image} names only Python {ref.python[0]}: the next minor release "
            "arrives under the same tag; pin at least major.minor (3.12), better the patch too"
        )
    need = []
    for name, version in _pinned_requirements(workdir).items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        wanted = dist.metadata.get("Requires-Python")
        if dist.version == version and wanted:
            from packaging.specifiers import SpecifierSet

            probe = ".".join(str(v) for v in (*ref.python, 99)[:3])
            if probe not in SpecifierSet(wanted):
                need.append(f"{name}=={version} needs Python {wanted}")
    if need:
        fail(
            f"the final stage runs Python {_python_label(ref.python)} (FROM {final.root_image}), but "
            + "; ".join(need[:4])
            + ": pip would refuse to install them. Use a newer Python"
        )
    for deps in requirement_installs(df):
        if deps.stage is final:
            continue
        other = image_ref(deps.stage.root_image)
        if other.python is not None and other.python[:2] != ref.python[:2]:
            fail(
                f"{deps.stage.label} installs the packages with Python "
                f"{_python_label(other.python)} (FROM {deps.stage.root_image}) but the final stage "
                f"runs Python {_python_label(ref.python)} (FROM {final.root_image}): compiled "
                "packages and the venv's interpreter link are tied to one Python version. Use "
                "the same Python in both stages"
            )
        if other.python is not None and ("alpine" in other.variant) != ("alpine" in ref.variant):
            musl, glibc = (
                (final.root_image, deps.stage.root_image)
                if "alpine" in ref.variant
                else (deps.stage.root_image, final.root_image)
            )
            fail(
                f"{deps.stage.label} installs the packages on {deps.stage.root_image} but the "
                f"final stage runs {final.root_image}: {musl} is Alpine, built on the musl C "
                f"library, and {glibc} is Debian, built on glibc, so the compiled packages "
                "(pydantic-core, psycopg-binary) and the interpreter the venv links to do not "
                "load there. Start the final stage from the same slim image as the build stage"
            )


def _pinned_requirements(workdir: Path) -> dict[str, str]:
    path = workdir / "requirements.txt"
    pins: dict[str, str] = {}
    if not path.is_file():
        return pins
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*===?\s*([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(3)
    return pins


@pytest.mark.task(1)
def test_requirements_are_pinned(workdir: Path) -> None:
    _read_dockerfile(workdir)
    path = workdir / "requirements.txt"
    if not path.is_file():
        fail("requirements.txt is missing: the image installs its dependencies from it")
    loose = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^\s;]+", text):
            loose.append(f"line {number} `{text}`")
    if loose:
        fail(
            "requirements.txt has requirements without an exact version: "
            + ", ".join(loose)
            + ". Each build would install whatever is newest that day; pin each with == "
            "(the version `pip freeze` shows for the one you tested)"
        )


@pytest.mark.task(1)
def test_build_is_multi_stage(workdir: Path) -> None:
    df = dockerfile(workdir)
    copy_problems(workdir)
    if len(df.stages) < 2:
        fail(
            "the Dockerfile has one stage: whatever the install step brings or leaves behind "
            "(pip, requirements files, build tools and caches) ships in the image. Write a multi-stage build: install the requirements in a first "
            "stage (`FROM python:... AS builder`), then start the final stage FROM the slim "
            "image again and COPY --from=builder only the installed packages"
        )
    final = df.final
    imports = stage_files(workdir, final.index).imports
    from_stages = [(imp, df.stage(imp.ref)) for imp in imports]
    from_stages = [(imp, s) for imp, s in from_stages if s is not None and s is not final]
    installs = requirement_installs(df)
    if not installs:
        fail(
            "no RUN installs the requirements file (`pip install --no-cache-dir -r "
            "requirements.txt`): the image would have no fastapi or uvicorn"
        )
    if not from_stages:
        fail(
            f"the final stage copies nothing from an earlier stage (no COPY --from=<stage>): "
            f"the {len(df.stages) - 1} stage(s) above it are built and thrown away. Copy the "
            "installed packages from the build stage"
        )
    built = [d for d in installs if d.stage is not final]
    if not built:
        return  # e.g. wheels fetched elsewhere, installed in the final stage
    deps = built[0]
    copied = [(imp, s) for imp, s in from_stages if s is deps.stage]
    if not copied:
        fail(
            f"{deps.call.instr.where} installs the packages in {deps.stage.label}, but the "
            f"final stage copies nothing from it"
        )

    def brings(imp: CopyFrom, path: str) -> str | None:
        for source in imp.sources:
            source = posixpath.normpath(imp.instr.expand(source))
            if source == path or path.startswith(source.rstrip("/") + "/"):
                return source
        return None

    if deps.kind == "venv":
        venv = deps.path or ""
        for imp, _stage in copied:
            if brings(imp, venv):
                if imp.dest.rstrip("/") != venv:
                    fail(
                        f"{imp.instr.where} copies the virtual environment {venv} to {imp.dest}: "
                        "a venv is not relocatable (its scripts start with "
                        f"`#!{venv}/bin/python`), so uvicorn would not start. Copy it to the "
                        "same path"
                    )
                return
        created = venvs_created(deps.stage)
        fail(
            f"{deps.call.instr.where} installs into the virtual environment {venv} "
            + (f"(created at line {created[venv].line}) " if venv in created else "")
            + f"but the final stage does not copy {venv} from {deps.stage.label}: `COPY "
            f"--from={deps.stage.name or deps.stage.index} {venv} {venv}`"
        )
    if deps.kind == "system":
        venvs = venvs_created(deps.stage, deps.call.instr.line)
        for imp, _stage in copied:
            for venv in venvs:
                if brings(imp, venv):
                    fail(
                        f"{deps.call.instr.where} runs the base image's pip (PATH there is "
                        f"{deps.call.instr.envs.get('PATH', IMAGE_PATH)}), so the packages land "
                        f"in /usr/local, not in {venv}: the venv the final stage copies is "
                        f'empty. Put the venv first on PATH (ENV PATH="{venv}/bin:$PATH") '
                        f"before installing, or run {venv}/bin/pip"
                    )
        for imp, _stage in copied:
            for source in imp.sources:
                if posixpath.normpath(source).startswith("/usr/local"):
                    return
        fail(
            f"{deps.call.instr.where} installs into {deps.stage.label}'s system Python "
            "(/usr/local), and the final stage copies none of it. Install into a virtual "
            "environment (`python -m venv /opt/venv`) and copy that"
        )
    if deps.kind == "prefix":
        for imp, _stage in copied:
            if brings(imp, deps.path or ""):
                if (
                    imp.dest.rstrip("/") != "/usr/local"
                    and "PYTHONPATH" not in final.instrs[-1].envs
                ):
                    fail(
                        f"{imp.instr.where} puts the packages installed with --prefix={deps.path} "
                        f"at {imp.dest}, which is not on the final image's Python path: copy "
                        "them to /usr/local"
                    )
                return
        fail(
            f"{deps.call.instr.where} installs into {deps.path} but the final stage does not "
            f"copy {deps.path} from {deps.stage.label}"
        )
    if deps.kind == "wheels":
        for imp, _stage in copied:
            if brings(imp, deps.path or ""):
                return
        fail(
            f"{deps.call.instr.where} builds wheels into {deps.path} but the final stage does "
            f"not copy {deps.path} from {deps.stage.label}"
        )


def _copied_from_a_stage(
    workdir: Path, df: Dockerfile, stage: Stage, run: Instr, target: str
) -> bool:
    """Whether a COPY --from above `run` brings `target` (a file an earlier stage copied in)."""
    for imp in stage_files(workdir, stage.index).imports:
        if imp.instr.line >= run.line or imp.instr.name != "COPY":
            continue
        source_stage = df.stage(imp.ref)
        if source_stage is None or source_stage is stage:
            continue
        there = set(stage_files(workdir, source_stage.index).placed)
        for source in imp.sources:
            source = posixpath.normpath(imp.instr.expand(source))
            if target == imp.dest and source in there:
                return True
            if target.startswith(imp.dest.rstrip("/") + "/"):
                inner = posixpath.join(source, target[len(imp.dest.rstrip("/")) + 1 :])
                if inner in there:
                    return True
            if target == posixpath.join(imp.dest, posixpath.basename(source)) and source in there:
                return True  # a file copied into a folder
    return False


def _is_source(context_path: str) -> bool:
    name = posixpath.basename(context_path)
    return not re.match(r"^(requirements|constraints)[\w.-]*\.txt$", name)


@pytest.mark.task(1)
def test_dependencies_are_installed_before_the_source_is_copied(workdir: Path) -> None:
    df = dockerfile(workdir)
    copy_problems(workdir)
    installs = requirement_installs(df)
    if not installs:
        fail(
            "no RUN installs the requirements file (`pip install --no-cache-dir -r "
            "requirements.txt`): the image would have no fastapi or uvicorn"
        )
    for deps in installs:
        stage, run = deps.stage, deps.call.instr
        files = stage_files(workdir, stage.index).placed
        before = [p for p in files.values() if p.instr.line < run.line]
        source = [p for p in before if _is_source(p.context_path)]
        if source:
            first = min(source, key=lambda p: p.instr.line)
            count = len([p for p in source if p.instr is first.instr])
            fail(
                f"{first.instr.where} copies {count} file(s) of the source "
                f"({first.context_path}, …) before {run.where}: any edit to the code then "
                "invalidates the cache of the install layer, and every build downloads and "
                "installs all the packages again. COPY requirements.txt alone, install, and "
                "only then COPY the code"
            )
        mounts = run.mounts()
        workdir_now = stage_workdir(stage, run)
        for req in deps.call.requirements:
            target = posixpath.normpath(posixpath.join(workdir_now, run.expand(req)))
            if target in {p.image_path for p in before}:
                continue
            if any(f"target={target}" in m or f"target={req}" in m for m in mounts):
                continue
            if _copied_from_a_stage(workdir, df, stage, run, target):
                continue
            where_copied = [
                p.image_path
                for p in before
                if posixpath.basename(p.context_path) == posixpath.basename(req)
            ]
            fail(
                f"{run.where} reads {target}, but no COPY above it in {stage.label} puts "
                f"{posixpath.basename(req)} there"
                + (f" (it is at {where_copied[0]})" if where_copied else "")
                + ": pip would stop with `Could not open requirements file`"
            )
    final = df.final
    files = stage_files(workdir, final.index)
    first_source = min(
        (p.instr.line for p in files.placed.values() if _is_source(p.context_path)), default=None
    )
    if first_source is not None:
        for imp in files.imports:
            if imp.instr.line > first_source:
                fail(
                    f"in the final stage, {imp.instr.where} comes after the source is copied "
                    f"(line {first_source}): each code change rebuilds that layer and every "
                    "push uploads the packages again. Copy the dependencies first, the code last"
                )


# ===== task 2: the build context ===============================================================

JUNK = {
    ".venv/": "the host's virtual environment (built for this machine's Python and CPU; the "
    "image builds its own)",
    ".env": "the local database password",
    "data/": "raw data with customers' e-mail addresses",
    "__pycache__/": "bytecode caches from this machine",
}


def _junk_kind(path: str) -> str | None:
    if path.startswith(".venv/"):
        return ".venv/"
    if path == ".env":
        return ".env"
    if path.startswith("data/"):
        return "data/"
    if "/__pycache__/" in f"/{path}" or path.endswith(".pyc"):
        return "__pycache__/"
    return None


def _top_level_only(rules: list[IgnoreRule], path: str) -> IgnoreRule | None:
    """A rule that would exclude `path` if written with `**/` in front (the .gitignore habit)."""
    for rule in rules:
        if rule.exclusion or rule.pattern.startswith("**") or rule_hits(rule, path):
            continue  # a rule that already matches was undone by a later `!` line
        wider = IgnoreRule(rule.line, rule.written, "**/" + rule.pattern, False)
        wider.compile()
        if is_excluded([wider], path):
            return rule
    return None


def _dockerignore_or_todo(workdir: Path) -> Context:
    if not (workdir / ".dockerignore").is_file():
        raise NotImplementedError("write .dockerignore")
    return build_context(workdir)


@pytest.mark.task(2)
def test_dockerignore_keeps_junk_out_of_the_context(workdir: Path) -> None:
    ctx = _dockerignore_or_todo(workdir)
    sent: dict[str, list[str]] = {}
    for name in ctx.files:
        kind = _junk_kind(name)
        if kind:
            sent.setdefault(kind, []).append(name)
    if not sent:
        return
    parts = []
    for kind, names in sent.items():
        clue = ""
        narrow = _top_level_only(ctx.rules, names[0])
        decided = deciding_rule(ctx.rules, names[0])
        undone = [
            r
            for r in ctx.rules
            if decided is not None
            and decided.exclusion
            and not r.exclusion
            and r.line < decided.line
            and rule_hits(r, names[0])
        ]
        # the line aimed at the junk (not a catch-all `*` that also matches the app)
        undone = [r for r in undone if not any(rule_hits(r, n) for n in NEEDED)] or undone
        if undone:
            clue = (
                f" — line {undone[-1].line} `{undone[-1].written}` excludes them, but line "
                f"{decided.line} `{decided.written}` below it brings them back: the last "
                "matching line wins, so write the junk patterns after the `!` lines"
            )
        elif narrow is not None:
            clue = (
                f" — line {narrow.line} `{narrow.written}` matches only at the top of the "
                "context: Docker anchors every pattern at the context root (unlike .gitignore), "
                f"so write `**/{narrow.pattern}`"
            )
        shown = ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
        parts.append(f"{kind} ({JUNK[kind]}): {shown}{clue}")
    fail(
        "the build context still holds files that must never reach the builder: "
        + "; ".join(parts)
        + ". docker build sends the whole folder minus what .dockerignore excludes, and a "
        "`COPY . .` would put them in the image"
    )


NEEDED = ("requirements.txt", "app/main.py", "app/model.py", "models/churn-v3.json")


@pytest.mark.task(2)
def test_dockerignore_keeps_what_the_image_needs(workdir: Path) -> None:
    ctx = _dockerignore_or_todo(workdir)
    missing = [f"{name} ({ctx.why_missing(name)})" for name in NEEDED if name not in ctx.file_set]
    if missing:
        fail(
            "the build context lacks files the image needs: "
            + "; ".join(missing)
            + ". Exclude the junk, not the app, its model or requirements.txt"
        )
    with contextlib.suppress(NotImplementedError):
        copy_problems(workdir)


# ===== task 3: run safely, report health =======================================================


@pytest.mark.task(3)
def test_container_runs_as_a_non_root_user(workdir: Path) -> None:
    df = dockerfile(workdir)
    final = df.final
    user = final.last("USER")
    if user is None:
        elsewhere = [i for s in df.stages[:-1] for i in s.all("USER")]
        fail(
            "the final stage has no USER, so the app runs as root"
            + (
                f" (the USER at {elsewhere[0].where} belongs to an earlier stage and ends with it)"
                if elsewhere
                else ""
            )
            + ": a flaw in the app or a dependency then acts as root in the container. Create "
            "a user in the final stage and switch to it (`RUN useradd --system app` then "
            "`USER app`)"
        )
    name = user.expand(user.value.strip()).split(":")[0]
    if name in ("root", "0"):
        earlier = [i for i in final.all("USER") if i.line < user.line]
        fail(
            f"{user.where}: the last USER of the final stage is root, so the app runs as root"
            + (f" (it undoes {earlier[-1].where}: the last USER wins)" if earlier else "")
        )
    if name.isdigit() or name in BASE_IMAGE_USERS:
        return  # a numeric UID needs no /etc/passwd entry; the base image has the others
    for instr in final.instrs:
        if instr.line > user.line:
            break
        if instr.name != "RUN":
            continue
        for words in shell_segments(run_command(instr)):
            base = posixpath.basename(words[0])
            if base in ("useradd", "adduser") and name in words[1:]:
                return
    created = [
        s.label
        for s in df.stages[:-1]
        for i in s.all("RUN")
        if re.search(rf"\b(useradd|adduser)\b[^&;|]*\b{re.escape(name)}\b", run_command(i))
    ]
    made_here = []  # (line, user) for each useradd/adduser in the final stage
    for instr in final.own:
        if instr.name == "RUN":
            for words in shell_segments(run_command(instr)):
                if posixpath.basename(words[0]) in ("useradd", "adduser"):
                    names = [w for w in words[1:] if not w.startswith("-")]
                    if names:
                        made_here.append((instr.line, names[-1]))
    later = [line for line, made in made_here if made == name and line > user.line]
    others = [f"`{made}` (line {line})" for line, made in made_here if made != name]
    clue = ""
    if later:
        clue = (
            f" (line {later[0]} creates it below the USER line, and runs as `{name}` already: "
            "create the user first, then switch)"
        )
    elif others:
        clue = f" (the final stage creates {', '.join(others)}: use that name)"
    elif created:
        clue = f" (it is created in {created[0]}, which the image does not inherit)"
    fail(
        f"{user.where} switches to `{name}`, but no RUN above it in the final stage creates that "
        "user"
        + clue
        + f": the container would not start (`unable to find user {name}`)"
        + (
            ""
            if later or others
            else f". Add `RUN useradd --system {name}` to the final stage, or use a numeric UID"
        )
    )


@pytest.mark.task(3)
def test_command_is_exec_form_uvicorn_on_all_interfaces(workdir: Path) -> None:
    server = server_command(workdir)
    df = dockerfile(workdir)
    final = df.final
    exposed = [i for i in final.all("EXPOSE")]
    ports = {w.split("/")[0] for i in exposed for w in i.expand(i.value).split()}
    if exposed and str(server.port) not in ports:
        fail(
            f"EXPOSE lists {', '.join(sorted(ports))} but {server.where} serves port "
            f"{server.port}: EXPOSE documents the port the app listens on; make them agree"
        )
    installs = requirement_installs(df)
    venvs = [d.path for d in installs if d.kind == "venv" and d.stage is not final and d.path]
    if not venvs:
        return
    venv = venvs[0]
    path = final.instrs[-1].envs.get("PATH", IMAGE_PATH).split(":")
    path = [posixpath.normpath(p) for p in path if p]
    program = server.program
    base = posixpath.basename(program)
    if "/" in program:
        if _PYTHON.match(base) and not program.startswith(venv + "/"):
            fail(
                f"{server.where} runs {program}, the base image's Python, which cannot see the "
                f"packages in {venv}: run {venv}/bin/python (or put {venv}/bin first on PATH)"
            )
        return
    if venv + "/bin" not in path:
        fail(
            f"{server.where} runs `{program}`, but PATH in the final stage is {':'.join(path)}: "
            f"the packages are in {venv}, so `{program}` is not found on PATH (or is the base "
            f'image\'s Python without them). Add ENV PATH="{venv}/bin:$PATH" to the final stage'
        )
    if _PYTHON.match(base):
        position = path.index(venv + "/bin")
        system = [i for i, p in enumerate(path) if p in SYSTEM_BIN]
        if system and system[0] < position:
            fail(
                f"{server.where} runs `{program}`, and PATH in the final stage lists "
                f"{path[system[0]]} before {venv}/bin: that is the base image's Python, without "
                'the packages. Put the venv first: ENV PATH="' + venv + '/bin:$PATH"'
            )


@pytest.mark.task(3)
def test_healthcheck_probes_the_app_with_what_the_image_has(workdir: Path) -> None:
    health = healthcheck(workdir)
    server = server_command(workdir)
    if health.port != server.port:
        fail(
            f"{health.instr.where} probes port {health.port}, but uvicorn serves port "
            f"{server.port} ({server.where}): the check would fail forever and the container "
            "would be marked unhealthy"
        )
    df = dockerfile(workdir)
    final = df.final
    program = posixpath.basename(health.argv[0])
    if health.argv[:2] == ["/bin/sh", "-c"]:
        words = shell_segments(health.argv[2])
        program = posixpath.basename(words[0][0]) if words and words[0] else ""
    alpine = "alpine" in image_ref(final.root_image).variant
    if program in ("curl", "wget") and not (alpine and program == "wget"):  # busybox has wget
        installed = any(
            re.search(
                rf"\b(apt-get|apt|apk)\b[^;&|]*\binstall\b[^;&|]*\b{program}\b", run_command(i)
            )
            or re.search(rf"\bapk\b[^;&|]*\badd\b[^;&|]*\b{program}\b", run_command(i))
            for i in final.all("RUN")
        )
        if not installed:
            fail(
                f"{health.instr.where} runs {program}, and the python slim images have no "
                f"{program}: the check would fail with `{program}: not found` and the container "
                'would be marked unhealthy. Probe with Python instead: CMD ["python", '
                '"healthcheck.py", "http://127.0.0.1:8000/health"]'
            )
        return
    if _PYTHON.match(program):
        words = health.argv if health.argv[:2] != ["/bin/sh", "-c"] else shlex.split(health.argv[2])
        scripts = [w for w in words[1:2] if w.endswith(".py")]
        if scripts:
            files = stage_files(workdir, final.index)
            workdir_now = stage_workdir(final)
            target = posixpath.normpath(
                posixpath.join(workdir_now, health.instr.expand(scripts[0]))
            )
            landed = sorted(
                p
                for p, f in files.placed.items()
                if posixpath.basename(p) == posixpath.basename(target)
            )
            if target not in files.placed and landed:
                fail(
                    f"{health.instr.where} runs {scripts[0]} from the final stage's WORKDIR, "
                    f"{workdir_now}, so Docker looks for {target}; your COPY put it at "
                    f"{landed[0]}. Set WORKDIR {posixpath.dirname(landed[0])} in the final "
                    "stage (the CMD runs there too), or name the script by its full path"
                )
            if target not in files.placed:
                fail(
                    f"{health.instr.where} runs {target}, which the final stage never copies "
                    f"(its files from the context: {_listing(files)}): COPY {scripts[0]} into "
                    f"{workdir_now}"
                )


def _listing(files: StageFiles, limit: int = 6) -> str:
    names = sorted(files.placed)
    if not names:
        return "none"
    return ", ".join(names[:limit]) + (
        f" and {len(names) - limit} more" if len(names) > limit else ""
    )


# ----- the learner's probe ----------------------------------------------------------------------


def _probe_app(seen: list[tuple[str, str]] | None = None) -> FastAPI:
    """The app the learner's probe is tried on; `seen` collects (method, path) of each request."""
    app = FastAPI()

    if seen is not None:

        @app.middleware("http")
        async def record(request: Any, call_next: Any) -> Any:
            seen.append((request.method, request.url.path))
            return await call_next(request)

    @app.get("/ok")
    def ok() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/empty")
    def empty() -> Response:
        return Response(status_code=204)

    @app.get("/down")
    def down() -> Response:
        return Response("starting", status_code=503)

    return app


def _call_with_limit(func: Callable[[], Any], limit: float) -> tuple[str, Any, float]:
    """Run `func` in a thread: ("done", value, s), ("raised", exc, s) or ("waiting", None, s)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # reported to the learner below
            box["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=target, name="lab-probe", daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.monotonic() - started
    if thread.is_alive():
        return "waiting", None, elapsed
    if "error" in box:
        if isinstance(box["error"], NotImplementedError):
            raise box["error"]
        return "raised", box["error"], elapsed
    return "done", box.get("value"), elapsed


def _call_probe(learner: Any, url: str, what: str, timeout: float = 2.0, limit: float = 6.0) -> Any:
    state, value, _elapsed = _call_with_limit(lambda: learner.probe(url, timeout=timeout), limit)
    if state == "waiting":
        fail(f"probe(url, timeout={timeout}) on {what} is still waiting after {limit:.0f} s")
    if state == "raised":
        fail(
            f"probe(url, timeout={timeout}) on {what} raised {type(value).__name__}: {value}. "
            "A probe answers False for a server that is down; it never raises"
            + (
                " (urllib raises ValueError for a malformed URL: keep everything that reads the URL "
                "inside the try)"
                if isinstance(value, ValueError)
                else ""
            )
        )
    return value


@pytest.mark.task(3)
def test_probe_tells_healthy_from_failing(
    learner: Any, learner_file: Path, monkeypatch: Any
) -> None:
    tree = ast.parse(learner_file.read_text(encoding="utf-8"))
    seen: list[tuple[str, str]] = []
    with serve_app(_probe_app(seen)) as served:
        ok = _call_probe(learner, served.url("/ok"), "an app answering 200")
        if ok is not True:
            clue = " (return a bool, not the response)" if ok not in (True, False) else ""
            methods = sorted({m for m, path in seen if path == "/ok"})
            if methods and "GET" not in methods:
                clue = (
                    f" — the probe sent {', '.join(methods)} /ok, and the app answers a "
                    f"{methods[0]} on a GET route with 405: send a GET (urlopen's default, "
                    "without method=)"
                )
            for call in _calls(tree, "urlopen"):
                if len(call.args) >= 2:
                    clue = (
                        f" — line {call.lineno} passes a second positional argument to urlopen, "
                        "which is `data` (a POST body), not the timeout: write timeout=timeout"
                    )
            fail(f"probe(url) on an app that answers 200 returned {ok!r}; expected True{clue}")
        for path, status in (("/down", 503), ("/missing", 404)):
            got = _call_probe(learner, served.url(path), f"an app answering {status}")
            if got is not False:
                fail(
                    f"probe(url) on an app that answers {status} returned {got!r}; expected "
                    f"False — a {status} means unhealthy: look at the status code (urlopen "
                    "raises HTTPError for it)"
                )
        got = _call_probe(learner, served.url("/empty"), "an app answering 204")
        if got is not True:
            fail(
                f"probe(url) on an app that answers 204 No Content returned {got!r}; expected "
                "True — every 2xx status means healthy (`200 <= status < 300`), not only 200"
            )
        seen.clear()
        results = {
            what: _call_with_limit(lambda url=url: learner.main([url]), 6.0)
            for what, url in (("healthy", served.url("/ok")), ("failing", served.url("/down")))
        }
        # as Docker runs it: `python healthcheck.py URL`, then `sys.exit(main())`
        from_argv = {}
        for what, url in (("healthy", served.url("/ok")), ("failing", served.url("/down"))):
            monkeypatch.setattr(sys, "argv", ["healthcheck.py", url])
            from_argv[what] = _call_with_limit(learner.main, 6.0)
        monkeypatch.undo()
    for what, (state, value, _s) in results.items():
        if state == "waiting":
            fail(f"main([url of a {what} app]) is still waiting after 6 s")
        if state == "raised" and isinstance(value, SystemExit):
            fail(
                f"main([url of a {what} app]) calls sys.exit({value.code!r}) itself: return the "
                "status instead; the `sys.exit(main())` line at the bottom of the file exits"
            )
        if state == "raised":
            fail(
                f"main([url of a {what} app]) raised {type(value).__name__}: {value}"
                + _argv_clue(tree)
            )
    healthy, failing = results["healthy"][1], results["failing"][1]
    requested = {path for _m, path in seen}
    if healthy in (1, False) and not {"/ok", "/down"} & requested:
        fail(
            f"main([url]) returned {healthy!r} for a healthy app, and the app received no "
            "request: main probed another URL than the one it was given. `argv` holds only the "
            "arguments (sys.argv[1:], no script name), so the URL is argv[0] — with DEFAULT_URL "
            "when argv is empty" + _argv_clue(tree)
        )
    if healthy is True or failing is False:
        fail(
            f"main([url]) returned {healthy!r} for a healthy app and {failing!r} for a failing "
            "one: return the ints 0 and 1 — True as an exit status is 1, unhealthy (write "
            "`return 0 if probe(url) else 1`)"
        )
    if healthy == 1 and failing == 0:
        fail(
            "main([url]) returned 1 for a healthy app and 0 for a failing one: the other way "
            "round — Docker reads exit status 0 as healthy and 1 as unhealthy"
        )
    if healthy != 0 or failing != 1:
        fail(
            f"main([url]) returned {healthy!r} for a healthy app and {failing!r} for a failing "
            "one; expected the ints 0 (healthy) and 1 (unhealthy; 2 is reserved)" + _argv_clue(tree)
        )
    got = {what: value for what, (state, value, _s) in from_argv.items() if state == "done"}
    if got.get("healthy") != 0 or got.get("failing") != 1:
        shown = ", ".join(
            f"{what}: "
            + (repr(value) if state == "done" else f"{state} {type(value).__name__}: {value}")
            for what, (state, value, _s) in from_argv.items()
        )
        fail(
            "main() with no argument, as `python healthcheck.py URL` calls it (sys.argv = "
            f"['healthcheck.py', URL]), did not give 0 for a healthy app and 1 for a failing "
            f"one ({shown}): when argv is None, read sys.argv[1:] — sys.argv[0] is the "
            "script's own path, not the URL"
        )


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name:
                found.append(node)
    return found


def _argv_clue(tree: ast.Module) -> str:
    """A clue when main() never reads its own `argv` parameter (checked in the source)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main" and node.args.args:
            param = node.args.args[0].arg
            used = any(isinstance(n, ast.Name) and n.id == param for n in ast.walk(node))
            if not used:
                return (
                    f" — main never reads its `{param}` argument: the URL to probe is its "
                    "first item (fall back to sys.argv[1:] only when it is None)"
                )
    return ""


@pytest.mark.task(3)
def test_probe_never_hangs_or_raises(learner: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    got = _call_probe(learner, f"http://127.0.0.1:{closed_port}/health", "a port where nothing listens")
    if got is not False:
        fail(f"probe(url) where nothing listens returned {got!r}; expected False")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent.settimeout(0.2)
    held: list[socket.socket] = []  # accepted, counted, never answered
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(silent.accept()[0])

    acceptor = threading.Thread(target=accept, name="lab-silent-server", daemon=True)
    acceptor.start()
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/health"
        state, value, elapsed = _call_with_limit(lambda: learner.probe(url, timeout=0.5), 4.0)
    finally:
        stop.set()
        acceptor.join(1.0)
        for conn in held:
            conn.close()
        silent.close()
    if len(held) > 1 and state != "waiting":
        fail(
            f"probe(url, timeout=0.5) on a server that never answers connected {len(held)} "
            f"times and took {elapsed:.1f} s: make one attempt bounded by `timeout` — Docker "
            "already retries (HEALTHCHECK --retries), and a probe that outlasts the "
            "HEALTHCHECK --timeout is killed and counted as a failure"
        )
    if state == "waiting":
        fail(
            "probe(url, timeout=0.5) on a server that accepts the connection and never answers "
            "is still waiting after 4 s: pass the timeout on (`urlopen(url, timeout=timeout)`); "
            "without one a hung app makes the health check hang too"
        )
    if state == "raised":
        clue = ""
        if isinstance(value, TimeoutError):
            clue = (
                " — urlopen raises TimeoutError (not URLError) when the answer is late; catch "
                "OSError, the parent of URLError, HTTPError and TimeoutError"
            )
        fail(
            "probe(url, timeout=0.5) on a server that accepts the connection and never answers "
            f"raised {type(value).__name__}: {value}{clue}"
        )
    if value is not False:
        fail(
            f"probe(url, timeout=0.5) on a server that never answers returned {value!r}; expected False"
        )
    if elapsed > 2.0:
        fail(
            f"probe(url, timeout=0.5) on a server that never answers took {elapsed:.1f} s: pass "
            "the timeout argument on instead of a fixed value"
        )
    got = _call_probe(learner, "/health", "a bare path, not a URL")
    if got is not False:
        fail(f"probe('/health') (a path, not a URL) returned {got!r}; expected False")


@pytest.mark.task(3)
def test_probe_uses_only_the_standard_library(learner_file: Path) -> None:
    tree = ast.parse(learner_file.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "probe":
            body = [n for n in node.body if not isinstance(n, ast.Expr)]
            if len(body) == 1 and isinstance(body[0], ast.Raise):
                raise NotImplementedError("probe() is still the starter")
    for module, line in imported_modules(tree):
        top = module.split(".")[0]
        if top not in sys.stdlib_module_names and top != "__future__":
            fail(
                f"healthcheck.py imports {module} (line {line}): the probe runs with the "
                "image's Python and must work even when the app's packages are broken; use "
                "urllib.request from the standard library"
            )


# ----- the app, run as the image would run it ---------------------------------------------------


def _module_file(root: Path, folders: list[str], module: str) -> str | None:
    parts = module.split(".")
    for folder in folders:
        base = root / folder.lstrip("/") / Path(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return "/" + candidate.relative_to(root).as_posix()
    return None


@pytest.mark.task(3)
def test_the_image_serves_its_health_url(workdir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    server = server_command(workdir)
    health = healthcheck(workdir)
    df = dockerfile(workdir)
    final = df.final
    files = stage_files(workdir, final.index)
    copy_problems(workdir)
    root = tmp_path / "image"
    root.mkdir()
    for image_path, placed in files.placed.items():
        target = root / image_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workdir / placed.context_path, target)
    cwd = stage_workdir(final)
    envs = final.instrs[-1].envs if final.instrs else {}
    folders = [posixpath.normpath(posixpath.join(cwd, server.app_dir))]
    folders += [p for p in envs.get("PYTHONPATH", "").split(":") if p.startswith("/")]
    module_name, _, attr = server.app.partition(":")
    top = module_name.split(".")[0]
    found = _module_file(root, folders, module_name)
    if found is None:
        want = "/".join(module_name.split("."))
        landed = sorted(p for p, f in files.placed.items() if f.context_path == f"{want}.py")
        fail(
            f"{server.where} imports `{module_name}` from {folders[0]} (the WORKDIR), but the "
            f"image has no {posixpath.join(folders[0], want)}.py"
            + (f": your COPY lines put {want}.py at {landed[0]}" if landed else "")
            + f". The final stage's files from the context: {_listing(files)}"
        )

    def forget() -> None:
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]

    image_paths = [str(root / f.lstrip("/")) for f in folders]
    # nothing outside the image may provide the app: not this folder, not the lab's own copy
    keep = [p for p in sys.path if p not in ("", ".") and not (Path(p) / top).exists()]
    monkeypatch.setattr(sys, "path", image_paths + keep)
    for key, value in envs.items():
        if key != "PATH":
            monkeypatch.setenv(key, value)
    (root / cwd.lstrip("/")).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(root / cwd.lstrip("/"))
    forget()

    def shown(exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}".replace(str(root), "")

    try:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            fail(
                f"importing {module_name} the way the image would ({found}, with the files your "
                f"COPY lines put in the image) fails: {shown(exc)}. The final stage's files: "
                f"{_listing(files)}"
            )
        app = getattr(module, attr or "app", None)
        if app is None:
            fail(f"{server.where} names {server.app}, but {found} defines no `{attr}`")
        if server.factory:
            app = app()
        try:
            with TestClient(app):
                pass
        except Exception as exc:
            fail(
                f"the app, run from the image's files, fails at startup: {shown(exc)}. The "
                f"final stage's files from the context: {_listing(files)}"
            )
        path = health.url.path or "/"
        if health.url.query:
            path += "?" + health.url.query
        with serve_app(app) as served, httpx.Client(timeout=5.0) as client:
            response = client.get(served.url(path))
        if not 200 <= response.status_code < 300:
            fail(
                f"{health.instr.where} requests {path}; the app, served from the image's files, "
                f"answers it with {response.status_code} {response.text[:80]!r}: the container "
                "would be marked unhealthy. Probe the app's real health endpoint (/health)"
            )
    finally:
        forget()


@pytest.mark.task(3)
def test_hadolint_runtime_rules(workdir: Path) -> None:
    findings = [f for f in hadolint_findings(workdir) if f.get("code") in RUNTIME_RULES]
    _report_hadolint(findings, dockerfile(workdir).text.splitlines())


# ===== task 4: the Compose stack ===============================================================


@functools.cache
def schema_problem(workdir: Path) -> str | None:
    """The Compose Specification's verdict on the file, or None when it is valid."""
    data = compose(workdir)
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)

    def flat(errors: list[Any]) -> Iterator[Any]:
        for error in errors:
            yield error
            yield from flat(list(error.context or []))

    as_json = json.loads(
        json.dumps(data, default=str)
    )  # YAML's int keys and dates as JSON has them
    errors = list(validator.iter_errors(as_json))
    if not errors:
        return None
    # the deepest error names the field at fault ("unevaluated properties" at a service is
    # only the echo of an error inside it)
    best = max(
        flat(errors), key=lambda e: (len(e.absolute_path), e.validator != "unevaluatedProperties")
    )
    where = "/".join(str(p) for p in best.absolute_path) or "(top level)"
    return (
        f"{compose_path(workdir).name} does not follow the Compose Specification at {where}: "
        f"{one_line(best.message, 200)}"
    )


@pytest.mark.task(4)
def test_compose_file_follows_the_specification(workdir: Path) -> None:
    data = compose(workdir)
    path = compose_path(workdir)
    problem = schema_problem(workdir)
    if problem is not None:
        fail(problem)
    if "version" in data:
        fail(
            f"{path.name} has a top-level `version:`: the Compose Specification dropped it and "
            "`docker compose` warns that it is obsolete; delete the line"
        )


@pytest.mark.task(4)
def test_compose_builds_the_app_and_pins_postgres(workdir: Path) -> None:
    name, service = app_service(workdir)
    build = service["build"]
    context = build if isinstance(build, str) else (build.get("context") or ".")
    if go_clean(str(context)) != ".":
        fail(
            f"service {name} builds {context}: the Dockerfile and the files it copies are in "
            "this folder, so the build context is `.`"
        )
    if isinstance(build, dict) and build.get("dockerfile") not in (None, "Dockerfile"):
        fail(f"service {name} builds {build['dockerfile']}; this folder's file is `Dockerfile`")
    db_name, _db, ref = postgres_service(workdir)
    if postgres_major(ref) is None:
        fail(
            f"service {db_name} runs image postgres:{ref.tag or ''} (no version in the tag): a "
            "new major PostgreSQL release cannot read the old one's data files, and it would "
            "arrive with the next pull. Pin the major version at least: postgres:16.4-bookworm"
        )
    server = server_command(workdir)
    ports = service.get("ports") or []
    if not ports:
        fail(
            f"service {name} publishes no port: nothing outside Docker reaches the app. Add "
            f'ports: ["{server.port}:{server.port}"]'
        )
    targets = []
    random_host: list[str] = []  # the container's port, published on a host port Docker picks
    for item in ports:
        if isinstance(item, dict):
            target = str(item.get("target"))
            if item.get("published") in (None, ""):
                random_host.append(target)
        else:
            parts = str(item).split("/")[0].split(":")
            target = parts[-1]
            if len(parts) == 1 or parts[-2] == "":
                random_host.append(target)
        targets.append(target)
    if str(server.port) not in targets:
        fail(
            f"service {name} publishes container port(s) {', '.join(targets)}, but uvicorn "
            f"listens on {server.port} inside the container: the mapping is HOST:CONTAINER, "
            f'so write "{server.port}:{server.port}" (or "8080:{server.port}")'
        )
    if str(server.port) in random_host:
        fail(
            f"service {name} publishes container port {server.port} without a host port, so "
            "Docker picks a random free one on each `up` and http://127.0.0.1:"
            f"{server.port} reaches nothing: write HOST:CONTAINER, "
            f'"{server.port}:{server.port}"'
        )


def _healthcheck_test(workdir: Path) -> None:
    db_name, db, _ref = postgres_service(workdir)
    check = db.get("healthcheck")
    if not isinstance(check, dict) or "test" not in check:
        fail(
            f"service {db_name} has no healthcheck: without one Compose can only wait for the "
            "container to start, and PostgreSQL needs a few seconds more before it accepts "
            'connections. Add healthcheck: test: ["CMD-SHELL", "pg_isready -U churn -d churn"]'
        )
    disabled = check.get("disable") in (True, "true")
    test = check["test"]
    if disabled or test == ["NONE"] or test == "NONE":
        fail(f"the healthcheck of service {db_name} is turned off")
    if isinstance(test, list):
        if not test or test[0] not in ("CMD", "CMD-SHELL"):
            fail(
                f'service {db_name}\'s healthcheck test {test!r} must start with "CMD" (the '
                'rest is the program and its arguments) or "CMD-SHELL" (the rest is one shell '
                "command)"
            )
        if test[0] == "CMD" and len(test) > 1 and " " in test[1]:
            fail(
                f'service {db_name}\'s healthcheck test {test!r}: with "CMD" the next item is '
                f"the program name, so Docker looks for a program called {test[1]!r}. Split it "
                f'into items (["CMD", "pg_isready", "-U", "churn"]) or use "CMD-SHELL"'
            )
        text = " ".join(test[1:])
    else:
        text = str(test)
    if not re.search(r"\b(pg_isready|psql)\b", text):
        fail(
            f"service {db_name}'s healthcheck runs `{text}`, which does not ask PostgreSQL "
            "whether it accepts connections: use pg_isready (shipped in the postgres image)"
        )
    env = dotenv(workdir)
    for use in variables(text):
        if use.name not in env and use.op not in ("-", ":-"):
            fail(
                f"service {db_name}'s healthcheck uses ${use.name}: Compose replaces it when it "
                f"reads the file, from your shell or .env (where {use.name} is not set), not "
                f"inside the container — it becomes an empty string. Write ${'$'}{use.name} to "
                "let the container's shell expand it, or write the value"
            )


@pytest.mark.task(4)
def test_api_waits_for_a_healthy_database(workdir: Path) -> None:
    name, service = app_service(workdir)
    db_name, _db, _ref = postgres_service(workdir)
    depends = service.get("depends_on")
    if depends is None:
        fail(
            f"service {name} has no depends_on: Compose starts both at once and the first "
            "predictions fail while PostgreSQL is still initialising. Add depends_on: {"
            f"{db_name}: {{condition: service_healthy}}}}"
        )
    if isinstance(depends, list):
        if db_name in depends:
            fail(
                f"service {name} lists depends_on: [{db_name}] (the short form), which waits "
                "only until the database container has started, not until PostgreSQL accepts "
                f"connections. Use the long form: depends_on: {{{db_name}: {{condition: "
                "service_healthy}}"
            )
        fail(f"service {name}'s depends_on does not name {db_name}")
    entry = depends.get(db_name) if isinstance(depends, dict) else None
    if entry is None:
        fail(f"service {name}'s depends_on does not name {db_name}")
    condition = entry.get("condition", "service_started") if isinstance(entry, dict) else None
    if condition != "service_healthy":
        fail(
            f"service {name} depends on {db_name} with condition {condition}: that waits for "
            "the container to start, not for PostgreSQL to accept connections. Use condition: "
            "service_healthy"
        )
    _healthcheck_test(workdir)


@pytest.mark.task(4)
def test_database_keeps_its_data_in_a_named_volume(workdir: Path) -> None:
    data = compose(workdir)
    db_name, db, ref = postgres_service(workdir)
    major = postgres_major(ref) or 16
    image_volume = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    env = {k: v for k, (v, _w) in service_env(workdir, db).items()}
    pgdata = env.get("PGDATA") or (
        f"/var/lib/postgresql/{major}/docker" if major >= 18 else image_volume
    )
    declared = data.get("volumes") or {}
    mounts = []
    for item in db.get("volumes") or []:
        if isinstance(item, dict):
            mounts.append(
                (
                    str(item.get("type", "volume")),
                    str(item.get("source") or ""),
                    str(item.get("target") or ""),
                    item,
                )
            )
        else:
            parts = str(item).split(":")
            if len(parts) == 1:
                mounts.append(("volume", "", parts[0], item))
            else:
                source, target = parts[0], parts[1]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
                mounts.append((kind, source, target, item))
    if not mounts:
        fail(
            f"service {db_name} mounts no volume: the database lives in the container's "
            "writable layer and `docker compose down` deletes it. Mount a named volume on "
            f'{image_volume} (volumes: ["pgdata:{image_volume}"], and declare pgdata under '
            "the top-level volumes:)"
        )
    for kind, source, target, item in mounts:
        target = target.rstrip("/") or "/"
        if target != image_volume and not (pgdata + "/").startswith(target + "/"):
            continue
        if kind == "bind":
            fail(
                f"service {db_name} mounts {item!r}, a bind mount of a host folder: the files "
                "belong to the container's postgres user and the layout depends on the host. "
                "Use a named volume that Docker manages (pgdata:" + image_volume + ")"
            )
        if not source:
            fail(
                f"service {db_name} mounts {item!r}, an anonymous volume: `docker compose down "
                "-v` or a prune removes it without a name to find it by; name it"
            )
        if not isinstance(declared, dict) or source not in declared:
            fail(
                f"service {db_name} mounts the volume `{source}`, which the top-level volumes: "
                f'does not declare: `docker compose up` stops with `service "{db_name}" refers '
                f"to undefined volume {source}`. Add volumes: {{{source}: {{}}}} at the top level"
            )
        if target != image_volume:
            fail(
                f"service {db_name} mounts `{source}` on {target}; postgres:{ref.tag} keeps its "
                f"data under {pgdata} and declares {image_volume} as its volume, so Docker adds "
                f"an anonymous volume there and the data never reaches `{source}`. Mount it on "
                f"{image_volume}"
            )
        if not (pgdata + "/").startswith(target + "/"):
            fail(f"PGDATA is {pgdata}, outside the volume on {target}")
        return
    where = ", ".join(f"{t}" for _k, _s, t, _i in mounts)
    fail(
        f"service {db_name} mounts volumes on {where}, but postgres:{ref.tag} keeps its data in "
        f"{pgdata} (the image's volume is {image_volume}): the database is not in your volume. "
        f"Mount the named volume on {image_volume}"
    )


@pytest.mark.task(4)
def test_api_reaches_the_database(workdir: Path) -> None:
    name, service = app_service(workdir)
    db_name, db, _ref = postgres_service(workdir)
    env_values = dotenv(workdir)
    app_env = service_env(workdir, service)
    if "DATABASE_URL" not in app_env:
        fail(
            f"service {name} gets no DATABASE_URL, so the app never logs a prediction: set "
            f"environment: DATABASE_URL: postgresql://churn:${{POSTGRES_PASSWORD}}@{db_name}:5432/churn"
        )
    raw, _where = app_env["DATABASE_URL"]
    url = urllib.parse.urlsplit(interpolate(raw, env_values))
    if url.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        fail(f"service {name}'s DATABASE_URL {raw!r} is not a postgresql:// URL")
    names = {db_name}
    names.update(str(h) for h in (db.get("hostname"), db.get("container_name")) if h)
    if url.hostname in ("localhost", "127.0.0.1", "::1"):
        fail(
            f"service {name}'s DATABASE_URL points at {url.hostname}: inside the {name} "
            f"container that is the {name} container itself. Containers on a Compose network "
            f"reach each other by service name: @{db_name}:5432"
        )
    if url.hostname not in names:
        fail(
            f"service {name}'s DATABASE_URL points at host {url.hostname!r}; the database "
            f"service is called {db_name} (Compose's network resolves service names)"
        )
    db_env = {k: v for k, (v, _w) in service_env(workdir, db).items()}
    port = int(db_env.get("PGPORT") or 5432)
    if (url.port or 5432) != port:
        fail(
            f"service {name}'s DATABASE_URL uses port {url.port}; PostgreSQL listens on {port} "
            "inside its container (a published `ports:` mapping is for the host, not for "
            "other containers)"
        )
    user = interpolate(db_env.get("POSTGRES_USER") or "postgres", env_values)
    dbname = interpolate(db_env.get("POSTGRES_DB") or user, env_values)
    if url.username != user:
        fail(
            f"service {name}'s DATABASE_URL logs in as {url.username!r}, but {db_name} creates "
            f"the user {user!r} (POSTGRES_USER)"
        )
    if url.path.lstrip("/") != dbname:
        fail(
            f"service {name}'s DATABASE_URL opens database {url.path.lstrip('/')!r}, but "
            f"{db_name} creates {dbname!r} (POSTGRES_DB, which defaults to the user name)"
        )
    if "POSTGRES_PASSWORD" in db_env:
        password = interpolate(db_env["POSTGRES_PASSWORD"], env_values)
        if urllib.parse.unquote(url.password or "") != password:
            fail(
                f"the password in service {name}'s DATABASE_URL is not the one {db_name} is "
                "given (POSTGRES_PASSWORD): read both from the same variable, "
                "${POSTGRES_PASSWORD}"
            )


def _literal_secret(value: str) -> str | None:
    """Why `value` (as written) holds a plaintext secret, or None when it comes from a variable."""
    uses = variables(value)
    if not uses:
        return "a plaintext value"
    for use in uses:
        if use.op in ("-", ":-") and use.word and "$" not in use.word:
            return f"a default written in the file (${{{use.name}{use.op}{use.word}}})"
    return None


@pytest.mark.task(4)
def test_no_plaintext_secrets(workdir: Path) -> None:
    path = compose_path(workdir)
    env_values = dotenv(workdir)
    for name, service in services(workdir).items():
        for key, (value, where) in service_env(workdir, service).items():
            if where != "environment":
                continue  # from an env_file: the secret lives outside the Compose file
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                why = _literal_secret(value)
                if why is not None and value:
                    fail(
                        f"service {name} sets {key} to {why} in {path.name}: the file goes into "
                        f"git and the password with it. Write {key}: ${{{key}}} and keep the "
                        "value in .env (which git and .dockerignore leave out)"
                    )
            url = urllib.parse.urlsplit(value) if "://" in value else None
            if url is not None and url.password is not None:
                why = _literal_secret(url.password)
                if why is not None:
                    fail(
                        f"service {name}'s {key} carries the password as {why}: write it as "
                        f"${{POSTGRES_PASSWORD}} inside the URL"
                    )
    db_name, db, _ref = postgres_service(workdir)
    db_env = service_env(workdir, db)
    if db_env.get("POSTGRES_HOST_AUTH_METHOD", ("", ""))[0] == "trust":
        fail(
            f"service {db_name} sets POSTGRES_HOST_AUTH_METHOD=trust: anyone who reaches the "
            "port logs in without a password"
        )
    if "POSTGRES_PASSWORD" not in db_env and "POSTGRES_PASSWORD_FILE" not in db_env:
        fail(
            f"service {db_name} gets no POSTGRES_PASSWORD: the postgres image refuses to "
            "initialise a database without one. Set POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}"
        )
    for _where, text in strings_in(compose(workdir)):
        for use in variables(text):
            if use.name in env_values or use.op in ("-", ":-", "+", ":+"):
                continue
            if use.op in ("?", ":?"):
                fail(
                    f"{path.name} requires ${{{use.name}}}, which .env does not set: `docker "
                    f"compose up` would stop with `required variable {use.name} is missing a "
                    f"value`. Add {use.name}=... to .env"
                )
            fail(
                f"{path.name} uses ${use.name}, which .env does not set: Compose would warn "
                f'`The "{use.name}" variable is not set. Defaulting to a blank string.` and '
                f"use an empty value. Add {use.name}=... to .env"
            )
    df = dockerfile(workdir)
    for stage in df.stages:
        for instr in stage.instrs:
            if instr.name not in ("ENV", "ARG"):
                continue
            try:
                words = shlex.split(instr.value)
            except ValueError:
                words = instr.value.split()
            if words and "=" not in words[0]:
                keys = words[:1]  # the legacy `ENV KEY value` form
            else:
                keys = [w.split("=", 1)[0] for w in words if "=" in w]
            for key in keys:
                if SECRET_NAME.search(key):
                    fail(
                        f"{instr.where} puts a secret into the image: ENV and ARG values are "
                        "stored in the image's configuration and history, where anyone who "
                        "pulls it reads them (`docker history`, `docker inspect`). Pass it at "
                        "run time (Compose's environment:) instead"
                    )
            if instr.name == "ENV" and re.search(r"://[^/\s:@]+:[^@\s]+@", instr.value):
                fail(
                    f"{instr.where} bakes a URL with a password into the image; pass it at run "
                    "time (Compose's environment:) instead"
                )
