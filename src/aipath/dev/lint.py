"""The static contract lint: what ``dev check`` verifies before it runs anything.

Running a lab's checks takes seconds; reading its files takes milliseconds and catches the
slips an author makes most (a test marked with a task the README does not have, a task nobody
checks, a starter function that already does the work, too few mistakes).  Each problem says
how to fix it, in the manner of rustlings' `dev check`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from aipath.labs import Lab

__all__ = ["MIN_ALTERNATIVES", "MIN_MISTAKES", "lint_lab", "readme_tasks", "test_tasks"]

# The contract asks every lab for 6 mistakes and 2 alternatives (a blind review's new wrong and
# right answers become most of them).
MIN_MISTAKES = 6
MIN_ALTERNATIVES = 2
MIN_HINTS = 3

_TASK_HEADING = re.compile(r"^##\s+(\d+)\.\s+\S", re.MULTILINE)


def readme_tasks(readme: Path) -> list[int]:
    """Task numbers from the README's ``## N. Title`` headings, in order."""
    return [int(m.group(1)) for m in _TASK_HEADING.finditer(readme.read_text(encoding="utf-8"))]


def _task_mark(decorator: ast.expr) -> int | bool | None:
    """N for ``@pytest.mark.task(N)``; True for a task mark without a plain int; None otherwise."""
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    if not (isinstance(func, ast.Attribute) and func.attr == "task"):
        return None
    if decorator.args and isinstance(decorator.args[0], ast.Constant):
        value = decorator.args[0].value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return True


def test_tasks(checks: Path) -> dict[str, int | None]:
    """``{test function name: its task number (None when unmarked)}`` in file order."""
    tree = ast.parse(checks.read_text(encoding="utf-8"))
    found: dict[str, int | None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            task: int | None = None
            for decorator in node.decorator_list:
                mark = _task_mark(decorator)
                if isinstance(mark, int) and not isinstance(mark, bool):
                    task = mark
            found[node.name] = task
    return found


def _functions(path: Path) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    out[f"{node.name}.{item.name}"] = item
    return out


def _raises_not_implemented(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Raise) and child.exc is not None:
            target = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                return True
    return False


def lint_lab(lab: Lab) -> list[str]:
    """Every contract problem of one lab, each with how to fix it (empty when it is clean)."""
    problems: list[str] = []
    try:
        tasks = readme_tasks(lab.readme)
    except OSError:
        return ["README.md cannot be read"]
    if not tasks:
        problems.append("README.md has no task headings: write each task as '## 1. Title'")
    elif tasks != list(range(1, len(tasks) + 1)):
        problems.append(f"README.md numbers its tasks {tasks}: number them 1, 2, 3, … in order")
    try:
        marks = test_tasks(lab.checks)
    except SyntaxError as exc:
        return [*problems, f"checks.py line {exc.lineno}: {exc.msg}"]
    if not marks:
        problems.append("checks.py defines no test functions (def test_…)")
    for name, task in marks.items():
        if task is None:
            problems.append(
                f"checks.py {name} has no @pytest.mark.task(N): mark it with the task it checks"
            )
        elif task not in tasks:
            problems.append(
                f"checks.py {name} is marked task {task}, but README.md has no '## {task}.' "
                "heading: add the task or fix the mark"
            )
    marked = {t for t in marks.values() if t is not None}
    for task in tasks:
        if task not in marked:
            problems.append(
                f"task {task} of README.md is checked by no test: add a test marked "
                f"@pytest.mark.task({task})"
            )
    order = [t for t in marks.values() if t is not None]
    if order != sorted(order):
        problems.append("checks.py tests are not in task order: keep them sorted by task")
    # The starter must read as not attempted: its TODO bodies raise NotImplementedError — unless
    # the checks decide "not attempted" themselves (a lab whose starter is code to annotate or a
    # git repository to operate on raises NotImplementedError from checks.py).
    checks_decide = _raises_not_implemented(ast.parse(lab.checks.read_text(encoding="utf-8")))
    if not lab.manifest.dev_apply and not checks_decide:
        try:
            starter = _functions(lab.starter)
        except SyntaxError as exc:
            return [*problems, f"{lab.starter.name}: line {exc.lineno}: {exc.msg}"]
        if not any(_raises_not_implemented(node) for node in starter.values()):
            problems.append(
                f"the starter {lab.starter.name} has no function that raises "
                "NotImplementedError: every TODO body should `raise NotImplementedError`"
            )
    if len(lab.manifest.hints) < MIN_HINTS:
        problems.append(f"lab.toml has {len(lab.manifest.hints)} hints: write at least {MIN_HINTS}")
    need_mistakes = MIN_MISTAKES
    if len(lab.mistakes()) < need_mistakes:
        problems.append(
            f"has {len(lab.mistakes())} mistakes; the contract asks for at least "
            f"{need_mistakes}: add files to mistakes/ with '# expect: <text>' lines"
        )
    need_alternatives = MIN_ALTERNATIVES
    if len(lab.alternatives()) < need_alternatives:
        problems.append(
            f"has {len(lab.alternatives())} alternative solutions; the contract asks for at "
            f"least {need_alternatives}: add correct solutions written differently to alternatives/"
        )
    return problems
