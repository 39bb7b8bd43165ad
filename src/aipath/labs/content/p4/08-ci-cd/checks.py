"""Checks for p4-ci-cd: an evaluation gate in Python and the GitHub Actions workflow around it.

The gate (tasks 1 and 2) is called on metric tables whose verdict is known: improvements, drops
just inside and just outside each tolerance, exact boundaries, missing and non-numeric values;
a wrong verdict is matched against the outputs of the usual mistakes (a loss compared as if
higher were better, absolute and relative tolerances swapped, a missing metric let through...).
`main` runs on files in a scratch folder; eval_gate.py then goes through the same ruff and mypy
the workflow runs.

The workflow (tasks 3 and 4) is read as GitHub reads it: YAML 1.2, validated against the GitHub
workflow JSON schema shipped in check-jsonschema (loaded from the installed package, never a
URL), then linted by the real actionlint binary (shellcheck and pyflakes integrations off, so
the verdict does not depend on what else is installed). The lab's own rules follow: triggers,
least-privilege permissions, pinned actions, concurrency, and the jobs' steps in order.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from aipath.checks import call_learner, fail, none_message
from aipath.checks.tools import run_tool

WORKFLOW = Path(".github") / "workflows" / "ci.yml"
TRAIN_OUTPUT = "metrics/candidate.json"
BASELINE_FILE = "metrics/baseline.json"
VERSIONS = ("3.11", "3.12")

# ----- task 1: regressions ------------------------------------------------------------------------

# name: (higher_is_better, tolerance, relative), the README's table
POLICY: dict[str, tuple[bool, float, bool]] = {
    "accuracy": (True, 0.01, False),
    "f1": (True, 0.02, False),
    "log_loss": (False, 0.05, True),
    "latency_ms_p95": (False, 0.25, True),
}
BASE = {"accuracy": 0.90, "f1": 0.88, "log_loss": 0.30, "latency_ms_p95": 40.0}
NAN, INF = float("nan"), float("inf")


def number(value: Any, inf: bool = False, strings: bool = False) -> float | None:
    """`value` as a float when it is a finite number; `inf` and `strings` are known mistakes."""
    if strings and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if inf:
        return None if math.isnan(value) else float(value)
    return float(value) if math.isfinite(value) else None


def judge(
    candidate: dict[str, Any],
    baseline: dict[str, Any],
    rules: dict[str, tuple[bool, float, bool]],
    flaw: str = "",
) -> set[str]:
    """The metrics that fail: the reference verdict, or (with `flaw`) a known mistake's."""
    failing = set()
    if flaw == "rules ignored":
        rules = POLICY
    for name, (higher, tolerance, relative) in rules.items():
        if name not in candidate or name not in baseline:
            if flaw == "missing passes":
                continue
            if flaw == "missing candidate passes" and name not in candidate:
                continue
            if flaw == "missing baseline passes" and name in candidate:
                continue
            failing.add(name)
            continue
        new, old = candidate[name], baseline[name]
        if flaw == "nan passes":
            if not isinstance(new, int | float) or not isinstance(old, int | float):
                failing.add(name)
                continue
        elif flaw == "inf passes":
            new, old = number(new, inf=True), number(old, inf=True)
            if new is None or old is None:
                failing.add(name)
                continue
        elif flaw == "strings parsed":
            new, old = number(new, strings=True), number(old, strings=True)
            if new is None or old is None:
                failing.add(name)
                continue
        else:
            new, old = number(new), number(old)
            if new is None or old is None:
                failing.add(name)
                continue
        worse = old - new if higher or flaw == "flip" else new - old
        if flaw == "no direction":
            worse = abs(new - old)
        if flaw == "all relative":
            relative = True
        elif flaw == "all absolute":
            relative = False
        scale = abs(new) if flaw == "relative to candidate" else abs(old)
        if flaw == "relative signed":
            scale = old
        allowed = tolerance * scale if relative else tolerance
        if worse > allowed or (flaw == "strict" and worse >= allowed):
            failing.add(name)
    return failing


FLAWS = {
    "flip": "lower-is-better metrics compared as if higher were better (a rise in a loss or a "
    "latency read as an improvement): for those, worse = candidate - baseline",
    "no direction": "any change larger than the tolerance failing, improvements too (an "
    "absolute difference): only a change in the bad direction is a regression",
    "all relative": "an absolute tolerance used as a fraction of the baseline (accuracy's 0.01 "
    "is one point, not 1 % of the baseline)",
    "all absolute": "a relative tolerance used as an absolute amount (log_loss's 0.05 is 5 % of "
    "the baseline's value, not 0.05)",
    "relative to candidate": "a relative tolerance taken of the candidate's value instead of "
    "the baseline's (allowance = tolerance * abs(baseline))",
    "missing passes": "a missing metric treated as a pass (a metric the gate cannot compare "
    "must fail it)",
    "missing candidate passes": "a metric missing from the candidate treated as a pass",
    "missing baseline passes": "a metric missing from the baseline treated as a pass",
    "nan passes": "NaN let through: every comparison with NaN is False, so `worse > allowed` "
    "never fires; test math.isfinite first",
    "inf passes": "only NaN rejected (math.isnan): infinity is not a finite number either, and "
    "an infinite accuracy reads as a huge improvement; test math.isfinite, which rejects both",
    "strings parsed": "numeric strings such as \"0.9\" converted with float() and compared: a "
    "value that is not a number (here a string) must fail the gate, not be parsed",
    "relative signed": "a relative allowance of tolerance * baseline without abs(): with a "
    "negative baseline the allowance turns negative and even no change fails (allowance = "
    "tolerance * abs(baseline))",
    "strict": "a change equal to the tolerance treated as a regression (fail only when worse > "
    "allowance, not >=)",
    "rules ignored": "the rules argument ignored (the module's RULES used instead)",
}


@dataclass(frozen=True)
class Case:
    title: str
    candidate: dict[str, Any]
    baseline: dict[str, Any] = field(default_factory=lambda: dict(BASE))
    rules: dict[str, tuple[bool, float, bool]] = field(default_factory=lambda: dict(POLICY))

    @property
    def want(self) -> set[str]:
        return judge(self.candidate, self.baseline, self.rules)


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def without(base: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in base.items() if key != name}


