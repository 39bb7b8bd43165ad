"""aipath.checks.static and aipath.checks.calls: code bans, loop bans, calling learner code."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aipath.checks import (
    LEARNER_ERRORS,
    CheckFailure,
    call_learner,
    called_names,
    forbid_calls,
    forbid_imports,
    imported_modules,
    module_names,
    no_loops,
    raised,
)

LEARNER = """\
import numpy as np
import scipy.stats as st
from scipy import special
from scipy.special import logsumexp as lse


def entropy(p):
    return -np.sum(p * np.log(p))


def kl(p, q):
    return entropy(p) - entropy(q) + lse(q)


def t_test(a, b):
    return st.ttest_ind(a, b)


def lstsq_fit(A, b):
    solve = np.linalg.lstsq
    return solve(A, b)


def softmax(x):
    return np.exp(special.log_softmax(x))
"""


@pytest.fixture
def learner_file(tmp_path: Path) -> Path:
    path = tmp_path / "exercise.py"
    path.write_text(LEARNER, encoding="utf-8")
    return path


def message(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(CheckFailure) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_called_names_sees_every_spelling() -> None:
    names = {name for name, _line in called_names(ast.parse(LEARNER))}
    assert {"lstsq", "ttest_ind", "logsumexp", "log_softmax", "entropy", "scipy"} <= names


def test_forbid_calls_by_name(learner_file: Path) -> None:
    forbid_calls(learner_file, ["eigh"], "build it")
    assert message(forbid_calls, learner_file, ["lstsq"], "solve the normal equations") == (
        "your code uses `lstsq` (line 20); solve the normal equations"
    )


def test_forbid_calls_within_one_function(learner_file: Path) -> None:
    forbid_calls(learner_file, ["lstsq"], "no", within="t_test")
    forbid_calls(learner_file, ["lstsq"], "no", within="no_such_function")
    assert message(forbid_calls, learner_file, ["lstsq"], "no", within="lstsq_fit") == (
        "your code uses `lstsq` in lstsq_fit (line 20); no"
    )


def test_forbid_calls_from_modules_spares_the_learners_own_names(learner_file: Path) -> None:
    # `entropy` is the learner's own function: without modules= it would count.
    assert "`entropy`" in message(forbid_calls, learner_file, ["entropy"], "write it")
    forbid_calls(learner_file, ["entropy"], "write it", modules=["scipy"])
    assert message(forbid_calls, learner_file, ["ttest_ind"], "write it", modules=["scipy"]) == (
        "your code uses `scipy.stats.ttest_ind` (line 16); write it"
    )
    assert message(forbid_calls, learner_file, ["logsumexp"], "write it", modules=["scipy"]) == (
        "your code uses `scipy.special.logsumexp` (line 4); write it"
    )
    assert message(
        forbid_calls, learner_file, ["logsumexp"], "write it", modules=["scipy"], within="kl"
    ) == ("your code uses `scipy.special.logsumexp` in kl (line 12); write it")
    assert message(forbid_calls, learner_file, ["log_softmax"], "write it", modules=["scipy"]) == (
        "your code uses `scipy.special.log_softmax` (line 25); write it"
    )
    forbid_calls(learner_file, ["lstsq"], "x", modules=["scipy"])  # numpy's is not scipy's


def test_module_names() -> None:
    found = module_names(ast.parse(LEARNER), ["scipy"])
    assert ("ttest_ind", "scipy.stats.ttest_ind", 16) in found
    assert ("logsumexp", "scipy.special.logsumexp", 4) in found
    assert all(dotted.startswith("scipy.") for _name, dotted, _line in found)


def test_forbid_imports(learner_file: Path) -> None:
    forbid_imports(learner_file, ["sklearn", "torch"], "NumPy only")
    assert message(forbid_imports, learner_file, ["scipy"], "NumPy only") == (
        "your file imports scipy.stats (line 2); NumPy only"
    )
    assert message(forbid_imports, learner_file, ["scipy.special"], "NumPy only") == (
        "your file imports scipy.special (line 4); NumPy only"
    )
    assert imported_modules(ast.parse(LEARNER))[0] == ("numpy", 1)


# ----- no_loops --------------------------------------------------------------------------------


def vectorized(x: Any) -> Any:
    return x * 2


def looped(x: Any) -> Any:
    out = []
    for value in x:
        out.append(value * 2)
    return out


def comprehended(x: Any) -> Any:
    return [value * 2 for value in x]


def starter(x: Any) -> Any:
    """Double every value."""
    raise NotImplementedError  # TODO


def test_no_loops_passes_vectorized_code() -> None:
    no_loops(vectorized)
    no_loops(comprehended, allow_comprehensions=True)
    no_loops(len)  # no source to read: nothing to judge


def test_no_loops_names_the_loop_and_its_line() -> None:
    text = message(no_loops, looped)
    line = looped.__code__.co_firstlineno + 2
    assert text == (
        f"looped uses a `for` loop at line {line}; this task asks for whole-array operations "
        "(broadcasting, ufuncs, axis= arguments) instead"
    )
    assert message(no_loops, comprehended, name="double").startswith(
        "double uses a comprehension at line"
    )


def test_no_loops_on_the_starter_is_not_attempted() -> None:
    with pytest.raises(NotImplementedError, match="starter's TODO"):
        no_loops(starter)


def test_no_loops_reads_a_function_defined_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(
        textwrap.dedent("""\
        def f(x):
            i = 0
            while i < 3:
                i += 1
            return x
    """)
    )
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    assert message(no_loops, namespace["f"]).startswith("f uses a `while` loop at line 3")


# ----- calls -----------------------------------------------------------------------------------


def bad_fit(X: Any) -> Any:
    raise ValueError("Input X contains NaN.")


def todo() -> Any:
    raise NotImplementedError


def test_call_learner() -> None:
    assert call_learner("sum", sum, [1, 2]) == 3
    assert call_learner("round", round, 2.567, ndigits=1) == 2.6
    assert message(call_learner, "pipe.fit(X)", bad_fit, [1]) == (
        "pipe.fit(X) raised ValueError: Input X contains NaN."
    )
    assert message(call_learner, "pipe.fit(X)", bad_fit, [1], hint="Is NaN imputed?") == (
        "pipe.fit(X) raised ValueError: Input X contains NaN.. Is NaN imputed?"
    )
    with pytest.raises(NotImplementedError):
        call_learner("todo()", todo)
    with pytest.raises(ValueError):
        call_learner("pipe.fit(X)", bad_fit, [1], errors=(KeyError,))
    assert ValueError in LEARNER_ERRORS


def test_raised() -> None:
    error = raised(int, "x")
    assert isinstance(error, ValueError)
    assert raised(int, "3") is None
    assert isinstance(raised(bad_fit, None), ValueError)
    with pytest.raises(NotImplementedError):
        raised(todo)
