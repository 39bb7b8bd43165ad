"""Checks for p1-git: two Python helpers, and the practice repository read with git plumbing.

The repository is judged as committed, not as it sits in the working copy: file contents come
from `git cat-file`, history from `git rev-list`/`git merge-base`, and ignore rules and
attributes from the committed `.gitignore`/`.gitattributes` files, copied into an empty scratch
repository (with no global git configuration) where `git check-ignore` and `git check-attr` read
them.  So a rule that only exists on the learner's machine does not count, as it would not for
their teammates.  Tasks 2 and 3 are read on the branch `repo-hygiene` (on `main` until that
branch exists); task 4 reads everything again on `main`.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from aipath.checks import fail, matching_mistake
from aipath.checks.git import run_git

REPO_NAME = "practice-repo"
STATE = "aipath-practice.json"
BRANCH = "repo-hygiene"
FEATURE = "feature/tenure"
FEATURES_FILE = "src/features.py"
EXPECTED_NUMERIC = ["age", "monthly_charges", "support_calls", "tenure_months"]
DATA_PATHS = ("data/customers.csv", "data/raw/2026-02-extract.csv")
KEEP_PATHS = (
    "models/churn.pt",
    "models/churn.onnx",
    "src/features.py",
    "notebooks/explore.ipynb",
    "notebooks/explore.py",
    ".gitattributes",
)
MODEL_FILES = ("models/churn.pt", "models/churn.onnx")
LFS = {"filter": "lfs", "diff": "lfs", "merge": "lfs", "text": "unset"}
NOTEBOOK = "notebooks/explore.ipynb"
SCRIPT = "notebooks/explore.py"
MARKER = re.compile(r"^(<{7}|={7}|>{7})")


# ----- git access ----------------------------------------------------------------------------------


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[str, str] = json.loads((path / ".git" / STATE).read_text("utf-8"))
        self._rules: dict[str, Path] = {}
        self._cache: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run git once per distinct command: nothing changes the repository during a check."""
        if args not in self._cache:
            self._cache[args] = run_git(self.path, *args)
        return self._cache[args]

    def out(self, *args: str) -> str:
        result = self.git(*args)
        if result.returncode != 0:
            fail(f"`git {' '.join(args)}` failed in {REPO_NAME}: {result.stderr.strip()}")
        return result.stdout

    def rev(self, name: str) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
        return result.stdout.strip() or None

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.git("merge-base", "--is-ancestor", older, newer).returncode == 0

    def show(self, rev: str, path: str) -> str | None:
        result = self.git("cat-file", "-p", f"{rev}:{path}")
        return result.stdout if result.returncode == 0 else None

    def files(self, rev: str) -> list[str]:
        return [p for p in self.out("ls-tree", "-r", "-z", "--name-only", rev).split("\0") if p]

    def short(self, sha: str) -> str:
        return sha[:7]

    def merging(self) -> bool:
        return (self.path / ".git" / "MERGE_HEAD").exists()

    def rules(self, rev: str) -> Path:
        """A scratch repository holding only the ignore and attribute files committed at `rev`."""
        sha = self.rev(rev) or rev
        if sha not in self._rules:
            scratch = Path(tempfile.mkdtemp(prefix="rules-"))
            run_git(scratch, "init", "-q", home=scratch)
            for name in self.files(sha):
                if name.rsplit("/", 1)[-1] in (".gitignore", ".gitattributes"):
                    content = self.show(sha, name) or ""
                    target = scratch / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(content, encoding="utf-8")
            self._rules[sha] = scratch
        return self._rules[sha]

    def ignored(self, rev: str, paths: tuple[str, ...]) -> dict[str, bool]:
        scratch = self.rules(rev)
        result = run_git(
            scratch,
            "check-ignore",
            "--no-index",
            "--non-matching",
            "--verbose",
            "--",
            *paths,
            home=scratch,
        )
        verdict = dict.fromkeys(paths, False)
        for line in result.stdout.splitlines():
            left, _, path = line.partition("\t")
            pattern = left.split(":", 2)[2] if left.count(":") >= 2 else ""
            verdict[path] = left != "::" and not pattern.startswith("!")
        return verdict

    def attributes(self, rev: str, paths: tuple[str, ...]) -> dict[str, dict[str, str]]:
        scratch = self.rules(rev)
        result = run_git(scratch, "check-attr", *LFS, "--", *paths, home=scratch)
        found: dict[str, dict[str, str]] = {path: {} for path in paths}
        for line in result.stdout.splitlines():
            path, attribute, value = line.rsplit(": ", 2)
            found.setdefault(path, {})[attribute] = value
        return found


