"""Which MLOps maturity level a pipeline project reaches, with the evidence for each criterion.

The roadmap's three levels (``mlops_maturity`` in the phase-4 data): 1 a model trained by hand,
2 training that runs as a pipeline by itself when new data lands, with automatic validation and
tests, 3 the pipeline and the model built, tested and deployed by CI/CD with no manual step.
Level N is reached when every criterion of levels 1..N holds, so the report also says what the
next level is missing.

Everything is read statically (nothing runs).  Code criteria count only code the learner wrote
or changed: the scaffold's own pipeline is aipath's work and earns no level.  Workflow criteria
accept the scaffold's workflow files even unchanged, because a workflow only automates: what it
runs must already be the learner's for level 2 to hold.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aipath.portfolio.audit.context import AuditContext, PyModule, call_name
from aipath.portfolio.audit.discipline import TEST_COMMANDS
from aipath.portfolio.audit.models import Evidence, MaturityCriterion, MaturityReport, Status
from aipath.portfolio.audit.registry import Outcome, check, ev

__all__ = ["assess_maturity"]

FIT_CALLS = frozenset({"fit", "partial_fit", "fit_predict", "train", "train_model", "fit_model"})
SAVE_CALLS = frozenset(
    {
        "dump",
        "save",
        "save_model",
        "log_model",
        "save_pretrained",
        "register",
        "register_model",
        "to_file",
    }
)
STEP_PATTERNS: dict[str, re.Pattern[str]] = {
    "validate": re.compile(r"validat|check_(batch|data|schema)|expectation|quality", re.I),
    "train": re.compile(r"train|(^|_)fit($|_)", re.I),
    "evaluate": re.compile(r"evaluat|score|compare|gate|decid|champion|challenger", re.I),
    "promote": re.compile(r"promot|deploy|publish|release|register|set_alias", re.I),
}
ORCHESTRATOR_DECORATORS = frozenset({"pipeline", "flow", "dag", "job", "asset", "component"})
SCHEDULE_KEYWORDS = frozenset({"schedule", "schedule_interval", "cron", "interval"})
GATE_TEST = re.compile(r"promot|champion|challenger|reject|gate|regress", re.I)
DEPLOY_COMMAND = re.compile(
    r"\bdocker\s+(build|push|buildx)|\bkubectl\s+(apply|set|rollout)|\bhelm\s+(upgrade|install)|"
    r"\bgcloud\s+run\s+deploy|\baws\s+(ecs|sagemaker|lambda|s3)|\baz\s+(ml|webapp|containerapp)|"
    r"\bflyctl\s+deploy|\bmodal\s+deploy|\bbentoml\s+(build|deploy)|\bmlflow\s+models\b|"
    r"\bgh\s+release|\btwine\s+upload|\bdeploy\b",
    re.I,
)
DEPLOY_ACTIONS = re.compile(
    r"^(docker/build-push-action|azure/.*deploy|google-github-actions/deploy|"
    r"aws-actions/amazon-ecs-deploy|appleboy/ssh-action|softprops/action-gh-release)",
    re.I,
)
PIPELINE_WORDS = re.compile(r"retrain|pipeline|train|promot|\brun\b|cycle|continuous", re.I)


@dataclass
class _Step:
    """One step of one workflow job, as a reader of the workflow sees it."""

    rel: str
    job: str
    index: int
    text: str  # the `run:` command or the `uses:` action
    uses: bool


@dataclass
class _Workflow:
    rel: str
    triggers: set[str]
    paths_filtered_push: bool
    jobs: dict[str, list[_Step]]
    needs: dict[str, set[str]]
    unchanged: bool

    @property
    def automatic(self) -> bool:
        """Starts without a person (a schedule, new data, a push) rather than only by hand."""
        return bool(self.triggers - {"workflow_dispatch"})

    @property
    def runs_unattended(self) -> bool:
        """Starts on a schedule or an event that is not a code change (new data landing)."""
        return bool(self.triggers & {"schedule", "repository_dispatch", "workflow_run"}) or (
            self.paths_filtered_push
        )


def _line_of(text: str, needle: str) -> int | None:
    first = needle.strip().splitlines()[0] if needle.strip() else ""
    if not first:
        return None
    return next((n for n, line in enumerate(text.splitlines(), 1) if first in line), None)


def _triggers(data: dict[Any, Any]) -> tuple[set[str], bool]:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    raw = data.get("on", data.get(True))
    if isinstance(raw, str):
        return {raw}, False
    if isinstance(raw, list):
        return {str(item) for item in raw}, False
    if isinstance(raw, dict):
        push = raw.get("push")
        paths = isinstance(push, dict) and bool(push.get("paths"))
        return {str(key) for key in raw}, paths
    return set(), False


def _workflows(ctx: AuditContext) -> list[_Workflow]:
    def read() -> list[_Workflow]:
        found = []
        for entry in ctx.files.entries:
            if not entry.rel.startswith(".github/workflows/") or entry.suffix not in {
                "yml",
                "yaml",
            }:
                continue
            parsed = ctx.yaml(entry.rel)
            data = parsed.data
            if parsed.error or not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
                continue
            triggers, paths = _triggers(data)
            jobs: dict[str, list[_Step]] = {}
            needs: dict[str, set[str]] = {}
            for name, job in data["jobs"].items():
                if not isinstance(job, dict):
                    continue
                raw_needs = job.get("needs")
                needs[str(name)] = (
                    {raw_needs}
                    if isinstance(raw_needs, str)
                    else {str(n) for n in raw_needs}
                    if isinstance(raw_needs, list)
                    else set()
                )
                raw_steps = job.get("steps")
                steps: list[Any] = raw_steps if isinstance(raw_steps, list) else []
                jobs[str(name)] = [
                    _Step(
                        entry.rel,
                        str(name),
                        index,
                        str(step.get("run") or step.get("uses") or ""),
                        "run" not in step,
                    )
                    for index, step in enumerate(steps)
                    if isinstance(step, dict)
                ]
            found.append(
                _Workflow(
                    entry.rel, triggers, paths, jobs, needs, entry.rel in ctx.unchanged_scaffold
                )
            )
        return found

    return ctx.memo("maturity.workflows", read)


def _step_evidence(step: _Step, ctx: AuditContext, detail: str, unchanged: bool) -> Evidence:
    text = ctx.files.read_text(step.rel) or ""
    suffix = " (the scaffold's workflow, unchanged)" if unchanged else ""
    return ev(f"{detail}{suffix}", step.rel, _line_of(text, step.text))


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _runs_tests(step: _Step) -> bool:
    return not step.uses and bool(TEST_COMMANDS.search(step.text))


def _runs_pipeline(step: _Step, entry_points: set[str]) -> bool:
    """A `run:` step that starts training: the project's own command or a pipeline word."""
    if step.uses or _runs_tests(step):
        return False
    words = set(re.findall(r"[\w.-]+", step.text))
    if words & entry_points and PIPELINE_WORDS.search(step.text):
        return True
    return bool(
        re.search(
            r"\b(python\s+(-m\s+)?\S*(train|pipeline|retrain)\S*|make\s+(train|retrain|pipeline)|"
            r"dvc\s+repro|kfp\s+run|airflow\s+dags\s+trigger|prefect\s+deployment\s+run)",
            step.text,
            re.I,
        )
    )


