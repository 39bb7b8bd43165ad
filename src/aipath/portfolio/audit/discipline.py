"""Engineering discipline: tests, CI, lint, types, docs, ignore rules, licence, history."""

from __future__ import annotations

import ast
import re
from collections import Counter
from typing import Any

from aipath.portfolio.audit import gitrepo
from aipath.portfolio.audit.context import AuditContext, is_test_path
from aipath.portfolio.audit.lint import run_ruff
from aipath.portfolio.audit.models import Evidence, Status
from aipath.portfolio.audit.readme import TOPIC_LABELS, has_number
from aipath.portfolio.audit.registry import Outcome, check, ev
from aipath.portfolio.audit.sandbox import run_tests
from aipath.portfolio.audit.textutil import human_size, snippet

GROUP = "discipline"

TEST_COMMANDS = re.compile(
    r"\b(pytest|py\.test|make\s+(test|check|ci)|tox|nox|unittest|hatch\s+test|"
    r"poetry\s+run\s+pytest|uv\s+run\s+pytest)\b"
)
CI_FILES = (
    ".gitlab-ci.yml",
    ".travis.yml",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    ".circleci/config.yml",
)
VAGUE_MESSAGE = re.compile(
    r"^(wip|update[sd]?|fix(es|ed)?|changes?|stuff|misc|minor|tmp|temp|test(ing)?|asdf+|"
    r"commit|save|done|final|ok|more|edits?|[.\-_]+|[a-z])\W*$",
    re.I,
)
DATA_SUFFIXES = frozenset(
    {
        *("csv", "tsv", "parquet", "feather", "arrow", "xlsx", "xls", "pkl", "pickle"),
        *("joblib", "h5", "hdf5", "npy", "npz", "jsonl", "ndjson", "avro", "orc", "sqlite"),
        *("db", "zip", "gz", "tar", "bz2", "xz", "7z", "rar", "pt", "pth", "onnx"),
        *("safetensors", "ckpt", "bin"),
    }
)
LICENSE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "LICENCE.md", "COPYING")


def _test_functions(ctx: AuditContext) -> list[tuple[str, int, str]]:
    return ctx.memo("test_functions", lambda: _find_test_functions(ctx))


def _find_test_functions(ctx: AuditContext) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for mod in ctx.modules:
        if not is_test_path(mod.rel):
            continue
        for fn in mod.index.functions:
            if fn.name.startswith("test"):
                found.append((mod.rel, fn.lineno, fn.name))
    return found


@check("tests_present", "Tests present", group=GROUP, weight=8)
def tests_present(ctx: AuditContext) -> Outcome:
    tests = _test_functions(ctx)
    files = sorted({rel for rel, _, _ in tests})
    fix = (
        "Add pytest tests under tests/: data tests (schema, ranges, no leakage), model tests "
        "(beats a baseline, behaves sensibly on edited inputs) and a smoke test of the CLI/API."
    )
    if not tests:
        return Outcome("fail", "no test functions found", fix=fix)
    evidence = [ev(f"{sum(1 for t in tests if t[0] == rel)} tests", rel) for rel in files[:6]]
    if len(tests) < 3:
        return Outcome("warn", f"only {len(tests)} test(s)", evidence, fix=fix)
    return Outcome("pass", f"{len(tests)} tests in {len(files)} files", evidence)


@check("tests_pass", "Tests pass (--run-tests)", group=GROUP, weight=6)
def tests_pass(ctx: AuditContext) -> Outcome:
    if not ctx.run_tests:
        return Outcome("skip", "not run (pass --run-tests to run them in a sandbox)")
    if not _test_functions(ctx):
        return Outcome("fail", "there are no tests to run", fix="Write tests first.")
    run = run_tests(ctx.files, ctx.test_timeout_s)
    evidence = [ev(snippet(line, 160)) for line in run.tail.splitlines()[-6:] if line.strip()]
    if run.ok:
        return Outcome("pass", f"{run.summary} ({run.seconds:.1f} s)", evidence[-1:])
    return Outcome(
        "fail",
        run.summary,
        evidence,
        fix="Make `pytest` pass from a clean checkout (no local files, no network, no absolute "
        "paths); run it the way CI does.",
    )


def _ci_files(ctx: AuditContext) -> list[str]:
    found = [
        e.rel
        for e in ctx.files.entries
        if e.rel.startswith(".github/workflows/") and e.suffix in {"yml", "yaml"}
    ]
    found += [rel for rel in CI_FILES if ctx.files.get(rel) is not None]
    return sorted(found)