@pytest.fixture(scope="session")
def repo(workdir: Path) -> Repo:
    path = workdir / REPO_NAME
    error = workdir / f"{REPO_NAME}.error.txt"
    if not (path / ".git" / STATE).is_file() and error.is_file():
        fail(f"aipath could not generate {REPO_NAME}/: {error.read_text('utf-8').strip()}")
    if not (path / ".git" / STATE).is_file():
        fail(
            f"{REPO_NAME}/ is missing (or is not the repository aipath generated) in {workdir}: "
            "run `aipath reset p1-git` to generate a fresh one"
        )
    return Repo(path)


def work_ref(repo: Repo) -> str:
    """Where tasks 2 and 3 are read: the housekeeping branch once it exists."""
    return BRANCH if repo.rev(BRANCH) else "main"


# ----- task 1 --------------------------------------------------------------------------------------

CONFLICT_CASES: list[tuple[str, list[tuple[int, int]], str]] = [
    ("a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> feature/tenure\nd\n", [(2, 6)], "the example"),
    ("", [], "empty text"),
    ("x = 1\ny = 2\n", [], "a file without conflicts"),
    (
        "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\nok\n<<<<<<< HEAD\nc\n=======\nd\n>>>>>>> x\n",
        [(1, 5), (7, 11)],
        "two conflicts",
    ),
    ("top\n<<<<<<< HEAD\nleft\n=======\n", [(2, 4)], "a start without an end (runs to the end)"),
    ("a\r\n<<<<<<< HEAD\r\nb\r\n=======\r\nc\r\n>>>>>>> t\r\n", [(2, 6)], "\\r\\n line endings"),
    ("    <<<<<<< HEAD\nx\n    >>>>>>> t\n", [], "indented markers (not at the line start)"),
    ("=======\n>>>>>>> t\nx\n", [], "'=======' and '>>>>>>>' outside a conflict"),
    (
        "<<<<<<< HEAD\na\n||||||| base\nb\n=======\nc\n>>>>>>> t",
        [(1, 7)],
        "diff3 style, no final newline",
    ),
    ("<<<<<<< a\n<<<<<<< b\nx\n>>>>>>> c\nafter\n", [(1, 4)], "a second start inside a conflict"),
]


class _NoKey:
    def __repr__(self) -> str:
        return "<no such key>"


NO_KEY = _NoKey()


def _blocks(text: str, *, base: int = 1, last: int = 0, lines=str.splitlines) -> list:
    """The reference reading of conflicts, with knobs for the known slips."""
    rows = lines(text)
    blocks, start = [], None
    for number, line in enumerate(rows, start=base):
        if start is None:
            if line.startswith("<<<<<<<"):
                start = number
        elif line.startswith(">>>>>>>"):
            blocks.append((start, number + last))
            start = None
    if start is not None:
        blocks.append((start, len(rows) - 1 + base))
    return blocks


def _block_slips(text: str) -> dict[str, Any]:
    return {
        "0-based line numbers (the first line is line 1)": lambda: _blocks(text, base=0),
        "the block ending on the line before `>>>>>>>` (the end marker is its last line)": (
            lambda: _blocks(text, last=-1)
        ),
        "lines split with split('\\n') (a final newline adds an empty last line; "
        "use str.splitlines())": lambda: _blocks(text, lines=lambda t: t.split("\n")),
    }


@pytest.mark.task(1)
def test_conflict_blocks(learner):
    for text, want, what in CONFLICT_CASES:
        got = learner.conflict_blocks(text)
        try:
            normalized = [tuple(block) for block in got]
        except TypeError:
            fail(f"conflict_blocks(...) returned {got!r}; expected a list of (first, last) tuples")
        if normalized != want:
            slip = matching_mistake(normalized, _block_slips(text), exact=True)
            looks = f", which looks like {slip}" if slip else ""
            fail(f"conflict_blocks({text!r}) is {got!r}{looks}; expected {want!r} ({what})")


def require_task1(repo: Repo) -> None:
    if repo.rev("main") == repo.state["main"] and not repo.merging():
        raise NotImplementedError("main is as aipath generated it")
    if repo.merging():
        fail(
            "a merge is still in progress in practice-repo (.git/MERGE_HEAD exists): resolve the "
            "conflict, `git add src/features.py`, then `git commit` to finish it"
        )