CASES = [
    Case("the candidate equals the baseline", dict(BASE)),
    Case(
        "every metric improved",
        {"accuracy": 0.93, "f1": 0.91, "log_loss": 0.25, "latency_ms_p95": 30.0},
    ),
    Case("accuracy dropped by 0.05", with_(BASE, accuracy=0.85)),
    Case("log_loss rose by 20 % (0.30 -> 0.36)", with_(BASE, log_loss=0.36)),
    Case("latency_ms_p95 rose by 37.5 % (40 -> 55)", with_(BASE, latency_ms_p95=55.0)),
    Case("latency_ms_p95 rose by 20 %, inside its 25 %", with_(BASE, latency_ms_p95=48.0)),
    Case("log_loss rose by 0.04, 13 % of 0.30", with_(BASE, log_loss=0.34)),
    Case("accuracy dropped by 0.0095, inside its 0.01", with_(BASE, accuracy=0.8905)),
    Case("log_loss rose by 5.17 % of the baseline (0.30 -> 0.3155)", with_(BASE, log_loss=0.3155)),
    Case(
        "worse by exactly the allowance (score 0.75 -> 0.5, tolerance 0.25; cost 2.0 -> 2.5, "
        "relative tolerance 0.25)",
        {"score": 0.5, "cost": 2.5},
        {"score": 0.75, "cost": 2.0},
        {"score": (True, 0.25, False), "cost": (False, 0.25, True)},
    ),
    Case(
        "worse by a little more than the allowance (score 0.75 -> 0.4375, cost 2.0 -> 2.5625)",
        {"score": 0.4375, "cost": 2.5625},
        {"score": 0.75, "cost": 2.0},
        {"score": (True, 0.25, False), "cost": (False, 0.25, True)},
    ),
    Case("f1 is missing from the candidate", without(BASE, "f1")),
    Case(
        "latency_ms_p95 is missing from the baseline", dict(BASE), without(BASE, "latency_ms_p95")
    ),
    Case("the candidate's log_loss is NaN", with_(BASE, log_loss=NAN)),
    Case("the candidate's accuracy is None (null in JSON)", with_(BASE, accuracy=None)),
    Case("the candidate's accuracy is infinity", with_(BASE, accuracy=INF)),
    Case("the baseline's f1 is NaN", dict(BASE), with_(BASE, f1=NAN)),
    Case("the candidate's accuracy is the string \"0.9\"", with_(BASE, accuracy="0.9")),
    Case(
        "rules of their own: margin (higher is better, relative tolerance 25 %) with a negative "
        "baseline, -2.0 -> -2.25",
        {"margin": -2.25},
        {"margin": -2.0},
        {"margin": (True, 0.25, True)},
    ),
    Case(
        "metrics without a rule (auc in the candidate, precision in the baseline)",
        with_(BASE, auc=0.1),
        with_(BASE, precision=0.9),
    ),
    Case(
        "rules of their own: latency_ms_p95 with an absolute tolerance of 2.0 ms, 40 -> 41.5",
        {"accuracy": 0.1, "latency_ms_p95": 41.5},
        {"accuracy": 0.9, "latency_ms_p95": 40.0},
        {"latency_ms_p95": (False, 2.0, False)},
    ),
    Case(
        "rules of their own: latency_ms_p95 with an absolute tolerance of 2.0 ms, 40 -> 43",
        {"accuracy": 0.1, "latency_ms_p95": 43.0},
        {"accuracy": 0.9, "latency_ms_p95": 40.0},
        {"latency_ms_p95": (False, 2.0, False)},
    ),
    Case(
        "rules of their own: accuracy with a relative tolerance of 2 %, 0.90 -> 0.885",
        {"accuracy": 0.885},
        {"accuracy": 0.90},
        {"accuracy": (True, 0.02, True)},
    ),
    Case(
        "rules of their own: accuracy with a relative tolerance of 2 %, 0.90 -> 0.88",
        {"accuracy": 0.88},
        {"accuracy": 0.90},
        {"accuracy": (True, 0.02, True)},
    ),
]


def learner_rules(learner: Any, rules: dict[str, tuple[bool, float, bool]]) -> dict[str, Any]:
    return {
        name: learner.Rule(higher_is_better=higher, tolerance=tolerance, relative=relative)
        for name, (higher, tolerance, relative) in rules.items()
    }


def shown(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in values.items()) + "}"


def named(metrics: set[str]) -> str:
    return "{" + ", ".join(repr(m) for m in sorted(metrics)) + "}" if metrics else "nothing"


