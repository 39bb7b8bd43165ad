"""End-to-end ownership: can someone run it, serve it, ship it and rebuild its environment?"""

from __future__ import annotations

import ast
import re
from typing import Any

from aipath.portfolio.audit.context import AuditContext
from aipath.portfolio.audit.models import Evidence
from aipath.portfolio.audit.registry import Outcome, check, ev
from aipath.portfolio.audit.textutil import line_of

GROUP = "ownership"

API_FACTORIES = {
    "FastAPI",
    "Flask",
    "Starlette",
    "Quart",
    "Sanic",
    "Litestar",
    "Interface",
    "Blocks",
}
API_IMPORTS = ("streamlit", "gradio", "bentoml", "litserve", "ray.serve")
BATCH_NAMES = re.compile(
    r"^(predict|predict_\w+|batch_\w+|score|score_\w+|forecast|forecast_\w+|infer|inference|"
    r"run_inference|search|retrieve|answer|query|transform_batch)$"
)
LOCK_FILES = (
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "conda-lock.yml",
    "requirements.lock",
    "requirements-lock.txt",
    "pixi.lock",
)
SERVER_WORDS = ("uvicorn", "gunicorn", "flask run", "streamlit", "hypercorn", "serve")


def _scripts(data: dict[str, Any]) -> dict[str, Any]:
    project = data.get("project")
    scripts = project.get("scripts") if isinstance(project, dict) else None
    if isinstance(scripts, dict) and scripts:
        return scripts
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry_scripts = poetry.get("scripts") if isinstance(poetry, dict) else None
    return poetry_scripts if isinstance(poetry_scripts, dict) else {}


def _api_apps(ctx: AuditContext) -> list[Evidence]:
    return ctx.memo("api_apps", lambda: _find_api_apps(ctx))


def _find_api_apps(ctx: AuditContext) -> list[Evidence]:
    found: list[Evidence] = []
    for mod in ctx.source_modules:
        for name, call in mod.index.calls:
            if name in API_FACTORIES:
                found.append(ev(f"web app created with {name}()", mod.rel, call.lineno))
        for imported, line in mod.index.imports:
            if imported.split(".")[0] in API_IMPORTS:
                found.append(ev(f"serving library {imported} imported", mod.rel, line))
    return found


@check("entry_point", "A way to run it (CLI or API entry point)", group=GROUP, weight=6)
def entry_point(ctx: AuditContext) -> Outcome:
    evidence: list[Evidence] = []
    py = ctx.pyproject
    if py is not None and py.error:
        evidence.append(ev(f"pyproject.toml is not usable: {py.error}", py.rel, py.line))
    elif py is not None and isinstance(py.data, dict):
        scripts = _scripts(py.data)
        if scripts:
            text = ctx.files.read_text(py.rel) or ""
            line = line_of(text, r"^\[(project\.scripts|tool\.poetry\.scripts)\]", flags=re.M)
            names = ", ".join(sorted(scripts)[:3])
            evidence.append(ev(f"console script(s): {names}", py.rel, line))
            return Outcome("pass", f"installable command: {names}", evidence)
    mains = [e for e in ctx.source_files if e.name == "__main__.py"]
    if mains:
        return Outcome("pass", "runnable with python -m", [ev("package __main__", mains[0].rel, 1)])
    apps = _api_apps(ctx)
    if apps:
        return Outcome("pass", "an API entry point", apps[:3])
    guards: list[Evidence] = []
    for mod in ctx.source_modules:
        if mod.tree is None:
            continue
        for node in mod.tree.body:
            if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
                guards.append(
                    ev("script guarded by if __name__ == '__main__'", mod.rel, node.lineno)
                )
                break
        else:
            # A plain script (train.py calling main() or fitting a model at the top level) is
            # something to run too, only not an installable command.
            calls = [
                n
                for n in mod.tree.body
                if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
            ]
            if calls and "/" not in mod.rel.removeprefix("scripts/"):
                guards.append(
                    ev("script that runs its code at the top level", mod.rel, calls[0].lineno)
                )
    if guards:
        return Outcome(
            "warn",
            f"only scripts ({len(guards)}), no installable command",
            evidence + guards[:3],
            fix="Declare a command in pyproject.toml under [project.scripts] "
            '(e.g. `mytool = "mypkg.cli:main"`) so `pip install .` gives a runnable tool.',
        )
    return Outcome(
        "fail",
        "nothing to run: no console script, __main__, API app or script",
        evidence,
        fix="Add a CLI (argparse or typer) exposed under [project.scripts] in pyproject.toml, "
        "or a FastAPI app, so a reviewer can run the project with one command.",
    )