@pytest.mark.task(1)
def test_feature_branch_merged(repo):
    require_task1(repo)
    main = repo.rev("main")
    assert main is not None
    if not repo.is_ancestor(repo.state["main"], main):
        fail(
            f"main no longer contains its own last commit {repo.short(repo.state['main'])} "
            '("Add support_calls"): was main reset or rewritten? Merge into main; do not replace it'
        )
    if not repo.is_ancestor(repo.state["feature"], main):
        fail(
            f"main does not contain feature/tenure's commit {repo.short(repo.state['feature'])}: "
            "on main, run `git merge feature/tenure` (a rebase, cherry-pick or squash copies the "
            "change but not the commit, and the history no longer shows that the branch landed)"
        )


def marker_lines(repo: Repo, rev: str) -> list[str]:
    result = repo.git("grep", "-n", "-I", "-E", r"^(<{7}|={7}|>{7})", rev, "--")
    found = []
    for line in result.stdout.splitlines():
        _, path, number, text = line.split(":", 3)
        found.append(f"{path}:{number} `{text.strip()}`")
    return found


def features_problems(repo: Repo, rev: str) -> list[str]:
    source = repo.show(rev, FEATURES_FILE)
    if source is None:
        return [f"{FEATURES_FILE} is missing on {rev}"]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"{FEATURES_FILE} on {rev} is not valid Python (line {exc.lineno}: {exc.msg})"]
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    numeric = values.get("NUMERIC")
    if not isinstance(numeric, list):
        return [f"{FEATURES_FILE} on {rev} no longer defines the NUMERIC list"]
    problems = []
    duplicates = sorted({name for name in numeric if numeric.count(name) > 1})
    if duplicates:
        problems.append(f"NUMERIC lists {duplicates} twice: keep each feature once")
    have = set(numeric)
    if "support_calls" in have and "tenure_months" not in have:
        problems.append(
            "NUMERIC lacks tenure_months from feature/tenure: it looks like the conflict was "
            "resolved by keeping only main's side (`--ours`), which drops your teammate's work"
        )
    elif "tenure_months" in have and "support_calls" not in have:
        problems.append(
            "NUMERIC lacks support_calls from main: it looks like the conflict was resolved by "
            "keeping only feature/tenure's side (`--theirs`)"
        )
    elif have != set(EXPECTED_NUMERIC):
        problems.append(
            f"NUMERIC is {numeric}; expected these four, in any order: {EXPECTED_NUMERIC}"
        )
    if values.get("CATEGORICAL") != ["plan", "region"] or values.get("TARGET") != "churned":
        problems.append("CATEGORICAL or TARGET changed: the merge should only combine the features")
    if repo.show(rev, "src/tenure.py") is None:
        problems.append("src/tenure.py, added on feature/tenure, is missing")
    return problems


@pytest.mark.task(1)
def test_conflict_resolved_keeping_both(repo):
    require_task1(repo)
    if not repo.is_ancestor(repo.state["feature"], repo.rev("main") or "main"):
        fail("merge feature/tenure into main first (see the check above)")
    markers = marker_lines(repo, "main")
    if markers:
        shown = "\n".join(f"  {m}" for m in markers[:8])
        fail(
            f"conflict markers are committed on main ({len(markers)} line(s)):\n{shown}\n"
            "Delete every marker line, keep the lines both sides need, then commit the fix "
            "(`python exercise.py conflicts FILE` finds them before you commit)"
        )
    problems = features_problems(repo, "main")
    if problems:
        fail(f"{FEATURES_FILE} on main after the merge: " + "; ".join(problems))


# ----- task 2 --------------------------------------------------------------------------------------


def require_task2(repo: Repo, ref: str) -> None:
    committed = set(repo.files(ref)) & {".gitignore", ".gitattributes"}
    local = [name for name in (".gitignore", ".gitattributes") if (repo.path / name).exists()]
    if not committed and not local:
        raise NotImplementedError("no .gitignore or .gitattributes yet")