def run_regressions(learner: Any, case: Case) -> set[str]:
    candidate, baseline = copy.deepcopy(case.candidate), copy.deepcopy(case.baseline)
    rules = learner_rules(learner, case.rules)
    got = call_learner(
        f"regressions(...) on the case '{case.title}'",
        learner.regressions,
        candidate,
        baseline,
        rules,
        hint="A missing or non-numeric value must fail the gate with a reason, not crash it",
    )
    if got is None:
        fail(none_message("regressions(...)", "the dict {metric: reason}"))
    if not isinstance(got, dict):
        fail(
            f"regressions(...) returned a {type(got).__name__}; expected a dict "
            "{metric: reason} (an empty dict when the gate passes)"
        )
    bad = [k for k, v in got.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        fail(
            f"regressions(...) on '{case.title}' gives {bad[0]!r} the reason "
            f"{got[bad[0]]!r}; each reason should be a non-empty string saying why it failed"
        )
    if repr(candidate) != repr(case.candidate) or repr(baseline) != repr(case.baseline):
        fail("regressions(...) modified its candidate or baseline argument: leave both as given")
    return set(got)


@pytest.mark.task(1)
def test_regressions(learner):
    results = [run_regressions(learner, case) for case in CASES]
    for case, got in zip(CASES, results, strict=True):
        want = case.want
        if got == want:
            continue
        # the known mistake that agrees with the learner on this case and on the most others
        verdicts = {
            flaw: [judge(c.candidate, c.baseline, c.rules, flaw) for c in CASES] for flaw in FLAWS
        }
        fits = [
            (sum(a == b for a, b in zip(outputs, results, strict=True)), flaw)
            for flaw, outputs in verdicts.items()
            if outputs[CASES.index(case)] == got
        ]
        looks = FLAWS[max(fits)[1]] if fits else None
        extra, missed = sorted(got - want), sorted(want - got)
        parts = []
        if missed:
            parts.append(f"{', '.join(missed)} should fail but passed")
        if extra:
            parts.append(f"{', '.join(extra)} should pass but failed")
        fail(
            f"regressions(...) on the case '{case.title}' flagged {named(got)}; expected "
            f"{named(want)} ({'; '.join(parts)})."
            + (f" It looks like {looks}." if looks else "")
            + f" candidate={shown(case.candidate)}, baseline={shown(case.baseline)}, rules="
            + shown({k: f"Rule({h}, {t}, relative={r})" for k, (h, t, r) in case.rules.items()})
        )


# ----- task 2: main -------------------------------------------------------------------------------

GOOD = {"accuracy": 0.93, "f1": 0.9, "log_loss": 0.27, "latency_ms_p95": 30.0}
DEGRADED = {"accuracy": 0.85, "f1": 0.875, "log_loss": 0.36, "latency_ms_p95": 41.0}


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run_main(learner: Any, capsys: Any, paths: list[str], when: str) -> tuple[int, str]:
    """learner.main(paths), with the paths shown by file name in messages."""
    args = [Path(p).name if "/" in p else p for p in paths]
    capsys.readouterr()
    try:
        code = learner.main(paths)
    except SystemExit as exc:
        fail(
            f"main({args!r}) ({when}) called sys.exit({exc.code!r}): return the status instead; "
            "the last line of eval_gate.py, `raise SystemExit(main())`, turns it into the exit "
            "status"
        )
    except NotImplementedError:
        raise
    except FileNotFoundError as exc:
        fail(
            f"main({args!r}) ({when}) raised FileNotFoundError ({exc}): catch it, print which "
            "file is missing, and return 2, so the CI log says why the gate stopped"
        )
    except Exception as exc:
        fail(f"main({args!r}) ({when}) raised {type(exc).__name__}: {str(exc)[:200]}")
    out = capsys.readouterr()
    text = out.out + out.err
    if code is None:
        fail(none_message(f"main({args!r})", "the exit status (0, 1 or 2)"))
    if isinstance(code, bool):
        fail(
            f"main({args!r}) ({when}) returned {code}, a bool: SystemExit(True) exits with "
            "status 1 and SystemExit(False) with status 0, so a gate that returns True for "
            "'passed' fails every good model and passes every bad one. Return 0 when the gate "
            "passes and 1 when it fails"
        )
    if not isinstance(code, int):
        fail(f"main({args!r}) ({when}) returned {code!r}; expected the exit status 0, 1 or 2")
    return code, text


def check_rules_table(learner: Any) -> None:
    rules = getattr(learner, "RULES", None)
    if not isinstance(rules, dict):
        fail("eval_gate.py no longer defines the RULES dict: put the README's table back")
    table = {}
    for name, rule in rules.items():
        try:
            table[name] = (bool(rule.higher_is_better), float(rule.tolerance), bool(rule.relative))
        except AttributeError:
            fail(f"RULES[{name!r}] is {rule!r}, not a Rule")
    if table != POLICY:
        changed = sorted(set(table) ^ set(POLICY)) or sorted(
            k for k in POLICY if table.get(k) != POLICY[k]
        )
        fail(
            f"RULES is not the team's policy any more (changed: {', '.join(changed)}): the gate's "
            "tolerances are the README's table, not a knob to turn until CI passes"
        )


@pytest.mark.task(2)
def test_main_exit_status_and_report(learner, tmp_path, capsys):
    baseline = write_json(tmp_path / "baseline.json", BASE)
    good = write_json(tmp_path / "good.json", GOOD)
    bad = write_json(tmp_path / "degraded.json", DEGRADED)
    lacking = write_json(tmp_path / "lacking.json", without(GOOD, "latency_ms_p95"))
    code, text = run_main(
        learner, capsys, [str(good), str(baseline)], "a candidate better than the baseline"
    )
    if code != 0:
        fail(
            f"main([candidate, baseline]) returned {code} for a candidate better than the "
            f"baseline on every metric; expected 0. Are the two paths read in the documented "
            f"order, candidate first? It printed: {text.strip()[:300]!r}"
        )
    check_rules_table(learner)
    code, text = run_main(learner, capsys, [str(bad), str(baseline)], "a degraded candidate")
    if code != 1:
        fail(
            f"main([candidate, baseline]) returned {code} for a candidate whose accuracy fell "
            f"from 0.90 to 0.85 and log_loss rose from 0.30 to 0.36; expected 1 (the gate "
            f"fails, and so does the CI step). Are the two paths read in the documented order, "
            f"candidate first? It printed: {text.strip()[:300]!r}"
        )
    unnamed = [name for name in ("accuracy", "log_loss") if name not in text]
    if unnamed:
        fail(
            f"main(...) failed the degraded candidate but its output does not name "
            f"{' and '.join(unnamed)}: print one line per failing metric that names it (the "
            f"CI log is all a reviewer sees). It printed: {text.strip()[:300]!r}"
        )
    code, text = run_main(
        learner, capsys, [str(lacking), str(baseline)], "a candidate without latency_ms_p95"
    )
    if code != 1 or "latency_ms_p95" not in text:
        fail(
            f"main(...) returned {code} for a candidate file without latency_ms_p95 (printing "
            f"{text.strip()[:200]!r}); expected 1 and a line naming latency_ms_p95: a metric "
            "the gate cannot compare fails it"
        )


@pytest.mark.task(2)
def test_main_unreadable_input(learner, tmp_path, capsys):
    baseline = write_json(tmp_path / "baseline.json", BASE)
    good = write_json(tmp_path / "good.json", GOOD)
    broken = tmp_path / "broken.json"
    broken.write_text('{"accuracy": 0.9,', encoding="utf-8")
    listed = write_json(tmp_path / "list.json", [0.9, 0.88])
    missing = tmp_path / "nowhere" / "candidate.json"
    cases = [
        ([str(missing), str(baseline)], "a candidate file that does not exist", missing.name),
        (
            [str(good), str(tmp_path / "no-baseline.json")],
            "a baseline file that does not exist",
            "no-baseline.json",
        ),
        ([str(broken), str(baseline)], "a candidate file that is not valid JSON", broken.name),
        ([str(listed), str(baseline)], "a candidate file holding a JSON list", listed.name),
        ([str(good), str(baseline), "extra"], "three arguments", None),
    ]
    for args, what, name in cases:
        code, text = run_main(learner, capsys, args, what)
        if code != 2:
            fail(
                f"main(...) returned {code} for {what}; expected 2 (the input cannot be read, "
                f"which is not the same as a regression). It printed: {text.strip()[:200]!r}"
            )
        if name and name not in text:
            fail(
                f"main(...) returned 2 for {what} but its output does not name the file "
                f"({name}): say which file and why. It printed: {text.strip()[:200]!r}"
            )


@pytest.mark.task(2)
def test_main_default_paths(learner, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / BASELINE_FILE, BASE)
    write_json(tmp_path / TRAIN_OUTPUT, GOOD)
    code, text = run_main(learner, capsys, [], "no arguments, good metrics in metrics/")
    if code != 0:
        fail(
            f"main([]) returned {code} with a good metrics/candidate.json and "
            f"metrics/baseline.json in the current folder; expected 0 (the default paths). It "
            f"printed: {text.strip()[:200]!r}"
        )
    write_json(tmp_path / TRAIN_OUTPUT, DEGRADED)
    code, text = run_main(learner, capsys, [], "no arguments, degraded metrics in metrics/")
    if code != 1:
        fail(f"main([]) returned {code} with a degraded metrics/candidate.json; expected 1")
    code, text = run_main(learner, capsys, [TRAIN_OUTPUT], "one argument")
    if code != 1:
        fail(
            f"main(['metrics/candidate.json']) returned {code} for a degraded candidate; "
            "expected 1 (the baseline defaults to metrics/baseline.json)"
        )


def tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


@pytest.mark.task(2)
def test_gate_passes_the_workflows_own_lint_and_type_check(learner, learner_file, workdir):
    learner.regressions({}, {}, {})  # not attempted yet: NotImplementedError
    lint = subprocess.run(
        [
            tool("ruff"),
            "check",
            "--isolated",
            "--no-cache",
            "--output-format",
            "concise",
            learner_file.name,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if lint.returncode != 0:
        found = [line for line in lint.stdout.splitlines() if learner_file.name in line]
        fail(
            f"`ruff check` finds {len(found)} problem(s) in {learner_file.name}, so the lint "
            f"step of your workflow would fail:\n  "
            + "\n  ".join(found[:6] or [lint.stderr])
            + f"\n(`ruff check {learner_file.name}` shows them; many are fixed by `--fix`)"
        )
    types = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-error-summary",
            "--cache-dir",
            str(workdir / ".mypy_cache"),
            str(learner_file),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if types.returncode != 0:
        found = [line for line in types.stdout.splitlines() if ": error:" in line]
        fail(
            f"mypy finds {len(found)} error(s) in {learner_file.name}, so the type-check step "
            f"of your workflow would fail:\n  "
            + "\n  ".join(
                [
                    re.sub(r"^.*?" + re.escape(learner_file.name), learner_file.name, line)
                    for line in found[:6]
                ]
                or [types.stdout.strip()[:300] or types.stderr[:300]]
            )
            + "\n(values from JSON are `object`: narrow them with isinstance before arithmetic)"
        )


# ----- the workflow, parsed ------------------------------------------------------------------------


def load_yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def yaml_lines(text: str) -> Any:
    from ruamel.yaml import YAML

    try:
        return YAML(typ="rt").load(text)
    except Exception:
        return None


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Command:
    kind: str  # install, lint, type, test, train, gate
    text: str
    job: Job
    step: Step
    order: tuple[int, int, int]
    swallowed: str | None = None  # the `|| true` (or flag) that hides a failure
    action: bool = False  # run by an action (astral-sh/ruff-action), not a `run:` script


@dataclass
class Step:
    job: Job
    index: int
    data: dict[str, Any]
    line: int | None

    @property
    def uses(self) -> str:
        value = self.data.get("uses")
        return value if isinstance(value, str) else ""

    @property
    def run(self) -> str:
        value = self.data.get("run")
        return value if isinstance(value, str) else ""

    @property
    def with_(self) -> dict[str, Any]:
        value = self.data.get("with")
        return value if isinstance(value, dict) else {}

    def action(self, name: str) -> bool:
        return self.uses.split("@", 1)[0].lower() == name

    def label(self) -> str:
        name = self.data.get("name")
        what = (
            f'"{name}"'
            if isinstance(name, str)
            else (self.uses or (self.run.strip().splitlines() or [""])[0])
        )
        where = f", line {self.line}" if self.line else ""
        return f"step {self.index + 1} ({what}{where}) of job `{self.job.id}`"

    def soft(self) -> bool:
        return truthy(self.data.get("continue-on-error")) or self.job.soft()


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


@dataclass
class Job:
    id: str
    data: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def soft(self) -> bool:
        return truthy(self.data.get("continue-on-error"))

    def needs(self) -> list[str]:
        value = self.data.get("needs", [])
        return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]

    def kinds_before(self, order: tuple[int, int, int]) -> set[str]:
        return {c.kind for c in self.commands if c.order < order}

    def first(self, kind: str) -> Command | None:
        return next((c for c in self.commands if c.kind == kind), None)


SWALLOW = re.compile(r"^\s*(true|:|exit\s+0|echo\b.*|printf\b.*)\s*$")
KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("install", re.compile(r"\bpip3?\s+install\b")),
    # the tools before the scripts: `mypy eval_gate.py train.py` type-checks, it does not train
    ("lint", re.compile(r"(^|[\s/])ruff\s+check\b")),
    ("type", re.compile(r"(^|[\s/])mypy(\s|$)")),
    ("test", re.compile(r"(^|[\s/])pytest(\s|$)")),
    ("gate", re.compile(r"\beval_gate(\.py)?\b")),
    ("train", re.compile(r"(\btrain\.py\b|-m\s+train\b)")),
]


def shell_lines(run: str) -> Iterator[tuple[int, str]]:
    """The lines of a `run:` script, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\r?\n", " ", run)
    for number, line in enumerate(joined.splitlines()):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            yield number, line


def classify(command: str) -> str | None:
    words = command.split()
    if not words or words[0] in ("echo", "printf", "cat", "cd", "export", "mkdir", "ls"):
        return None
    for kind, pattern in KINDS:
        if pattern.search(command):
            if kind == "type" and "--version" in command:
                return None
            if kind == "test" and re.search(r"--co\b|--collect-only|--version", command):
                return None
            return kind
    return None


def run_shell(workflow_data: dict[str, Any], job: Job, step: Step) -> str:
    """The `shell:` a `run:` step gets: the step's, else the job's defaults, else the workflow's."""
    shells = [step.data.get("shell")]
    for owner in (job.data, workflow_data):
        defaults = owner.get("defaults")
        run = defaults.get("run") if isinstance(defaults, dict) else None
        shells.append(run.get("shell") if isinstance(run, dict) else None)
    return next((v.strip() for v in shells if isinstance(v, str) and v.strip()), "")


def step_commands(job: Job, step: Step, shell: str = "") -> list[Command]:
    found = []
    # `shell: bash` runs `bash --noprofile --norc -eo pipefail {0}`; the default (no `shell:`)
    # runs `bash -e {0}`, without pipefail, so a pipeline's status is its last command's.
    pipefail = shell == "bash" or "pipefail" in shell
    for number, line in shell_lines(step.run):
        if re.search(r"\bset\s+(-\w*o\s+pipefail|-o\s+pipefail|.*\bpipefail\b)", line):
            pipefail = True
        parts = re.split(r"(\|\||&&|;|\|)", line)
        for i in range(0, len(parts), 2):
            text = parts[i].strip()
            kind = classify(text)
            if kind is None:
                continue
            swallowed = None
            if i + 2 < len(parts) and parts[i + 1] == "||" and SWALLOW.match(parts[i + 2]):
                swallowed = f"`|| {parts[i + 2].strip()}`"
            elif i + 2 < len(parts) and parts[i + 1] == "|" and not pipefail:
                rest = "".join(parts[i + 1 :]).strip()
                rest = re.split(r"\s(\|\||&&|;)\s", rest)[0].strip()
                last = rest.rsplit("|", 1)[-1].split()
                swallowed = (
                    f"`{rest}` without pipefail (a `run:` step with no `shell:` runs `bash -e`, "
                    f"so the status of a pipeline is its last command's, "
                    f"{'`' + last[0] + '`' if last else 'the last'}'s: set `shell: bash`, which "
                    "adds `-o pipefail`, or drop the pipe)"
                )
            if kind == "lint" and "--exit-zero" in text:
                swallowed = "`--exit-zero`"
            found.append(Command(kind, text, job, step, (step.index, number, i), swallowed))
    if step.action("astral-sh/ruff-action") or step.action("chartboost/ruff-action"):
        args = str(step.with_.get("args", "check"))
        if not args.strip().startswith("format"):
            text = f"{step.uses} (ruff {args})"
            swallowed = "`--exit-zero`" if "--exit-zero" in args else None
            found.append(Command("lint", text, job, step, (step.index, 0, 0), swallowed, True))
    return found


class Workflow:
    def __init__(self, text: str) -> None:
        self.text = text
        self.data: dict[str, Any] = plain(load_yaml(text)) or {}
        self.tree = yaml_lines(text)
        self.jobs: dict[str, Job] = {}
        jobs = self.data.get("jobs")
        for job_id, body in jobs.items() if isinstance(jobs, dict) else []:
            if not isinstance(body, dict):
                continue
            job = Job(str(job_id), body)
            for index, step in enumerate(body.get("steps") or []):
                if isinstance(step, dict):
                    line = self.line("jobs", job_id, "steps", index)
                    job.steps.append(Step(job, index, step, line))
            for step in job.steps:
                job.commands += step_commands(job, step, run_shell(self.data, job, step))
            job.commands.sort(key=lambda c: c.order)
            self.jobs[job.id] = job

    def line(self, *path: Any) -> int | None:
        node = self.tree
        line = None
        try:
            for key in path:
                line = (node.lc.item(key) if isinstance(key, int) else node.lc.key(key))[0] + 1
                node = node[key]
        except Exception:
            return line
        return line

    def at(self, *path: Any) -> str:
        line = self.line(*path)
        return f" (line {line})" if line else ""

    def commands(self, kind: str) -> list[Command]:
        return [c for job in self.jobs.values() for c in job.commands if c.kind == kind]

    def closure(self, job: Job) -> list[Job]:
        """The jobs `job` waits for, directly or through other jobs."""
        seen: dict[str, Job] = {}
        todo = list(job.needs())
        while todo:
            name = todo.pop()
            if name in seen or name not in self.jobs:
                continue
            seen[name] = self.jobs[name]
            todo += self.jobs[name].needs()
        return list(seen.values())

    def events(self) -> dict[str, Any]:
        on = self.data.get("on")
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {str(e): None for e in on}
        return dict(on) if isinstance(on, dict) else {}


def read_workflow(workdir: Path) -> Workflow:
    path = workdir / WORKFLOW
    if not path.is_file():
        other = path.with_suffix(".yaml")
        if other.is_file():
            path = other
        else:
            fail(
                f"{WORKFLOW} is missing in {workdir}: create it (GitHub runs every .yml file in "
                ".github/workflows/); its starter content is in the README"
            )
    text = path.read_text(encoding="utf-8")
    try:
        workflow = Workflow(text)
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        advice = (
            ": a key appears twice in the same mapping (GitHub rejects that too)"
            if "duplicate" in str(exc).lower()
            else " (indent with spaces, never tabs; quote values that contain ': ')"
        )
        fail(f"{WORKFLOW} is not valid YAML{where}: {problem}{advice}")
    if not isinstance(load_yaml(text), dict | None):
        fail(f"{WORKFLOW} holds a YAML {type(load_yaml(text)).__name__}; a workflow is a mapping")
    if "on" not in workflow.data and "jobs" not in workflow.data:
        raise NotImplementedError(f"{WORKFLOW} has neither `on:` nor `jobs:` yet")
    return workflow


@pytest.fixture(scope="session")
def workflow(workdir: Path) -> Workflow:
    return read_workflow(workdir)


def need_steps(workflow: Workflow) -> None:
    if not any(job.steps for job in workflow.jobs.values()):
        raise NotImplementedError("no job has steps yet")


# ----- task 3: schema, actionlint, triggers, permissions, pins, concurrency ------------------------


@cache
def schema_validator() -> Any:
    import check_jsonschema
    import jsonschema

    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"
    schema = json.loads((path / "github-workflows.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def json_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out or "the top level"


def leaf_errors(error: Any) -> list[Any]:
    """For oneOf/anyOf, the errors of the branch that fits best (deepest, fewest, not a type
    mismatch at the top), recursively; other errors as they are."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def score(item: tuple[Any, list[Any]]) -> tuple[int, int, int, Any]:
        index, errors = item
        mismatch = any(
            e.validator == "type" and len(e.absolute_path) == len(error.absolute_path)
            for e in errors
        )
        depth = max(len(e.absolute_path) for e in errors)
        return (int(mismatch), -depth, len(errors), index)

    _, best = min(branches.items(), key=score)
    return [leaf for sub in best for leaf in leaf_errors(sub)]


def describe_schema_error(error: Any) -> str:
    where = json_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extra = [
            key
            for key in error.instance
            if key not in allowed and not any(re.search(p, key) for p in patterns)
        ]
        bits = []
        for key in extra:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            bits.append(
                f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        if bits:
            return f"{where}: " + "; ".join(bits)
    message = error.message
    if len(message) > 220:
        message = message[:220] + "…"
    return f"{where}: {message}"


@pytest.mark.task(3)
def test_workflow_matches_githubs_schema(workflow):
    errors = sorted(
        schema_validator().iter_errors(workflow.data), key=lambda e: [str(p) for p in e.path]
    )
    if not errors:
        return
    found: list[str] = []
    for error in errors:
        leaves = [describe_schema_error(leaf) for leaf in leaf_errors(error)]
        unknown = {line.split(":")[0] for line in leaves if "unknown key" in line}
        for line in leaves:
            if line.split(":")[0] in unknown and "is a required property" in line:
                continue  # "'runs-on' is required" next to "unknown key 'run-on'": say it once
            if line not in found:
                found.append(line)
    shown_lines = "\n  ".join(found[:6])
    fail(
        f"GitHub's workflow schema rejects {WORKFLOW} ({len(found)} problem(s)); GitHub would "
        f"refuse to run it:\n  {shown_lines}"
    )


def actionlint_findings(text: str) -> list[dict[str, Any]]:
    scratch = tempfile.mkdtemp(prefix="actionlint-")
    result = run_tool(
        "actionlint",
        "-no-color",
        "-shellcheck=",
        "-pyflakes=",
        "-format",
        "{{json .}}",
        "-stdin-filename",
        str(WORKFLOW),
        "-",
        input=text,
        cwd=scratch,
    )
    if result.returncode not in (0, 1):
        fail(
            f"actionlint could not run (status {result.returncode}): {result.stderr.strip()[:300]}"
        )
    try:
        return json.loads(result.stdout or "[]") or []
    except json.JSONDecodeError:
        fail(f"actionlint printed something that is not JSON: {result.stdout[:300]!r}")


@pytest.mark.task(3)
def test_actionlint_finds_nothing(workflow):
    findings = actionlint_findings(workflow.text)
    if findings:
        lines = [
            f"line {f.get('line')}:{f.get('column')} [{f.get('kind')}] {f.get('message')}"
            for f in findings[:8]
        ]
        fail(
            f"actionlint reports {len(findings)} problem(s) in {WORKFLOW}:\n  "
            + "\n  ".join(lines)
            + "\n(run `actionlint "
            + str(WORKFLOW)
            + "` from this folder to see them in place)"
        )


@pytest.mark.task(3)
def test_triggers_push_and_pull_request(workflow):
    events = workflow.events()
    if not events:
        fail(f"{WORKFLOW} has no `on:` triggers: it would never run")
    problems = []
    if "pull_request_target" in events:
        problems.append(
            "it uses `pull_request_target`, which runs with the base repository's secrets and a "
            "token that can write, next to code from a fork: for checking pull requests, "
            "`pull_request` is the safe trigger"
        )
    for event in ("push", "pull_request"):
        if event not in events:
            why = {
                "push": "commits pushed to the repository (main included) are never checked",
                "pull_request": "a pull request is not checked before it is merged, and "
                "pull requests from forks never run it",
            }[event]
            problems.append(f"it does not run on `{event}`: {why}")
    push = events.get("push")
    if isinstance(push, dict) and "tags" in push and not push.get("branches"):
        problems.append("`push:` lists only `tags:`, so a push to a branch does not run it")
    pull = events.get("pull_request")
    types = pull.get("types") if isinstance(pull, dict) else None
    if types is not None:
        listed = [types] if isinstance(types, str) else list(types)
        left_out = [t for t in ("opened", "synchronize", "reopened") if t not in listed]
        if "synchronize" in left_out or "opened" in left_out:
            problems.append(
                f"`pull_request:` runs only for `types: {listed}`, so "
                + (
                    "a new push to an open pull request (`synchronize`) is never checked"
                    if "synchronize" in left_out
                    else "opening a pull request does not run it"
                )
                + ": leave `types:` out (the default is opened, synchronize and reopened)"
            )
    if problems:
        fail(f"{WORKFLOW} triggers (`on:` {sorted(events)}): " + "; ".join(problems))


def permission_problems(value: Any, where: str) -> list[str]:
    if value == "write-all":
        return [
            f"{where} is `write-all`: every scope of the GITHUB_TOKEN can write (push commits, "
            "publish packages, edit issues), for a workflow that only reads its code"
        ]
    if value == "read-all":
        return [
            f"{where} is `read-all`, which reads every scope; least privilege names only what "
            "the jobs use: `contents: read`"
        ]
    if isinstance(value, str):
        return [f"{where} is {value!r}; write it as a mapping: `contents: read`"]
    if not isinstance(value, dict):
        return []
    writes = [scope for scope, level in value.items() if level == "write"]
    if writes:
        return [
            f"{where} grants {', '.join(f'{s}: write' for s in writes)}; nothing in this "
            "workflow pushes, publishes or comments, so no scope needs write access"
        ]
    return []


@pytest.mark.task(3)
def test_permissions_least_privilege(workflow):
    problems = []
    top = workflow.data.get("permissions")
    if "permissions" not in workflow.data:
        every_job = bool(workflow.jobs) and all(
            "permissions" in j.data for j in workflow.jobs.values()
        )
        problems.append(
            (
                "there is no top-level `permissions:`: each job sets its own, but the next job "
                "someone adds gets the repository's default token, read and write on many "
                "repositories. Put `permissions:` with `contents: read` at the top level"
            )
            if every_job
            else (
                "there is no top-level `permissions:`, so the GITHUB_TOKEN gets the repository's "
                "default, which is read and write on many repositories: add `permissions:` with "
                "`contents: read`"
            )
        )
    elif top is None or top == {}:
        problems.append(
            "the top-level `permissions:` is empty, which takes away `contents: read` as well: "
            "actions/checkout needs it to fetch a private repository"
        )
    else:
        problems += permission_problems(top, "the top-level `permissions:`")
        if not problems and isinstance(top, dict) and top.get("contents") != "read":
            problems.append(
                f"the top-level `permissions:` is {top!r}: give `contents: read` (actions/checkout "
                "needs it to fetch a private repository), and nothing that writes"
            )
    for job in workflow.jobs.values():
        if "permissions" in job.data:
            problems += permission_problems(
                job.data["permissions"],
                f"job `{job.id}`'s `permissions:`{workflow.at('jobs', job.id, 'permissions')}",
            )
    if problems:
        fail("; ".join(problems))


SHA = re.compile(r"^[0-9a-f]{40}$")
TAG = re.compile(r"^v?\d+(\.\d+){0,2}$")


def pin_problem(uses: str) -> str | None:
    if uses.startswith("./"):
        return None
    if uses.startswith("docker://"):
        image = uses[len("docker://") :]
        if "@sha256:" in image or (
            ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        ):
            return None
        return f"`{uses}` has no fixed image tag"
    if "@" not in uses:
        return f"`{uses}` names no version at all: add `@v4` (a release tag) or `@<40-hex SHA>`"
    ref = uses.rsplit("@", 1)[1]
    if SHA.match(ref) or TAG.match(ref):
        return None
    if re.fullmatch(r"[0-9a-f]{7,39}", ref):
        return (
            f"`{uses}` pins a short SHA: GitHub resolves only the full 40-character commit SHA, "
            "so write it out in full"
        )
    return (
        f"`{uses}` follows `{ref}`, a branch or moving name: whatever is pushed there next runs "
        "in your CI with your token. Pin a release tag (`@v4`, `@v4.2.2`) or a full commit SHA"
    )


@pytest.mark.task(3)
def test_actions_pinned(workflow):
    problems = []
    for job in workflow.jobs.values():
        uses = job.data.get("uses")
        if isinstance(uses, str) and (problem := pin_problem(uses)):
            problems.append(f"job `{job.id}`: {problem}")
        for step in job.steps:
            if step.uses and (problem := pin_problem(step.uses)):
                problems.append(f"{step.label()}: {problem}")
    if problems:
        fail("unpinned action(s): " + "; ".join(problems[:4]))


REF_CONTEXTS = ("github.ref", "github.head_ref", "pull_request.number", "github.event.number")


def concurrency_problems(value: Any, where: str) -> list[str]:
    if value is None:
        return [
            "there is no `concurrency:`, so two quick pushes to one branch run the whole "
            "pipeline twice. Add `concurrency:` with a `group:` per branch or pull request "
            "(`${{ github.workflow }}-${{ github.ref }}`) and `cancel-in-progress: true`"
        ]
    group = (
        value if isinstance(value, str) else value.get("group") if isinstance(value, dict) else None
    )
    problems = []
    if not isinstance(group, str) or not any(c in group.lower() for c in REF_CONTEXTS):
        problems.append(
            f"{where}'s group {group!r} is the same for every branch and pull request, so a push "
            "to one branch cancels (or queues behind) another's run: build the group from "
            "`${{ github.ref }}` (or `github.head_ref`)"
        )
    cancel = value.get("cancel-in-progress") if isinstance(value, dict) else None
    if not (cancel is True or (isinstance(cancel, str) and "${{" in cancel)):
        problems.append(
            f"{where} does not set `cancel-in-progress: true`: a newer push then waits for the "
            "superseded run to finish instead of cancelling it"
        )
    return problems


@pytest.mark.task(3)
def test_concurrency_cancels_superseded_runs(workflow):
    top = workflow.data.get("concurrency")
    if top is not None:
        problems = concurrency_problems(top, "`concurrency:`")
    else:
        working = [job for job in workflow.jobs.values() if job.commands]
        per_job = [job for job in working if "concurrency" in job.data]
        if working and len(per_job) == len(working):
            problems = [
                p
                for job in per_job
                for p in concurrency_problems(
                    job.data["concurrency"], f"job `{job.id}`'s `concurrency:`"
                )
            ]
        else:
            problems = concurrency_problems(None, "")
    if problems:
        fail("; ".join(problems))


# ----- task 4: the job(s) -------------------------------------------------------------------------

PINNED = re.compile(r"^(3\.\d{1,2}(\.\d+)?|pypy3\.\d+)$")


def matrix_values(job: Job, key: str) -> tuple[list[Any], str | None]:
    matrix = (
        (job.data.get("strategy") or {}).get("matrix")
        if isinstance(job.data.get("strategy"), dict)
        else None
    )
    if not isinstance(matrix, dict):
        return [], f"job `{job.id}` refers to matrix.{key} but has no `strategy.matrix` mapping"
    values = list(matrix.get(key) or []) if isinstance(matrix.get(key), list) else []
    if isinstance(matrix.get(key), str):
        return (
            [],
            f"job `{job.id}`'s matrix.{key} is the expression {matrix.get(key)!r}: list the versions",
        )
    for entry in matrix.get("include") or []:
        if isinstance(entry, dict) and key in entry:
            values.append(entry[key])
    return values, None


def python_versions(job: Job) -> tuple[list[str], list[str]]:
    """The Python versions job `job` runs on, and what is wrong with how they are given."""
    setup = next((s for s in job.steps if s.action("actions/setup-python")), None)
    if setup is None:
        return [], []
    given = setup.with_.get("python-version")
    problems = []
    if given is None:
        version_file = setup.with_.get("python-version-file")
        if version_file is None:
            return [], [
                f"{setup.label()} sets up no `python-version`, so the job runs on whatever "
                f"Python the runner image has this month: pin it (e.g. `python-version: "
                f'${{{{ matrix.python-version }}}}` with a matrix of "3.11" and "3.12")'
            ]
        return [], [
            f"{setup.label()} reads the version from {version_file!r}; this lab asks for the "
            'versions in the workflow itself (a matrix of "3.11" and "3.12")'
        ]
    values: list[Any]
    match = re.fullmatch(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", str(given).strip())
    if match:
        values, problem = matrix_values(job, match.group(1))
        if problem:
            return [], [problem]
    elif isinstance(given, list):
        values = list(given)
    elif isinstance(given, str) and "\n" in given:
        values = given.split()
    else:
        values = [given]
    versions = []
    for value in values:
        if isinstance(value, float):
            if str(value) in ("3.1", "3.2"):
                problems.append(
                    f"job `{job.id}` asks for Python {value}: YAML reads an unquoted 3.10 as the "
                    'number 3.1 (and 3.20 as 3.2). Quote every version: "3.10"'
                )
                continue
            value = str(value)
        if not isinstance(value, str) or not PINNED.match(value.strip()):
            problems.append(
                f"job `{job.id}` asks for Python {value!r}, which is not a pinned version: "
                '`3.x` or `latest` moves under you; write versions such as "3.11" and "3.12"'
            )
            continue
        versions.append(value.strip())
    return versions, problems


@pytest.mark.task(4)
def test_jobs_check_out_set_up_python_and_install(workflow):
    need_steps(workflow)
    problems = []
    working = [job for job in workflow.jobs.values() if job.commands]
    if not working:
        fail(
            "no step of the workflow runs anything of the project (pip install, ruff, mypy, "
            "pytest, train.py, eval_gate.py): write them as `run:` steps"
        )
    for job in working:
        first = job.commands[0]
        checkout = next((s for s in job.steps if s.action("actions/checkout")), None)
        if checkout is None or checkout.index > first.step.index:
            problems.append(
                f"job `{job.id}` runs `{first.text}` ({first.step.label()}) without checking out "
                "the repository first: every job starts on an empty runner, so add "
                "`uses: actions/checkout@v4` as its first step"
            )
        scripts = [c for c in job.commands if not c.action]
        if not scripts:
            continue
        setup = next((s for s in job.steps if s.action("actions/setup-python")), None)
        if setup is None or setup.index > scripts[0].step.index:
            problems.append(
                f"job `{job.id}` runs `{scripts[0].text}` without actions/setup-python before it: "
                "the runner's own Python changes with the image; set up a pinned version"
            )
        else:
            problems += python_versions(job)[1]
        install = next(
            (
                c
                for c in job.commands
                if c.kind == "install"
                and re.search(r"(-r|--requirement)[\s=]*\S*requirements\.txt", c.text)
            ),
            None,
        )
        # the gate itself needs only the standard library; everything else needs the tools
        tools = [c for c in scripts if c.kind in ("lint", "type", "test", "train")]
        if tools and (install is None or install.order > tools[0].order):
            loose = next((c for c in job.commands if c.kind == "install"), None)
            extra = (
                f" (`{loose.text}` installs packages by name, unpinned, and the cache key "
                "hashes requirements.txt)"
                if loose
                else ""
            )
            problems.append(
                f"job `{job.id}` runs `{tools[0].text}` before installing requirements.txt: "
                f"a fresh runner has none of ruff, mypy, pytest or numpy. Add "
                f"`pip install -r requirements.txt` before it{extra}"
            )
    if problems:
        fail("; ".join(problems))


def hash_patterns(key: str) -> list[str]:
    patterns = []
    for call in re.findall(r"hashFiles\(([^)]*)\)", key):
        patterns += re.findall(r"'([^']*)'", call)
    return patterns


def matches(workdir: Path, pattern: str) -> list[str]:
    pattern = pattern.strip().removeprefix("./")
    if not pattern or pattern.startswith("!"):
        return []
    try:
        return [p.relative_to(workdir).as_posix() for p in workdir.glob(pattern) if p.is_file()]
    except (ValueError, NotImplementedError):
        return []


def cache_problem(job: Job, workdir: Path) -> str | None:
    install = next((c for c in job.commands if c.kind == "install"), None)
    if install is None:
        return None
    setup = next((s for s in job.steps if s.action("actions/setup-python")), None)
    if setup is not None and setup.with_.get("cache") == "pip":
        dependency = setup.with_.get("cache-dependency-path")
        if dependency is None:
            return None
        patterns = str(dependency).split()
        found = [m for p in patterns for m in matches(workdir, p)]
        if "requirements.txt" in found:
            return None
        return (
            f"{setup.label()} hashes `cache-dependency-path: {dependency}`, which matches "
            f"{', '.join(found) or 'no file'} here: point it at requirements.txt, or setup-python "
            "fails (or the cache never changes with the dependencies)"
        )
    if setup is not None and setup.with_.get("cache") not in (None, "pip"):
        return (
            f"{setup.label()} sets `cache: {setup.with_.get('cache')}`; this project installs "
            "with pip, so the cache is `cache: pip`"
        )
    caches = [
        s for s in job.steps if s.action("actions/cache") or s.action("actions/cache/restore")
    ]
    for step in caches:
        if step.index > install.step.index:
            return (
                f"{step.label()} restores the cache after `{install.text}` already ran: move it "
                "before the install"
            )
        key = str(step.with_.get("key", ""))
        patterns = hash_patterns(key)
        found = [m for p in patterns for m in matches(workdir, p)]
        if not patterns:
            return (
                f"{step.label()} caches under the key {key!r}, which never changes: once saved, "
                "that cache is restored forever, even after requirements.txt changes. Put "
                "`${{ hashFiles('requirements.txt') }}` in the key"
            )
        if "requirements.txt" not in found:
            return (
                f"{step.label()}'s key hashes {', '.join(repr(p) for p in patterns)}, which "
                f"matches {', '.join(found) or 'no file'} here: hashFiles of nothing is an empty "
                "string, so the key never changes with the dependencies. Hash requirements.txt"
            )
        return None
    return (
        f"job `{job.id}` installs its dependencies with no cache: every run downloads them again. "
        "Add `cache: pip` to actions/setup-python (or an actions/cache step keyed on "
        "`hashFiles('requirements.txt')`)"
    )


@pytest.mark.task(4)
def test_dependencies_cached(workflow, workdir):
    need_steps(workflow)
    problems = [p for job in workflow.jobs.values() if (p := cache_problem(job, workdir))]
    if problems:
        fail("; ".join(problems))


TOOL_NAMES = {"lint": "ruff check", "type": "mypy", "test": "pytest"}

# An `if:` made only of status functions (`always()`, `success()`, `!cancelled()`) never skips
# a step on a run where the steps before it passed.
STATUS_ONLY = re.compile(
    r"^(\s|\$\{\{|\}\}|!|&&|\|\||\(|\)|always\(\)|success\(\)|cancelled\(\)|true)*$"
)


def skip_condition(command: Command) -> str | None:
    """The `if:` (of the step or of its job) that can skip `command` on some runs."""
    for owner, data in (("the step", command.step.data), ("its job", command.job.data)):
        condition = data.get("if")
        if condition is None or condition is True or STATUS_ONLY.match(str(condition)):
            continue
        return (
            f"{command.step.label()} runs `{command.text}` only `if: {condition}` (set on "
            f"{owner}): on every run where that is false the step is skipped and the run passes "
            "without it. The checks and the gate run on every push and pull request, on both "
            "Pythons: drop the `if:`"
        )
    return None


VALUE_OPTIONS = {
    "lint": {
        "--config", "--select", "--ignore", "--extend-select", "--extend-ignore",
        "--output-format", "--target-version", "--line-length", "--exclude", "--extend-exclude",
        "--per-file-ignores", "--extend-per-file-ignores", "--fixable", "--unfixable",
        "--cache-dir", "--stdin-filename", "--extend-fixable",
    },
    "type": {
        "--config-file", "--python-version", "--cache-dir", "--python-executable", "--exclude",
        "--platform", "--junit-xml", "--html-report", "--txt-report", "--always-true",
        "--always-false", "--custom-typeshed-dir", "--shadow-file", "-c", "--command",
    },
}  # fmt: skip


def target_problem(command: Command) -> str | None:
    """`ruff check` / `mypy` run on paths that leave out eval_gate.py (or, for mypy, on none)."""
    if command.action or command.kind not in VALUE_OPTIONS or "$" in command.text:
        return None
    if command.step.data.get("working-directory"):
        return None
    try:
        words = shlex.split(command.text)
    except ValueError:
        return None
    if command.kind == "lint":
        pairs = enumerate(zip(words, words[1:], strict=False))
        start = next((i + 2 for i, (w, v) in pairs if w.endswith("ruff") and v == "check"), None)
    else:
        start = next((i + 1 for i, w in enumerate(words) if w.rsplit("/", 1)[-1] == "mypy"), None)
    if start is None:
        return None
    targets: list[str] = []
    args = iter(words[start:])
    for word in args:
        if re.match(r"^\d?>", word):
            break
        if word in ("-p", "--package", "-m", "--module"):
            targets.append(next(args, ""))
        elif word.startswith("-"):
            if "=" not in word and word in VALUE_OPTIONS[command.kind]:
                next(args, None)
        else:
            targets.append(word)
    covers = any(
        re.sub(r"^\./", "", t).rstrip("/") in (".", "", "eval_gate.py", "eval_gate")
        or Path("eval_gate.py").match(t)
        for t in targets
    )
    if covers or (not targets and command.kind == "lint"):
        return None
    if not targets:
        return (
            f"`{command.text}` in {command.step.label()} names no files, and pyproject.toml sets "
            "no mypy `files`, so mypy stops with \"Missing target module, package, files, or "
            "command\" and the step fails on every run: write `mypy .`"
        )
    verb = "linted" if command.kind == "lint" else "type-checked"
    return (
        f"`{command.text}` in {command.step.label()} checks only {', '.join(targets)}: "
        f"eval_gate.py and train.py sit in the repository's root, so they are never {verb} in CI. "
        f"Check the whole project: `{TOOL_NAMES[command.kind]} .`"
    )


@pytest.mark.task(4)
def test_lint_type_check_and_tests_run_and_can_fail(workflow):
    need_steps(workflow)
    problems = []
    for kind, name in TOOL_NAMES.items():
        commands = workflow.commands(kind)
        if not commands:
            formatting = kind == "lint" and re.search(r"ruff\s+format", workflow.text)
            problems.append(
                f"no step runs `{name}`"
                + (
                    " (`ruff format --check` checks only the layout of the code; the linter, "
                    "which finds unused imports, undefined names and likely bugs, is `ruff check`)"
                    if formatting
                    else ""
                )
            )
        for command in commands:
            if command.swallowed:
                problems.append(
                    f"`{command.text}` in {command.step.label()} is followed by "
                    f"{command.swallowed}, so it never fails the run"
                    if command.swallowed.startswith("`|")
                    else f"`{command.text}` in {command.step.label()} uses "
                    f"{command.swallowed}, so it never fails the run"
                )
            elif command.step.soft():
                where = "its job" if command.job.soft() else "the step"
                problems.append(
                    f"{command.step.label()} runs `{command.text}` with `continue-on-error: "
                    f"true` on {where}: a failure shows as a warning and the run still passes"
                )
            problems += [p for p in (skip_condition(command), target_problem(command)) if p]
            if kind == "lint" and re.search(r"\s--fix\b", command.text):
                problems.append(
                    f"`{command.text}` fixes what it can on the runner's copy and then passes: "
                    "the fix is never committed, so CI accepts code that is not clean. In CI, "
                    "`ruff check` only reports"
                )
    if problems:
        fail("; ".join(problems))


@pytest.mark.task(4)
def test_tests_run_on_python_311_and_312(workflow):
    need_steps(workflow)
    versions: set[str] = set()
    problems = []
    for job in {c.job.id: c.job for c in workflow.commands("test")}.values():
        found, wrong = python_versions(job)
        versions.update(v.rsplit(".", 1)[0] if v.count(".") == 2 else v for v in found)
        problems += wrong
    if problems:
        fail("; ".join(problems))
    missing = [v for v in VERSIONS if v not in versions]
    if workflow.commands("test") and missing:
        fail(
            f"the tests run on Python {sorted(versions) or 'not pinned'} but not on "
            f"{', '.join(missing)}: give the job a matrix, `strategy: matrix: python-version: "
            f'["3.11", "3.12"]`, and `python-version: ${{{{ matrix.python-version }}}}`'
        )


def gate_arguments(command: Command) -> list[str] | None:
    text = command.text
    match = re.search(r"(\S*eval_gate\.py|-m\s+eval_gate)\b(.*)$", text)
    if not match:
        return None
    rest = match.group(2)
    if "${{" in rest or "$" in rest:
        return None
    try:
        words = shlex.split(rest)
    except ValueError:
        return None
    return [re.sub(r"^\./", "", w) for w in words if not re.match(r"^\d?>", w)]


def artifact_route(workflow: Workflow, job: Job, gate: Command) -> bool:
    """The candidate metrics reach the gate's job as an artifact from a job it waits for."""
    downloads = any(
        s.action("actions/download-artifact") and s.index < gate.step.index for s in job.steps
    )
    return downloads and any(
        j.first("train") is not None and any(s.action("actions/upload-artifact") for s in j.steps)
        for j in workflow.closure(job)
    )


@pytest.mark.task(4)
def test_gate_runs_after_the_tests(workflow):
    need_steps(workflow)
    gates = workflow.commands("gate")
    if not gates:
        fail(
            "no step runs the evaluation gate: add a step `run: python eval_gate.py` after the tests"
        )
    problems = []
    for gate in gates:
        job = gate.job
        before = job.kinds_before(gate.order)
        waited = {k for j in workflow.closure(job) for k in {c.kind for c in j.commands}}
        missing = [k for k in TOOL_NAMES if k not in before and k not in waited]
        later = [c for c in job.commands if c.kind in missing and c.order > gate.order]
        if later:
            shown_later = ", ".join(f"`{c.text}`" for c in later)
            problems.append(
                f"the gate ({gate.step.label()}) runs before {shown_later} in the same job: "
                "evaluate only code that passed its checks, so move the gate (and train.py) "
                "after lint, type-check and tests"
            )
        late = {c.kind for c in later}
        parallel: dict[str, list[str]] = {}
        for kind in missing:
            if kind in late:
                continue
            owner = next(
                (j.id for j in workflow.jobs.values() if j is not job and j.first(kind)), None
            )
            if owner is None:
                problems.append(f"nothing runs `{TOOL_NAMES[kind]}` before the gate")
            else:
                parallel.setdefault(owner, []).append(TOOL_NAMES[kind])
        for owner, names in parallel.items():
            problems.append(
                f"the gate runs in job `{job.id}`, which does not wait for job `{owner}` (where "
                f"{', '.join(f'`{n}`' for n in names)} run): jobs run in parallel unless "
                "`needs:` orders them, so the gate runs before the checks finish, even when "
                f"they fail. Add `needs: {owner}` to job `{job.id}`"
            )
        if "train" not in before and not artifact_route(workflow, job, gate):
            elsewhere = [j.id for j in workflow.jobs.values() if j is not job and j.first("train")]
            problems.append(
                f"job `{job.id}` runs the gate without running `python train.py` before it"
                + (
                    f" (it runs in job `{elsewhere[0]}`, but each job starts on a fresh runner, "
                    "so its metrics/candidate.json is not here unless it travels as an artifact)"
                    if elsewhere
                    else ""
                )
                + ": the gate would compare a file nobody wrote in this run"
            )
    if problems:
        fail("; ".join(dict.fromkeys(problems)))


@pytest.mark.task(4)
def test_gate_failure_fails_the_run(workflow):
    need_steps(workflow)
    gates = workflow.commands("gate")
    if not gates:
        raise NotImplementedError("no gate step yet (the check above says so)")
    problems = []
    for gate in gates:
        if gate.swallowed:
            problems.append(
                f"`{gate.text}` is followed by {gate.swallowed}: the gate's exit status 1 is "
                "thrown away, so a regressed model passes CI"
            )
        if truthy(gate.step.data.get("continue-on-error")):
            problems.append(
                f"the gate ({gate.step.label()}) has `continue-on-error: true`: a regressed model "
                "shows a warning and the run still passes. A gate that cannot fail is not a gate"
            )
        elif gate.job.soft():
            problems.append(
                f"job `{gate.job.id}`, which runs the gate, has `continue-on-error: true`: a "
                "regressed model still leaves the run green"
            )
        condition = str(gate.step.data.get("if", ""))
        if re.search(r"\bfalse\b", condition) and "==" not in condition and "!=" not in condition:
            problems.append(f"the gate ({gate.step.label()}) has `if: {condition}` and never runs")
        elif skip := skip_condition(gate):
            problems.append(skip)
        args = gate_arguments(gate)
        if args is None:
            continue
        if any(a.startswith("-") for a in args):
            problems.append(
                f"`{gate.text}` passes options {args}; the gate takes two paths: "
                "`python eval_gate.py metrics/candidate.json metrics/baseline.json`"
            )
            continue
        want = [TRAIN_OUTPUT, BASELINE_FILE][: len(args)]
        if args[:2] == [BASELINE_FILE, TRAIN_OUTPUT]:
            problems.append(
                f"`{gate.text}` passes the baseline first and the candidate second: the gate "
                "takes CANDIDATE then BASELINE, so with the two swapped a regression reads as "
                "an improvement and passes"
            )
        elif len(args) > 2:
            problems.append(f"`{gate.text}` passes {len(args)} arguments; the gate takes two")
        elif args != want:
            wrong = next(a for a, w in zip(args, want, strict=False) if a != w)
            problems.append(
                f"`{gate.text}` reads {wrong}, but train.py writes {TRAIN_OUTPUT} and the "
                f"baseline is {BASELINE_FILE}: the gate would stop with status 2 (or compare "
                "the wrong files)"
            )
    if problems:
        fail("; ".join(problems))
