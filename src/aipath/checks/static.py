"""Static looks at the learner's code: loops where whole-array operations were asked, and calls
to ready-made functions where the task asks the learner to build the thing.

Some mistakes change no number (a loop is as correct as a vectorized expression; calling
``scipy.stats.ttest_ind`` gives the right p-value), so only the code shows them.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aipath.checks.failure import fail

__all__ = [
    "called_names",
    "forbid_calls",
    "forbid_imports",
    "imported_modules",
    "module_names",
    "no_loops",
]


def called_names(tree: ast.AST) -> list[tuple[str, int]]:
    """Every name the code calls or imports, as ``(last dotted part, line)``.

    ``np.linalg.lstsq(...)``, ``from numpy.linalg import lstsq`` and ``lstsq = np.linalg.lstsq``
    all yield ``"lstsq"``: a ban by name cannot be dodged by importing it differently.
    """
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.append((node.attr, node.lineno))
        elif isinstance(node, ast.Name):
            found.append((node.id, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found.append((alias.name, node.lineno))
            if node.module:
                for part in node.module.split("."):
                    found.append((part, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                for part in alias.name.split("."):
                    found.append((part, node.lineno))
    return found


def module_names(
    tree: ast.AST, modules: Iterable[str], *, scope: ast.AST | None = None
) -> list[tuple[str, str, int]]:
    """Every name the code takes from one of ``modules``, as ``(name, dotted path, line)``.

    ``from scipy.stats import entropy``, ``scipy.stats.entropy(...)``, ``import scipy.stats as
    st; st.entropy(...)`` and ``from scipy import stats; stats.entropy(...)`` all yield
    ``("entropy", "scipy.stats.entropy", line)`` for ``modules=["scipy"]``; a function of the
    learner's own that happens to be called ``entropy`` does not.  Imports are read from the
    whole ``tree``; with ``scope`` (one function of it) only the uses inside it are listed.
    """
    roots = tuple(modules)

    def inside(dotted: str) -> bool:
        return any(dotted == root or dotted.startswith(f"{root}.") for root in roots)

    aliases: dict[str, str] = {}  # local name -> the dotted path it stands for
    found: list[tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if inside(alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    aliases[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and inside(node.module):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = dotted
                if scope is None:
                    found.append((alias.name, dotted, node.lineno))
    for node in ast.walk(scope if scope is not None else tree):
        if isinstance(node, ast.Name) and scope is not None and node.id in aliases:
            dotted = aliases[node.id]
            found.append((dotted.rsplit(".", 1)[-1], dotted, node.lineno))
        if not isinstance(node, ast.Attribute):
            continue
        parts = [node.attr]
        value = node.value
        while isinstance(value, ast.Attribute):
            parts.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in aliases:
            dotted = ".".join([aliases[value.id], *reversed(parts)])
            if inside(dotted):
                found.append((node.attr, dotted, node.lineno))
    return sorted(found, key=lambda item: item[2])


def forbid_calls(
    learner_file: Path | str,
    names: Iterable[str],
    why: str,
    *,
    within: str | None = None,
    modules: Iterable[str] | None = None,
) -> None:
    """Fail when the learner's file (or one function of it) uses any of ``names``.

    ``why`` finishes the sentence "task N asks you to …" and should say what the learner is to
    build and what the check compares it with.  ``within`` limits the look to one top-level
    function, so a ready-made call elsewhere (in a task that allows it) is fine.  ``modules``
    bans the names only as they come from those packages (``modules=["scipy"]``: scipy's
    ``entropy`` is banned, the learner's own ``entropy`` is not); without it any use of the
    name counts, however it was imported.
    """
    banned = set(names)
    tree: ast.AST = ast.parse(Path(learner_file).read_text(encoding="utf-8"))
    module = tree
    if within is not None:
        scope = next(
            (
                node
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == within
            ),
            None,
        )
        if scope is None:
            return
        tree = scope
    where = f" in {within}" if within else ""
    if modules is not None:
        inner = tree if within is not None else None
        for name, dotted, line in module_names(module, modules, scope=inner):
            if name in banned:
                fail(f"your code uses `{dotted}`{where} (line {line}); {why}")
        return
    for name, line in called_names(tree):
        if name in banned:
            fail(f"your code uses `{name}`{where} (line {line}); {why}")


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """Every module the code imports, as ``(dotted name, line)`` (relative imports left out)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return sorted(found, key=lambda item: item[1])


def forbid_imports(learner_file: Path | str, packages: Iterable[str], why: str) -> None:
    """Fail when the learner's file imports any of ``packages`` (or a module inside one).

    ``forbid_imports(learner_file, ["sklearn", "scipy"], "this lab builds the metrics from
    NumPy alone")`` rejects ``import sklearn``, ``from sklearn.metrics import f1_score`` and
    ``import scipy.stats as st`` alike.
    """
    banned = set(packages)
    tree = ast.parse(Path(learner_file).read_text(encoding="utf-8"))
    for module, line in imported_modules(tree):
        parts = module.split(".")
        if any(".".join(parts[:n]) in banned for n in range(1, len(parts) + 1)):
            fail(f"your file imports {module} (line {line}); {why}")


def _only_raises_not_implemented(tree: ast.Module) -> bool:
    """True for an untouched starter body: (docstring) + raise NotImplementedError."""
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if len(functions) != 1:
        return False
    body = [
        n
        for n in functions[0].body
        if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    target = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(target, ast.Name) and target.id == "NotImplementedError"


def no_loops(
    func: Callable[..., Any], *, name: str | None = None, allow_comprehensions: bool = False
) -> None:
    """Reject Python-level loops in a function that the task asks to vectorize."""
    label = name or getattr(func, "__name__", "function")
    try:
        source = textwrap.dedent(inspect.getsource(func))
        first_line = inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return  # source unavailable (a builtin or a lambda from elsewhere): nothing to inspect
    tree = ast.parse(source)
    if _only_raises_not_implemented(tree):
        raise NotImplementedError(f"{label} is still the starter's TODO")
    loops: tuple[type[ast.AST], ...] = (ast.For, ast.While, ast.AsyncFor)
    if not allow_comprehensions:
        loops += (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    for node in ast.walk(tree):
        if isinstance(node, loops):
            kind = {
                ast.For: "a `for` loop",
                ast.AsyncFor: "an `async for` loop",
                ast.While: "a `while` loop",
            }.get(type(node), "a comprehension")
            line = first_line + getattr(node, "lineno", 1) - 1
            fail(
                f"{label} uses {kind} at line {line}; this task asks for whole-array "
                "operations (broadcasting, ufuncs, axis= arguments) instead"
            )