def ignore_problems(repo: Repo, ref: str) -> list[str]:
    files = repo.files(ref)
    if not any(name.rsplit("/", 1)[-1] == ".gitignore" for name in files):
        return [
            f"no .gitignore is committed on {ref}: write one, then `git add .gitignore` and commit"
        ]
    problems = []
    verdict = repo.ignored(ref, (*DATA_PATHS, *KEEP_PATHS))
    missed = [path for path in DATA_PATHS if not verdict[path]]
    if missed:
        local = run_git(repo.path, "check-ignore", "--no-index", "-q", missed[0])
        caught = [path for path in DATA_PATHS if verdict[path]]
        if caught:
            where = (
                f" (it ignores {', '.join(caught)}, so the rule matches only some of what "
                "data/ holds — e.g. `data/*.csv` reaches neither subfolders nor other files)"
            )
        elif local.returncode == 0:
            where = (
                " (your working copy ignores it, through .git/info/exclude, a global rule or an "
                "uncommitted change: only a committed .gitignore reaches your teammates)"
            )
        else:
            where = ""
        problems.append(
            f"the .gitignore committed on {ref} does not ignore {', '.join(missed)}{where}: "
            "ignore the whole data/ folder"
        )
    wrongly = [path for path in KEEP_PATHS if verdict[path]]
    if wrongly:
        problems.append(
            f"the .gitignore committed on {ref} also ignores {', '.join(wrongly)}, which must "
            "stay in the repository: make the rule match data/ only"
        )
    return problems


def lfs_problems(repo: Repo, ref: str) -> list[str]:
    files = set(repo.files(ref))
    if not any(name.rsplit("/", 1)[-1] == ".gitattributes" for name in files):
        return [f"no .gitattributes is committed on {ref}"]
    problems = []
    found = repo.attributes(ref, (*MODEL_FILES, "src/features.py"))
    for path in MODEL_FILES:
        if all(found[path].get(attribute, "unspecified") == "unspecified" for attribute in LFS):
            pattern = "*" + Path(path).suffix
            problems.append(
                f"no rule in the .gitattributes committed on {ref} matches {path}: add the line "
                f"`{pattern} filter=lfs diff=lfs merge=lfs -text`"
            )
            continue
        wrong = [
            f"{attribute} is {found[path].get(attribute, 'unspecified')}"
            for attribute, value in LFS.items()
            if found[path].get(attribute) != value
        ]
        if wrong:
            problems.append(
                f"{path}: {', '.join(wrong)}; expected filter=lfs diff=lfs merge=lfs -text "
                "(text: unset comes from `-text`)"
            )
    if found["src/features.py"].get("filter") == "lfs":
        problems.append(
            "src/features.py also goes through LFS: route only the binary patterns "
            "(*.pt, *.onnx), or code stops being diffable"
        )
    untracked = [path for path in MODEL_FILES if path not in files]
    if untracked:
        problems.append(f"{', '.join(untracked)} not committed on {ref}: add the model files")
    return problems


@pytest.mark.task(2)
def test_data_is_ignored(repo):
    ref = work_ref(repo)
    require_task2(repo, ref)
    problems = ignore_problems(repo, ref)
    if problems:
        fail("; ".join(problems))


@pytest.mark.task(2)
def test_data_never_committed(repo):
    commits = repo.out("rev-list", "--reverse", "--branches", "--", "data").split()
    if not commits:
        require_task2(repo, work_ref(repo))
        return
    first = commits[0]
    paths = repo.out("ls-tree", "-r", "--name-only", first, "--", "data").split()
    subject = repo.out("log", "-1", "--format=%s", first).strip()
    branches = repo.out("branch", "--contains", first, "--format=%(refname:short)").split()
    fail(
        f"data is in the history: {', '.join(paths) or 'a data/ file'} is committed in "
        f'{repo.short(first)} ("{subject}"), reachable from {", ".join(branches)}. A file in '
        "history stays in every clone even after a later commit deletes it. Take it out of that "
        "commit before it goes anywhere: when it is the last commit, `git rm -r --cached data` "
        "then `git commit --amend`; otherwise start over with `aipath reset p1-git`"
    )


@pytest.mark.task(2)
def test_model_files_go_through_lfs(repo):
    ref = work_ref(repo)
    require_task2(repo, ref)
    problems = lfs_problems(repo, ref)
    if problems:
        fail("; ".join(problems))


# ----- task 3 --------------------------------------------------------------------------------------