def _deploys(step: _Step) -> bool:
    if step.uses:
        return bool(DEPLOY_ACTIONS.match(step.text))
    return bool(DEPLOY_COMMAND.search(step.text))


def _entry_points(ctx: AuditContext) -> set[str]:
    """Console scripts declared in pyproject.toml: how a workflow calls the project."""
    py = ctx.pyproject
    data: Any = py.data if py is not None else None
    project: Any = data.get("project") if isinstance(data, dict) else None
    scripts: Any = project.get("scripts") if isinstance(project, dict) else None
    if not isinstance(scripts, dict):
        return set()
    return {str(name) for name in scripts}


def _named(
    functions: Iterable[tuple[PyModule, ast.FunctionDef | ast.AsyncFunctionDef]],
    pattern: re.Pattern[str],
) -> list[tuple[PyModule, ast.FunctionDef | ast.AsyncFunctionDef]]:
    return [
        (mod, fn)
        for mod, fn in functions
        if not fn.name.startswith("test") and pattern.search(fn.name)
    ]


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


# --- level 1 ---------------------------------------------------------------------------------


def _training_code(ctx: AuditContext) -> MaturityCriterion:
    functions = ctx.learner_functions(tests=False)
    fits = [
        ev(f"{name}(...) in {fn.name}()", mod.rel, call.lineno)
        for mod, fn in functions
        for name, call in _calls(fn)
        if name in FIT_CALLS
    ]
    saves = [
        ev(f"{name}(...) in {fn.name}()", mod.rel, call.lineno)
        for mod, fn in functions
        for name, call in _calls(fn)
        if name in SAVE_CALLS
    ]
    if not fits:
        # Changing the model a scaffold's training module builds makes its training yours.
        changed = {mod.rel for mod, _ in functions}
        fits = [
            ev(f"{fn.name}() changed in the module that trains", mod.rel, fn.lineno)
            for mod in ctx.source_modules
            if mod.rel in changed and any(name in FIT_CALLS for name, _ in mod.index.calls)
            for owner, fn in functions
            if owner is mod
        ]
    met = bool(fits)
    if met and saves:
        summary = "your code trains a model and saves it"
    elif met:
        summary = "your code trains a model (no save or registry call seen)"
    else:
        summary = "no training code you wrote or changed (the scaffold's own code earns nothing)"
    return MaturityCriterion(
        id="training_code",
        level=1,
        title="A model trained by code in the repository",
        met=met,
        summary=summary,
        evidence=[*fits[:2], *saves[:1]],
        fix=None
        if met
        else "Train your own model in the project's source (a function that calls .fit and saves "
        "or registers the result); change the scaffold's model to your problem and commit it.",
    )