def _run_texts(node: Any) -> list[str]:
    """All strings in a parsed CI config (commands live in `run:`/`script:` values)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [t for value in node.values() for t in _run_texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _run_texts(value)]
    return []


@check("ci", "CI configuration that parses and runs the tests", group=GROUP, weight=6)
def ci(ctx: AuditContext) -> Outcome:
    files = _ci_files(ctx)
    fix = (
        "Add .github/workflows/ci.yml that installs the project and runs ruff and pytest on "
        "every push and pull request."
    )
    if not files:
        jenkins = ctx.files.get("Jenkinsfile")
        if jenkins is not None:
            text = ctx.files.read_text(jenkins.rel) or ""
            if TEST_COMMANDS.search(text):
                return Outcome("pass", "Jenkinsfile runs the tests", [ev("Jenkins", jenkins.rel)])
        return Outcome("fail", "no CI configuration", fix=fix)
    broken: list[Evidence] = []
    runs_tests: list[Evidence] = []
    valid: list[str] = []
    for rel in files:
        parsed = ctx.yaml(rel)
        if parsed.error:
            broken.append(ev(parsed.error, rel, parsed.line))
            continue
        data = parsed.data
        if not isinstance(data, dict) or (
            rel.startswith(".github/") and not isinstance(data.get("jobs"), dict)
        ):
            broken.append(ev("parses, but has no jobs mapping", rel))
            continue
        valid.append(rel)
        text = ctx.files.read_text(rel) or ""
        for command in _run_texts(data):
            match = TEST_COMMANDS.search(command)
            if match:
                line = next(
                    (n for n, t in enumerate(text.splitlines(), 1) if match.group(0) in t), None
                )
                runs_tests.append(ev(f"runs `{snippet(command, 60)}`", rel, line))
                break
    if runs_tests:
        status: Status = "pass" if not broken else "warn"
        return Outcome(
            status, f"{len(valid)} CI file(s); tests run in CI", runs_tests[:3] + broken, fix=fix
        )
    if valid:
        return Outcome(
            "warn",
            "CI configured but it never runs the tests",
            [ev("no pytest/make test step", rel) for rel in valid] + broken,
            fix="Add a step `run: pytest` (or `make test`) to the workflow.",
        )
    return Outcome("fail", "CI configuration does not parse", broken, fix=fix)


@check("lint", "Lint clean (ruff)", group=GROUP, weight=6)
def lint(ctx: AuditContext) -> Outcome:
    if not ctx.python_files and not ctx.files.with_suffix("ipynb"):
        return Outcome("skip", "no Python code to lint")
    run = run_ruff(ctx.root, ctx.files.special)
    if run.error:
        return Outcome(
            "warn",
            run.error,
            fix="Install ruff (`pip install ruff`) and run `ruff check .` locally.",
        )
    count = len(run.findings)
    codes = Counter(f.code for f in run.findings)
    top = ", ".join(f"{code}×{n}" for code, n in codes.most_common(5))
    evidence = [ev(f"{f.code} {f.message}", f.file, f.line) for f in run.findings[:8]]
    if run.isolated:
        evidence.insert(0, ev("the project's ruff configuration is broken; linted with defaults"))
    fix = "Run `ruff check --fix .` then fix the rest by hand; add ruff to pre-commit and CI."
    if count == 0:
        return Outcome("pass", "ruff reports no findings", evidence)
    if count <= 10:
        return Outcome("warn", f"{count} ruff finding(s): {top}", evidence, fix=fix)
    return Outcome("fail", f"{count} ruff findings: {top}", evidence, fix=fix)


def _public_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Public functions and methods, without pytest tests (``test_*`` and ``Test*`` classes):
    a test is not an API, and nobody annotates one."""
    out: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith(
            ("_", "test")
        ):
            out.append(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            continue
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not item.name.startswith("_") or item.name == "__init__"
                ):
                    out.append(item)
    return out