def _notebook() -> dict[str, Any]:
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "m1",
                "metadata": {"tags": ["intro"]},
                "source": ["# Title\n", "text"],
                "attachments": {},
            },
            {
                "cell_type": "code",
                "execution_count": 7,
                "id": "c1",
                "metadata": {"scrolled": True, "tags": ["keep-me"]},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}],
                "source": ["print('hi')"],
            },
            {"cell_type": "raw", "id": "r1", "metadata": {}, "source": ["raw text"]},
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c2",
                "metadata": {},
                "outputs": [],
                "source": [],
            },
            {
                "cell_type": "code",
                "execution_count": 9,
                "id": "c3",
                "metadata": {},
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 9,
                        "metadata": {},
                        "data": {"text/plain": ["42"]},
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": "iVBORw0KGgo="},
                    },
                ],
                "source": ["6 * 7"],
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "jupytext": {"formats": "ipynb,py:percent"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.mark.task(3)
def test_strip_outputs(learner):
    notebook = _notebook()
    before = copy.deepcopy(notebook)
    got = learner.strip_outputs(notebook)
    if notebook != before:
        fail(
            "strip_outputs modified the notebook it was given: work on a copy "
            "(copy.deepcopy) and return the copy"
        )
    if not isinstance(got, dict):
        fail(f"strip_outputs returned {type(got).__name__}; expected a dict (the new notebook)")
    want = copy.deepcopy(before)
    for cell in want["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    if got.get("cells") is None or len(got["cells"]) != len(want["cells"]):
        fail(f"strip_outputs returned {len(got.get('cells') or [])} cells; expected all 5")
    for index, (have, expected) in enumerate(zip(got["cells"], want["cells"], strict=True)):
        if have != expected:
            kind = expected["cell_type"]
            differing = sorted(
                k for k in set(have) | set(expected) if have.get(k) != expected.get(k)
            )
            dropped = [k for k in differing if k in expected and k not in have]
            why = (
                f"{dropped} were deleted: a code cell keeps both keys, set to "
                '"outputs": [] and "execution_count": None (nbformat 4 requires them)'
                if kind == "code" and dropped
                else "only code cells lose their outputs and execution_count; everything else "
                "stays as it is"
            )
            fail(
                f"cell {index} ({kind}) differs in {differing}: got "
                f"{ {k: have.get(k, NO_KEY) for k in differing} }, expected "
                f"{ {k: expected.get(k, NO_KEY) for k in differing} } — {why}"
            )
    rest = {k: v for k, v in got.items() if k != "cells"}
    if rest != {k: v for k, v in want.items() if k != "cells"}:
        fail(
            "strip_outputs changed the notebook's metadata or format fields: keep them as they are"
        )


def require_task3(repo: Repo, ref: str) -> None:
    blob = repo.git("rev-parse", "--verify", "--quiet", f"{ref}:{NOTEBOOK}").stdout.strip()
    if blob == repo.state["notebook_blob"] and SCRIPT not in repo.files(ref):
        raise NotImplementedError("the notebook is as aipath generated it")


def code_cells(notebook: dict[str, Any]) -> list[str]:
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append(("".join(source) if isinstance(source, list) else source).strip())
    return cells


def percent_code_cells(text: str) -> list[str] | None:
    """Code cells of a jupytext percent script (None when it has no `# %%` cell marker)."""
    cells: list[tuple[bool, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            header = line[4:]
            cells.append(
                ("[markdown]" not in header and "[md]" not in header and "[raw]" not in header, [])
            )
        elif cells:
            cells[-1][1].append(line)
    if not cells:
        return None
    return ["\n".join(lines).strip() for is_code, lines in cells if is_code]


def notebook_problems(repo: Repo, ref: str) -> list[str]:
    text = repo.show(ref, NOTEBOOK)
    if text is None:
        return [f"{NOTEBOOK} is missing on {ref}"]
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"{NOTEBOOK} on {ref} is not valid JSON (line {exc.lineno}): {exc.msg}"]
    problems = []
    dirty = []
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") or []
        count = cell.get("execution_count")
        if outputs or count is not None:
            dirty.append(f"cell {index}: {len(outputs)} output(s), execution_count {count}")
    if dirty:
        problems.append(
            f"{NOTEBOOK} on {ref} still has outputs or execution counts in {len(dirty)} of "
            f"{len(code)} code cells ({'; '.join(dirty[:3])}{' …' if len(dirty) > 3 else ''}): "
            "strip them (`python exercise.py strip practice-repo/notebooks/explore.ipynb`) and "
            "commit"
        )
    original = json.loads(repo.out("cat-file", "-p", repo.state["notebook_blob"]))
    if code_cells(notebook) != code_cells(original):
        problems.append(
            f"the code cells of {NOTEBOOK} on {ref} are not the original ones: stripping "
            "removes outputs only, never code"
        )
    script = repo.show(ref, SCRIPT)
    if script is None:
        problems.append(
            f"{SCRIPT} is not committed on {ref}: pair the notebook with "
            "`jupytext --set-formats ipynb,py:percent practice-repo/notebooks/explore.ipynb` "
            "and commit both files"
        )
        return problems
    cells = percent_code_cells(script)
    if cells is None:
        problems.append(f"{SCRIPT} on {ref} has no `# %%` cell markers: it is not py:percent")
    elif cells != code_cells(notebook):
        differing = next(
            (
                i
                for i, (a, b) in enumerate(zip(cells, code_cells(notebook), strict=False))
                if a != b
            ),
            min(len(cells), len(code_cells(notebook))),
        )
        problems.append(
            f"{SCRIPT} and {NOTEBOOK} on {ref} disagree (code cell {differing}; the script has "
            f"{len(cells)} code cells, the notebook {len(code_cells(notebook))}): run "
            "`jupytext --sync` on the notebook and commit both files together"
        )
    formats = str(notebook.get("metadata", {}).get("jupytext", {}).get("formats", ""))
    if "py:percent" not in formats and not re.search(r"formats:.*py:percent", script):
        problems.append(
            f"{NOTEBOOK} on {ref} is not paired: its metadata has no jupytext formats. "
            "`jupytext --to py:percent` makes a one-off copy; `--set-formats ipynb,py:percent` "
            "pairs the two files so `jupytext --sync` keeps them in step"
        )
    return problems


@pytest.mark.task(3)
def test_notebook_stripped_and_paired(repo):
    ref = work_ref(repo)
    require_task3(repo, ref)
    problems = notebook_problems(repo, ref)
    if problems:
        fail("; ".join(problems))


# ----- task 4 --------------------------------------------------------------------------------------


def require_task4(repo: Repo, *, merged: bool = False) -> str:
    branch = repo.rev(BRANCH)
    if branch is None:
        raise NotImplementedError(f"no branch {BRANCH} yet")
    if merged and not repo.is_ancestor(branch, repo.rev("main") or "main"):
        raise NotImplementedError(f"{BRANCH} is not merged yet (the check above says so)")
    return branch


@pytest.mark.task(4)
def test_branch_holds_the_work_and_is_merged(repo):
    if repo.rev(BRANCH) is None:
        on_main = set(repo.files("main")) & {".gitignore", ".gitattributes"}
        if on_main:
            fail(
                f"{' and '.join(sorted(on_main))} are committed on main, but there is no branch "
                f"{BRANCH}: tasks 2 and 3 go on their own branch (`git switch -c {BRANCH}` from "
                "main after task 1), merged into main at the end"
            )
    branch = require_task4(repo)
    if not repo.out("log", "--format=%H", BRANCH, "--", ".gitattributes").split():
        fail(
            f"no commit on {BRANCH} adds .gitattributes: do the housekeeping of tasks 2 and 3 on "
            f"the {BRANCH} branch (`git switch {BRANCH}`), then merge it"
        )
    if not repo.is_ancestor(branch, repo.rev("main") or "main"):
        fail(
            f"{BRANCH} is not merged into main yet: `git switch main`, then "
            f"`git merge {BRANCH}` (a fast-forward or a merge commit, both fine)"
        )


@pytest.mark.task(4)
def test_main_has_everything(repo):
    require_task4(repo, merged=True)
    problems = [f"conflict marker {m}" for m in marker_lines(repo, "main")[:3]]
    problems += features_problems(repo, "main")
    problems += ignore_problems(repo, "main") + lfs_problems(repo, "main")
    problems += notebook_problems(repo, "main")
    if problems:
        fail("main is not complete yet: " + "; ".join(problems))


@pytest.mark.task(4)
def test_repository_is_clean(repo):
    require_task4(repo, merged=True)
    if repo.merging():
        fail("a merge is in progress (.git/MERGE_HEAD exists): finish it with `git commit`")
    for folder in ("rebase-merge", "rebase-apply"):
        if (repo.path / ".git" / folder).exists():
            fail("a rebase is in progress: finish it (`git rebase --continue`) or abort it")
    status = repo.out("status", "--porcelain").splitlines()
    if status:
        shown = "\n".join(f"  {line}" for line in status[:8])
        fail(
            f"the working copy has {len(status)} uncommitted change(s) or untracked file(s):\n"
            f"{shown}\nCommit what belongs in the repository; ignore what does not"
        )