@check("serving", "A serving or batch-inference path", group=GROUP, weight=7)
def serving(ctx: AuditContext) -> Outcome:
    apps = _api_apps(ctx)
    batch: list[Evidence] = []
    for mod in ctx.source_modules:
        for fn in mod.index.functions:
            if BATCH_NAMES.match(fn.name):
                batch.append(ev(f"inference function {fn.name}()", mod.rel, fn.lineno))
    if apps and batch:
        return Outcome("pass", "an API and a batch/inference function", apps[:2] + batch[:2])
    if apps:
        return Outcome("pass", "an API serves the model", apps[:3])
    if batch:
        return Outcome("pass", "a batch-inference function", batch[:3])
    return Outcome(
        "fail",
        "no API and no predict/score/forecast function found",
        fix="Add a `predict` function that loads the saved model and scores new rows, then "
        "expose it as a CLI command or a FastAPI endpoint (`POST /predict`).",
    )


TEMPLATE_SUFFIXES = (".tmpl", ".template", ".j2", ".jinja", ".example", ".sample", ".in")


def _dockerfiles(ctx: AuditContext) -> list[str]:
    names = [
        e.rel
        for e in ctx.files.entries
        if (
            e.name == "Dockerfile"
            or e.name.endswith(".Dockerfile")
            or e.name.startswith("Dockerfile.")
        )
        and not e.name.endswith(TEMPLATE_SUFFIXES)  # a template is not a Dockerfile yet
    ]
    return sorted(names, key=lambda rel: (rel.count("/"), rel))


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments) with backslash continuations joined."""
    out: list[tuple[int, str, str]] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        word, _, rest = buffer.partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buffer = ""
    if buffer:
        word, _, rest = buffer.partition(" ")
        out.append((start, word.upper(), rest.strip()))
    return out


@check("dockerfile", "A Dockerfile following best practice", group=GROUP, weight=6)
def dockerfile(ctx: AuditContext) -> Outcome:
    candidates = _dockerfiles(ctx)
    if not candidates:
        return Outcome(
            "fail",
            "no Dockerfile",
            fix="Add a Dockerfile: a pinned slim base (python:3.11.x-slim), `pip install "
            "--no-cache-dir`, a non-root USER and a HEALTHCHECK if it serves HTTP.",
        )
    rel = candidates[0]
    text = ctx.files.read_text(rel)
    if text is None:
        return Outcome("warn", "Dockerfile could not be read", [ev("unreadable", rel)])
    steps = _instructions(text)
    issues: list[Evidence] = []
    froms = [(n, args) for n, word, args in steps if word == "FROM"]
    if not froms:
        return Outcome(
            "fail",
            "Dockerfile has no FROM instruction",
            [ev("no FROM", rel)],
            fix="Start the Dockerfile with `FROM python:3.11.x-slim`.",
        )
    last_from_line, last_from = froms[-1]
    image = last_from.split()[0] if last_from.split() else ""
    image = image.split("=", 1)[-1] if image.startswith("--") else image
    if "@sha256:" not in image:
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        stage_names = {args.split()[-1] for _, args in froms if " as " in args.lower()}
        if image not in stage_names and (not tag or tag == "latest"):
            issues.append(ev(f"base image {image} is not pinned to a version", rel, last_from_line))
        elif image not in stage_names and not any(
            word in image for word in ("slim", "alpine", "distroless", "minimal", "micro")
        ):
            issues.append(ev(f"base image {image} is not a slim variant", rel, last_from_line))
    after_last = [s for s in steps if s[0] >= last_from_line]
    users = [(n, args) for n, word, args in after_last if word == "USER"]
    if not users or users[-1][1].split(":")[0] in {"root", "0"}:
        issues.append(ev("the container runs as root (no USER after the last FROM)", rel))
    env_no_cache = any(
        word in {"ENV", "ARG"} and "PIP_NO_CACHE_DIR" in args for _, word, args in steps
    )
    for n, word, args in steps:
        if word != "RUN":
            continue
        pip = re.search(r"\bpip3?\s+install\b", args)
        if pip and "--no-cache-dir" not in args and not env_no_cache:
            issues.append(ev("pip install without --no-cache-dir", rel, n))
        if re.search(r"apt-get\s+install", args) and "/var/lib/apt/lists" not in args:
            issues.append(ev("apt-get install without removing /var/lib/apt/lists", rel, n))
    serves = any(word == "EXPOSE" for _, word, _ in after_last) or any(
        word in {"CMD", "ENTRYPOINT"} and any(s in args for s in SERVER_WORDS)
        for _, word, args in after_last
    )
    if serves and not any(word == "HEALTHCHECK" for _, word, _ in after_last):
        issues.append(ev("serves HTTP but has no HEALTHCHECK", rel))
    if ctx.files.get(".dockerignore") is None:
        issues.append(ev("no .dockerignore: the build context carries .git, data and caches"))
    if not issues:
        return Outcome("pass", f"{rel}: pinned slim base, non-root, no pip cache", [ev("ok", rel)])
    return Outcome(
        "warn",
        f"{rel} has {len(issues)} issue(s)",
        issues,
        fix="Pin a slim base (python:3.11.x-slim), `pip install --no-cache-dir`, add "
        "`RUN useradd --create-home app` + `USER app`, a HEALTHCHECK for servers and a "
        ".dockerignore.",
    )


_REQ_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-\[\],]*)\s*(.*)$")


def _pinned(spec: str) -> bool:
    """A dependency spec pinned to one version (``==``/``===``, or a hashed/URL requirement)."""
    return "==" in spec or "@" in spec or "--hash" in spec


def _requirement_specs(text: str) -> list[tuple[int, str]]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        out.append((number, line))
    return out


@check("reproducible_env", "A reproducible environment (lock file or pins)", group=GROUP, weight=6)
def reproducible_env(ctx: AuditContext) -> Outcome:
    locks = [e.rel for e in ctx.files.entries if e.name in LOCK_FILES]
    if locks:
        return Outcome("pass", f"lock file {locks[0]}", [ev("lock file", locks[0])])
    specs: list[tuple[str, int | None, str]] = []
    evidence: list[Evidence] = []
    py = ctx.pyproject
    if py is not None and py.error:
        evidence.append(ev(f"pyproject.toml is not usable: {py.error}", py.rel, py.line))
    elif py is not None and isinstance(py.data, dict):
        project = py.data.get("project")
        text = ctx.files.read_text(py.rel) or ""
        if isinstance(project, dict):
            deps = project.get("dependencies")
            groups = project.get("optional-dependencies")
            all_deps = list(deps) if isinstance(deps, list) else []
            if isinstance(groups, dict):
                for group_deps in groups.values():
                    if isinstance(group_deps, list):
                        all_deps.extend(group_deps)
            for dep in all_deps:
                if isinstance(dep, str):
                    specs.append((py.rel, line_of(text, re.escape(dep)), dep))
    for entry in ctx.files.entries:
        if (
            entry.name.startswith("requirements")
            and entry.suffix in {"txt", "in"}
            and (entry.rel.count("/") <= 1)
        ):
            text = ctx.files.read_text(entry.rel) or ""
            specs.extend((entry.rel, n, line) for n, line in _requirement_specs(text))
    env_file = ctx.files.find("environment.yml", "environment.yaml")
    if env_file is not None:
        parsed = ctx.yaml(env_file.rel)
        if parsed.error:
            evidence.append(ev(parsed.error, env_file.rel, parsed.line))
        elif isinstance(parsed.data, dict) and isinstance(parsed.data.get("dependencies"), list):
            for dep in parsed.data["dependencies"]:
                if isinstance(dep, str):
                    pinned = "==" in dep or re.search(r"[^=<>!]=\d", dep) is not None
                    specs.append((env_file.rel, None, dep.replace("=", "==") if pinned else dep))
    if not specs:
        return Outcome(
            "fail",
            "no declared dependencies (no pyproject dependencies, requirements or lock file)",
            evidence,
            fix="Declare dependencies with exact versions: `pip freeze > requirements.txt`, or "
            "pin them in pyproject.toml, or commit a lock file (uv lock / poetry lock).",
        )
    loose = [(rel, n, spec) for rel, n, spec in specs if not _pinned(spec)]
    share = 1 - len(loose) / len(specs)
    evidence += [ev(f"not pinned: {spec}", rel, n) for rel, n, spec in loose[:6]]
    if share >= 0.9:
        return Outcome(
            "pass", f"{len(specs) - len(loose)} of {len(specs)} dependencies pinned", evidence
        )
    return Outcome(
        "warn" if share >= 0.3 else "fail",
        f"only {len(specs) - len(loose)} of {len(specs)} dependencies pinned",
        evidence,
        fix="Pin exact versions (`pandas==2.2.3`) or commit a lock file, so the results in the "
        "README can be reproduced next year.",
    )