# --- level 2 ---------------------------------------------------------------------------------


def _pipeline_steps(ctx: AuditContext) -> MaturityCriterion:
    sources = ctx.learner_functions(tests=False)
    found: dict[str, Evidence] = {}
    for step, pattern in STEP_PATTERNS.items():
        named = _named(sources, pattern)
        if named:
            mod, fn = named[0]
            found[step] = ev(f"{step}: {fn.name}()", mod.rel, fn.lineno)
    orchestrated = [
        ev(f"@{_decorator_name(d)} {fn.name}()", mod.rel, fn.lineno)
        for mod, fn in sources
        for d in fn.decorator_list
        if _decorator_name(d) in ORCHESTRATOR_DECORATORS
    ]
    required = ("validate", "train", "promote")
    missing = [s for s in required if s not in found]
    met = not missing
    if met:
        summary = (
            "validate → train → "
            + ("evaluate → " if "evaluate" in found else "")
            + ("promote steps in your code")
        )
    else:
        summary = f"missing step(s) in your code: {', '.join(missing)}"
    return MaturityCriterion(
        id="pipeline_steps",
        level=2,
        title="Validate → retrain → evaluate → promote as steps of one pipeline",
        met=met,
        summary=summary,
        evidence=[*found.values(), *orchestrated[:2]],
        fix=None
        if met
        else "Write the loop as named steps: validate the new batch, retrain on it, evaluate the "
        "candidate against the champion on the same held-out data, promote only if it wins "
        "(p4-continuous-training and p4-pipelines build them). The scaffold's own steps count "
        "once you have adapted them to your project.",
    )


def _trigger(ctx: AuditContext) -> MaturityCriterion:
    entry_points = _entry_points(ctx)
    hits: list[Evidence] = []
    manual: list[Evidence] = []
    for flow in _workflows(ctx):
        for steps in flow.jobs.values():
            for step in steps:
                if not _runs_pipeline(step, entry_points):
                    continue
                detail = f"runs `{_first_line(step.text)[:60]}`"
                if flow.runs_unattended:
                    on = ", ".join(
                        sorted(
                            flow.triggers
                            & {"schedule", "push", "repository_dispatch", "workflow_run"}
                        )
                    )
                    hits.append(_step_evidence(step, ctx, f"on {on}: {detail}", flow.unchanged))
                else:
                    manual.append(_step_evidence(step, ctx, detail, flow.unchanged))
    scheduled_code = [
        ev(f"{name}(... {kw.arg}=...)", mod.rel, call.lineno)
        for mod, fn in ctx.learner_functions(tests=False)
        for name, call in _calls(fn)
        for kw in call.keywords
        if kw.arg in SCHEDULE_KEYWORDS and name not in {"print", "dict"}
    ]
    hits += scheduled_code[:2]
    met = bool(hits)
    if met:
        summary = "training starts by itself (a schedule or new data)"
    elif manual:
        summary = "a workflow runs the pipeline, but only when someone starts it"
    else:
        summary = "nothing starts the pipeline without a person"
    return MaturityCriterion(
        id="trigger",
        level=2,
        title="Starts without a person: a schedule or new data",
        met=met,
        summary=summary,
        evidence=hits[:3] or manual[:2],
        fix=None
        if met
        else "Run the pipeline from a workflow with `on: schedule` (cron) or on a push that "
        "changes the data (`on: push: paths: [data/**]`), or from an orchestrator schedule.",
    )