def _fully_annotated(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = fn.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if params and params[0].arg in {"self", "cls"}:
        params = params[1:]
    if args.vararg is not None:
        params.append(args.vararg)
    if args.kwarg is not None:
        params.append(args.kwarg)
    return all(p.annotation is not None for p in params) and (
        fn.returns is not None or fn.name == "__init__"
    )


@check("type_hints", "Type hints on public functions", group=GROUP, weight=5)
def type_hints(ctx: AuditContext) -> Outcome:
    total = 0
    missing: list[Evidence] = []
    unparsable: list[Evidence] = []
    for mod in ctx.source_modules:
        if mod.tree is None:
            unparsable.append(ev(mod.error or "not parsed", mod.rel, mod.line))
            continue
        for fn in _public_functions(mod.tree):
            total += 1
            if not _fully_annotated(fn):
                missing.append(ev(f"{fn.name}() lacks annotations", mod.rel, fn.lineno))
    if total == 0:
        return Outcome("skip", "no public functions to check", unparsable[:3])
    share = 1 - len(missing) / total
    summary = f"{total - len(missing)} of {total} public functions fully annotated ({share:.0%})"
    fix = "Annotate parameters and return types of public functions and run mypy in CI."
    evidence = missing[:6] + unparsable[:3]
    if share >= 0.9 and not unparsable:
        return Outcome("pass", summary, evidence)
    return Outcome("warn" if share >= 0.5 else "fail", summary, evidence, fix=fix)


@check("readme", "README with the sections reviewers look for", group=GROUP, weight=5)
def readme(ctx: AuditContext) -> Outcome:
    doc = ctx.readme
    if doc is None:
        return Outcome(
            "fail",
            "no README",
            fix="Write README.md with: problem and business impact, data, approach, results "
            "(with numbers), how to run, limitations.",
        )
    found: list[Evidence] = []
    missing: list[str] = []
    for topic, label in TOPIC_LABELS.items():
        section = doc.topic(topic)
        if section is None:
            missing.append(label)
        else:
            found.append(ev(f"{label}: “{section.title}”", doc.rel, section.line))
    results = doc.topic("results")
    if results is not None and not has_number(results.body):
        missing.append("numbers in the results section")
    fix = "Add README sections for: " + ", ".join(missing) + "." if missing else None
    summary = f"{6 - len([m for m in missing if m in TOPIC_LABELS.values()])} of 6 sections"
    if missing:
        summary += "; missing " + ", ".join(missing)
    if len(missing) <= 1 and "numbers in the results section" not in missing:
        return Outcome("pass", summary, found, fix=fix)
    return Outcome("warn" if len(missing) <= 3 else "fail", summary, found, fix=fix)


@check("gitignore", ".gitignore present", group=GROUP, weight=2)
def gitignore(ctx: AuditContext) -> Outcome:
    entry = ctx.files.get(".gitignore")
    fix = "Add a .gitignore covering __pycache__/, .venv/, .env, data/ and model artefacts."
    if entry is None:
        return Outcome("fail", "no .gitignore", fix=fix)
    text = ctx.files.read_text(entry.rel) or ""
    wanted = {"__pycache__": "__pycache__", "venv": "virtualenv folder", ".env": ".env files"}
    lacking = [label for needle, label in wanted.items() if needle not in text]
    if lacking:
        evidence = [ev(f"nothing ignores {label}", entry.rel) for label in lacking]
        return Outcome("warn", f".gitignore misses {', '.join(lacking)}", evidence, fix=fix)
    return Outcome("pass", ".gitignore covers caches, virtualenvs and .env", [ev("ok", entry.rel)])


@check("license", "A licence", group=GROUP, weight=2)
def license_file(ctx: AuditContext) -> Outcome:
    entry = ctx.files.find(*LICENSE_NAMES)
    if entry is not None:
        return Outcome("pass", f"{entry.rel}", [ev("licence file", entry.rel)])
    py = ctx.pyproject
    if py is not None and isinstance(py.data, dict):
        project = py.data.get("project")
        if isinstance(project, dict) and project.get("license"):
            return Outcome("warn", "licence named in pyproject.toml only", [ev("license", py.rel)])
    return Outcome(
        "fail",
        "no licence: nobody may legally reuse the code",
        fix="Add a LICENSE file (MIT or Apache-2.0 are common for portfolio projects).",
    )


GIANT_FILE = 1_000_000
GIANT_TOTAL = 5_000_000


def _data_suffix(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[-1].lower() in DATA_SUFFIXES


def _giant_data_commits(
    ctx: AuditContext, commits: list[gitrepo.Commit]
) -> list[tuple[gitrepo.Commit, list[tuple[str, int]]]]:
    """Commits that add a data file of 1 MB or more, or 5 MB of data files in total."""
    wanted = sorted({sha for c in commits for path, sha in c.files if _data_suffix(path)})
    sizes = gitrepo.blob_sizes(ctx.root, wanted[:20_000])
    flagged = []
    for commit in commits:
        data = [(p, sizes.get(sha, 0)) for p, sha in commit.files if _data_suffix(p)]
        if any(size >= GIANT_FILE for _, size in data) or sum(s for _, s in data) >= GIANT_TOTAL:
            flagged.append((commit, sorted(data, key=lambda item: -item[1])))
    return flagged


@check("commit_history", "Commit history (messages, no giant data commits)", group=GROUP, weight=5)
def commit_history(ctx: AuditContext) -> Outcome:
    if not ctx.is_git:
        return Outcome(
            "fail",
            "not a git repository",
            fix="`git init`, commit in small steps with messages that say why, push to GitHub.",
        )
    commits = ctx.commits
    if commits is None:
        return Outcome("warn", "git history could not be read", fix="Check `git log` works.")
    if not commits:
        return Outcome("fail", "no commits yet", fix="Commit the work: `git add -A && git commit`.")
    vague = [c for c in commits if len(c.subject) < 8 or VAGUE_MESSAGE.match(c.subject)]
    evidence = [ev(f"vague message “{c.subject}” ({c.sha[:8]})") for c in vague[:4]]
    giant = _giant_data_commits(ctx, commits)
    for c, data in giant:
        what = ", ".join(f"{path} ({human_size(size)})" for path, size in data[:3])
        evidence.append(ev(f"commit {c.sha[:8]} “{c.subject}” adds data: {what}"))
    summary = f"{len(commits)} commit(s)"
    if giant:
        return Outcome(
            "fail",
            f"{summary}; {len(giant)} commit(s) add bulk data",
            evidence,
            fix="Keep data out of git (download script, DVC or Git LFS) and rewrite history "
            "with git filter-repo if it is already committed.",
        )
    if vague and len(vague) / len(commits) > 0.3:
        return Outcome(
            "warn",
            f"{summary}; {len(vague)} with vague messages",
            evidence,
            fix="Write messages that say what changed and why (“Add time-ordered backtest”).",
        )
    return Outcome("pass", f"{summary} with descriptive messages", evidence)