def _gate_tests(ctx: AuditContext) -> MaturityCriterion:
    project_functions = {
        node.name
        for mod in ctx.source_modules
        if mod.tree is not None
        for node in ast.walk(mod.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    found = []
    for mod, fn in ctx.learner_functions(tests=True):
        if not fn.name.startswith("test"):
            continue
        calls = {name for name, _ in _calls(fn)}
        asserts = any(isinstance(node, ast.Assert) for node in ast.walk(fn)) or bool(
            calls & {"raises", "assert_called", "assert_frame_equal"}
        )
        lines = (ctx.files.read_text(mod.rel) or "").splitlines()
        body = "\n".join(lines[fn.lineno - 1 : fn.end_lineno or fn.lineno])
        if asserts and calls & project_functions and GATE_TEST.search(body):
            found.append(ev(f"{fn.name}()", mod.rel, fn.lineno))
    met = bool(found)
    return MaturityCriterion(
        id="gate_tests",
        level=2,
        title="Tests that the gate rejects a worse model",
        met=met,
        summary=f"{len(found)} test(s) of the promotion gate you wrote or changed"
        if met
        else "no test you wrote checks the promotion gate",
        evidence=found[:3],
        fix=None
        if met
        else "Test the gate with a model that must lose (a mean predictor, a degraded copy): it "
        "is rejected and the champion stays; and with one that must win.",
    )


def _calls(fn: ast.AST) -> list[tuple[str, ast.Call]]:
    """The calls inside one function, named as the module index names them."""
    return [(call_name(node), node) for node in ast.walk(fn) if isinstance(node, ast.Call)]


# --- level 3 ---------------------------------------------------------------------------------


def _ci_tests(ctx: AuditContext) -> MaturityCriterion:
    found = [
        _step_evidence(
            step,
            ctx,
            f"on {'/'.join(sorted(flow.triggers & {'push', 'pull_request'}))}: "
            f"`{_first_line(step.text)[:60]}`",
            flow.unchanged,
        )
        for flow in _workflows(ctx)
        if flow.triggers & {"push", "pull_request"}
        for steps in flow.jobs.values()
        for step in steps
        if _runs_tests(step)
    ]
    met = bool(found)
    return MaturityCriterion(
        id="ci_tests",
        level=3,
        title="Every change to the code runs the tests",
        met=met,
        summary="CI runs the tests on every push or pull request"
        if met
        else "no workflow runs the tests on push or pull request",
        evidence=found[:2],
        fix=None
        if met
        else "Add a workflow `on: [push, pull_request]` that installs the project and runs "
        "pytest (p4-ci-cd builds one).",
    )


def _gated(flow: _Workflow, job: str, index: int, wanted: Any) -> bool:
    """Some step before ``index`` in ``job``, or in a job it needs, satisfies ``wanted``."""
    if any(wanted(step) for step in flow.jobs.get(job, [])[:index]):
        return True
    seen: set[str] = set()
    todo = list(flow.needs.get(job, set()))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if any(wanted(step) for step in flow.jobs.get(name, [])):
            return True
        todo.extend(flow.needs.get(name, set()))
    return False


def _tests_before_training(ctx: AuditContext) -> MaturityCriterion:
    entry_points = _entry_points(ctx)
    found: list[Evidence] = []
    untested: list[Evidence] = []
    for flow in _workflows(ctx):
        if not flow.automatic:
            continue
        for job, steps in flow.jobs.items():
            for step in steps:
                if not _runs_pipeline(step, entry_points):
                    continue
                target = found if _gated(flow, job, step.index, _runs_tests) else untested
                target.append(
                    _step_evidence(step, ctx, f"`{_first_line(step.text)[:60]}`", flow.unchanged)
                )
    met = bool(found)
    return MaturityCriterion(
        id="tests_before_training",
        level=3,
        title="The automated run tests the code before it trains",
        met=met,
        summary="the automated pipeline run comes after the test suite"
        if met
        else "the automated pipeline runs without the test suite first"
        if untested
        else "no automated workflow runs the pipeline",
        evidence=found[:2] or untested[:2],
        fix=None
        if met
        else "In the workflow that retrains, run pytest before the pipeline step (or make the "
        "retraining job `needs:` the test job), so broken code never trains a model.",
    )


def _automated_deploy(ctx: AuditContext) -> MaturityCriterion:
    entry_points = _entry_points(ctx)
    found: list[Evidence] = []
    manual: list[Evidence] = []
    ungated: list[Evidence] = []

    def before(step: _Step) -> bool:
        return _runs_tests(step) or _runs_pipeline(step, entry_points)

    for flow in _workflows(ctx):
        for job, steps in flow.jobs.items():
            for step in steps:
                if not _deploys(step):
                    continue
                evidence = _step_evidence(
                    step, ctx, f"`{_first_line(step.text)[:60]}`", flow.unchanged
                )
                if not flow.automatic:
                    manual.append(evidence)
                elif _gated(flow, job, step.index, before):
                    found.append(evidence)
                else:
                    ungated.append(evidence)
    met = bool(found)
    if met:
        summary = "a deployment step runs by itself after the tests or the pipeline"
    elif ungated:
        summary = "a deployment step runs without tests or the pipeline before it"
    elif manual:
        summary = "deployment only when someone starts the workflow"
    else:
        summary = "no deployment step in any workflow"
    return MaturityCriterion(
        id="automated_deploy",
        level=3,
        title="The winner is deployed with no manual step",
        met=met,
        summary=summary,
        evidence=found[:2] or ungated[:2] or manual[:2],
        fix=None
        if met
        else "After the tests and the promotion gate, build and publish what serves the new "
        "champion (`docker build`/`push`, `kubectl apply`, a release) in a job that `needs:` the "
        "test job and runs on push to main or on the retraining schedule.",
    )


CRITERIA = (
    _training_code,
    _pipeline_steps,
    _trigger,
    _gate_tests,
    _ci_tests,
    _tests_before_training,
    _automated_deploy,
)


def assess_maturity(ctx: AuditContext) -> MaturityReport:
    """The level reached (0 when not even level 1 holds) and every criterion's finding."""

    def compute() -> MaturityReport:
        from aipath.roadmap import load_roadmap

        levels = {m.level: m for m in load_roadmap().mlops_maturity}
        criteria = [criterion(ctx) for criterion in CRITERIA]
        reached = 0
        for level in sorted(levels):
            if all(c.met for c in criteria if c.level <= level):
                reached = level
            else:
                break
        goal = max((m.level for m in levels.values() if m.goal), default=max(levels))
        title = levels[reached].title if reached in levels else "Not yet level 1"
        return MaturityReport(level=reached, goal=goal, title=title, criteria=criteria)

    return ctx.memo("maturity.report", compute)


@check(
    "maturity",
    "MLOps maturity level (1 manual, 2 pipeline, 3 CI/CD)",
    group="kind",
    weight=10,
    kinds=("pipeline",),
)
def maturity(ctx: AuditContext) -> Outcome:
    report = assess_maturity(ctx)
    missing = report.missing()
    summary = f"level {report.level} of {report.goal}: {report.title}"
    if missing:
        summary += f"; for level {report.level + 1}: " + "; ".join(c.title for c in missing)
    evidence = [
        ev(f"level {c.level}, {c.title.lower()}: {c.summary}")
        for c in report.criteria
        if not c.met and c.level <= report.level + 1
    ]
    status: Status = (
        "pass" if report.level >= report.goal else "warn" if report.level >= 2 else "fail"
    )
    fix = missing[0].fix if missing else None
    return Outcome(status, summary, evidence, fix=fix)
