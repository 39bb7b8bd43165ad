"""Checks for p4-pipelines: the components, the compiled pipeline spec, cache keys, the executor.

Task 1 runs each component the way its container would: the function's source is taken from the
compiled component (the code the image receives) and executed in a fresh namespace, with
artefacts whose paths lie in a scratch folder. Tasks 3 and 4 use the check's own copy of the
pipeline (compiled here), so that a bug in task 2 does not hide a correct cache or executor.
"""

import copy
import json
import math
import os
import re
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from google.protobuf import json_format
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output
from kfp.dsl.base_component import BaseComponent

from aipath.checks import (
    assert_array,
    assert_close,
    assert_returned,
    cached,
    call_learner,
    fail,
    fmt,
    matching_mistake,
    raised,
)

BASE_IMAGE = "python:3.11-slim"
PIPELINE_NAME = "churn-training"
COMPONENTS = ["load_data", "validate_data", "train_model", "evaluate_model", "deploy_model"]
CACHED_TASKS = ["load-data", "validate-data", "train-model", "evaluate-model"]
PARAMETERS = {  # name: (parameterType, default, Python spelling)
    "n_rows": ("NUMBER_INTEGER", 400, "n_rows: int = 400"),
    "seed": ("NUMBER_INTEGER", 7, "seed: int = 7"),
    "min_rows": ("NUMBER_INTEGER", 100, "min_rows: int = 100"),
    "test_fraction": ("NUMBER_DOUBLE", 0.25, "test_fraction: float = 0.25"),
    "learning_rate": ("NUMBER_DOUBLE", 0.5, "learning_rate: float = 0.5"),
    "epochs": ("NUMBER_INTEGER", 60, "epochs: int = 60"),
    "accuracy_threshold": ("NUMBER_DOUBLE", 0.8, "accuracy_threshold: float = 0.8"),
    "endpoint": ("STRING", "models/churn", 'endpoint: str = "models/churn"'),
}


# ----- the check's own components (the same code as the reference solution) ---------------------
@dsl.component(base_image=BASE_IMAGE)
def load_data(n_rows: int, seed: int, raw_data: Output[Dataset]):
    import random

    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for i in range(n_rows):
        x1 = round(rng.gauss(0.0, 1.0), 4)
        x2 = round(rng.gauss(0.0, 1.0), 4)
        label = 1 if x1 + 0.5 * x2 + rng.gauss(0.0, 0.5) > 0 else 0
        lines.append(f"{x1},{'' if i % 10 == 7 else x2},{label}")
    with open(raw_data.path, "w") as f:
        f.write("\n".join(lines) + "\n")


@dsl.component(base_image=BASE_IMAGE)
def validate_data(
    raw_data: Input[Dataset],
    min_rows: int,
    test_fraction: float,
    train_data: Output[Dataset],
    test_data: Output[Dataset],
) -> int:
    with open(raw_data.path) as f:
        header, *rows = f.read().splitlines()
    valid = [row for row in rows if all(value.strip() for value in row.split(","))]
    if len(valid) < min_rows:
        raise ValueError(f"only {len(valid)} valid rows; at least {min_rows} are needed")
    n_test = int(len(valid) * test_fraction)
    cut = len(valid) - n_test
    with open(train_data.path, "w") as f:
        f.write("\n".join([header, *valid[:cut]]) + "\n")
    with open(test_data.path, "w") as f:
        f.write("\n".join([header, *valid[cut:]]) + "\n")
    return len(valid)


@dsl.component(base_image=BASE_IMAGE)
def train_model(
    train_data: Input[Dataset], learning_rate: float, epochs: int, model: Output[Model]
):
    import json
    import math

    with open(train_data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f.read().splitlines()[1:]]
    w1 = w2 = b = 0.0
    n = len(rows)
    for _ in range(epochs):
        g1 = g2 = gb = 0.0
        for x1, x2, y in rows:
            p = 1.0 / (1.0 + math.exp(-(w1 * x1 + w2 * x2 + b)))
            g1 += (p - y) * x1
            g2 += (p - y) * x2
            gb += p - y
        w1 -= learning_rate * g1 / n
        w2 -= learning_rate * g2 / n
        b -= learning_rate * gb / n
    with open(model.path, "w") as f:
        json.dump({"w": [w1, w2], "b": b}, f)


@dsl.component(base_image=BASE_IMAGE)
def evaluate_model(
    test_data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]
) -> float:
    import json

    with open(model.path) as f:
        params = json.load(f)
    (w1, w2), b = params["w"], params["b"]
    with open(test_data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f.read().splitlines()[1:]]
    correct = sum((1 if w1 * x1 + w2 * x2 + b > 0 else 0) == int(y) for x1, x2, y in rows)
    accuracy = correct / len(rows)
    metrics.log_metric("accuracy", accuracy)
    metrics.log_metric("test_rows", len(rows))
    return accuracy


@dsl.component(base_image=BASE_IMAGE)
def deploy_model(model: Input[Model], endpoint: str, accuracy: float) -> str:
    import hashlib

    with open(model.path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    return f"{endpoint}@{digest}"


REFERENCE = {
    "load_data": load_data,
    "validate_data": validate_data,
    "train_model": train_model,
    "evaluate_model": evaluate_model,
    "deploy_model": deploy_model,
}


def _reference_pipeline():
    @dsl.pipeline(name=PIPELINE_NAME)
    def churn_training(
        n_rows: int = 400,
        seed: int = 7,
        min_rows: int = 100,
        test_fraction: float = 0.25,
        learning_rate: float = 0.5,
        epochs: int = 60,
        accuracy_threshold: float = 0.8,
        endpoint: str = "models/churn",
    ):
        load = load_data(n_rows=n_rows, seed=seed)
        validate = validate_data(
            raw_data=load.outputs["raw_data"], min_rows=min_rows, test_fraction=test_fraction
        )
        train = train_model(
            train_data=validate.outputs["train_data"], learning_rate=learning_rate, epochs=epochs
        )
        evaluate = evaluate_model(
            test_data=validate.outputs["test_data"], model=train.outputs["model"]
        )
        with dsl.If(evaluate.outputs["Output"] >= accuracy_threshold, name="accurate-enough"):
            deploy = deploy_model(
                model=train.outputs["model"], endpoint=endpoint, accuracy=evaluate.outputs["Output"]
            )
            deploy.set_caching_options(False)

    return churn_training


@cached
def _reference_spec_text() -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pipeline.yaml"
        compiler.Compiler().compile(_reference_pipeline(), str(path))
        return path.read_text()


@cached
def reference_spec() -> dict[str, Any]:
    """A fresh copy of the check's compiled pipeline (learner code may edit what it is given).

    Parsed once, with libyaml where PyYAML has it: the pure-Python loader takes a large share
    of a second for this spec, and the checks ask for ~30 copies (`cached` hands out a fresh
    copy of every dict and list).
    """
    return _load_yaml(_reference_spec_text())


def _load_yaml(text: str) -> Any:
    """yaml.safe_load, through libyaml's CSafeLoader when available (the same result, ~10x faster)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# ----- running a component as its container would -----------------------------------------------
def _component_dict(component: Any) -> dict[str, Any]:
    return json_format.MessageToDict(component.pipeline_spec)


def _as_component(learner: Any, name: str) -> BaseComponent:
    value = getattr(learner, name, None)
    if value is None:
        fail(f"exercise.py has no `{name}`")
    if not isinstance(value, BaseComponent):
        fail(
            f"`{name}` is a {type(value).__name__}, not a KFP component: keep the "
            "`@dsl.component(base_image=BASE_IMAGE)` decorator on it"
        )
    return value


def _interface(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{'inputs'|'outputs': {name: type}} of a one-component pipeline spec."""
    root = spec["root"]
    out: dict[str, dict[str, str]] = {}
    for side, key in (("inputs", "inputDefinitions"), ("outputs", "outputDefinitions")):
        found = {}
        for name, definition in root.get(key, {}).get("parameters", {}).items():
            found[name] = definition["parameterType"]
        for name, definition in root.get(key, {}).get("artifacts", {}).items():
            found[name] = definition["artifactType"]["schemaTitle"]
        out[side] = found
    return out


def check_interface(learner: Any, name: str) -> BaseComponent:
    component = _as_component(learner, name)
    got = _interface(_component_dict(component))
    want = _interface(_component_dict(REFERENCE[name]))
    for side in ("inputs", "outputs"):
        for key, kind in want[side].items():
            if key not in got[side]:
                other = "outputs" if side == "inputs" else "inputs"
                where = f" (it is among its {other}: Input[...] and Output[...] swapped?)"
                fail(
                    f"{name} has no {side[:-1]} `{key}`"
                    + (where if key in got[other] else "")
                    + "; keep the signature the starter gives"
                )
            if got[side][key] != kind:
                fail(
                    f"{name}'s {side[:-1]} `{key}` compiles to {got[side][key]}; expected {kind} "
                    "(keep the signature's type annotation)"
                )
        extra = sorted(set(got[side]) - set(want[side]))
        if extra:
            fail(f"{name} has unexpected {side} {extra}; keep the signature the starter gives")
    if component.component_spec.implementation.container.image != BASE_IMAGE:
        fail(
            f"{name} runs in {component.component_spec.implementation.container.image!r}; "
            f"expected base_image=BASE_IMAGE ({BASE_IMAGE!r})"
        )
    return component


def container_function(component: BaseComponent, name: str) -> Any:
    """The function as the container defines it: only its source, kfp's star imports, no module."""
    command = component.component_spec.implementation.container.command
    namespace: dict[str, Any] = {"__name__": "ephemeral_component"}
    exec(compile(command[-1], f"<{name} as its container sees it>", "exec"), namespace)
    return namespace[name]


def run_component(component: BaseComponent, name: str, folder: Path, **kwargs: Any) -> Any:
    """Call the containerised function in `folder` (its current folder) and report NameErrors."""
    func = container_function(component, name)
    before = os.getcwd()
    os.chdir(folder)
    try:
        return func(**kwargs)
    except NameError as exc:
        missing = re.search(r"name '(\w+)' is not defined", str(exc))
        fail(
            f"{name} raised NameError in its container: `{missing.group(1) if missing else exc}` "
            "is not defined there. A lightweight component ships only its own source: import "
            "what it uses (json, math, hashlib) inside the function, and do not call helpers "
            "defined elsewhere in exercise.py"
        )
    except NotImplementedError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError) as exc:
        fail(f"{name}(...) raised {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        os.chdir(before)


# The first known mistake whose output equals `got` exactly (strings, lists of rows, keys).
_which = partial(matching_mistake, exact=True)


def _stray_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _artifact(kind: type, folder: Path, name: str) -> Any:
    return kind(name=name, uri=str(folder / name))


def _raw(tmp: Path, n_rows: int = 400, seed: int = 7) -> Path:
    folder = tmp / f"raw-{n_rows}-{seed}"
    folder.mkdir(exist_ok=True)
    load_data.python_func(n_rows=n_rows, seed=seed, raw_data=_artifact(Dataset, folder, "raw"))
    return folder / "raw"


def _call_validate(component, tmp: Path, raw: Path, min_rows: int, test_fraction: float, tag: str):
    out = tmp / f"out-{tag}"
    cwd = tmp / f"cwd-{tag}"
    out.mkdir()
    cwd.mkdir()
    train = _artifact(Dataset, out, "train_data")
    test = _artifact(Dataset, out, "test_data")
    returned = run_component(
        component,
        "validate_data",
        cwd,
        raw_data=Dataset(name="raw_data", uri=str(raw)),
        min_rows=min_rows,
        test_fraction=test_fraction,
        train_data=train,
        test_data=test,
    )
    return returned, out, cwd


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _written(out: Path, cwd: Path, name: str, artefact: str) -> Path:
    path = out / artefact
    if not path.exists():
        stray = _stray_files(cwd)
        where = f"; it wrote {stray} in the current folder instead" if stray else ""
        fail(
            f"{name} wrote nothing at {artefact}.path{where}. An output artefact goes to the "
            f"path the backend chose: open({artefact}.path, 'w'), never a path of your own"
        )
    return path


# ----- task 1 ------------------------------------------------------------------------------------
def _raw_gaps(tmp: Path) -> Path:
    """40 hand-made rows whose empty field is sometimes x1 or the label, not only x2."""
    lines = ["x1,x2,label"]
    for i in range(40):
        x1, x2, label = f"{(i % 7) / 4 - 0.8:.2f}", f"{(i % 5) / 3 - 0.6:.3f}", str(i % 2)
        gap = i % 6
        lines.append(
            ",".join(
                [
                    "" if gap == 1 else x1,
                    "" if gap == 3 else x2,
                    "" if gap == 5 else label,
                ]
            )
        )
    path = tmp / "raw-gaps"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.task(1)
def test_validate_data_keeps_valid_rows_and_splits(learner, tmp_path):
    component = check_interface(learner, "validate_data")
    cases = [
        (_raw(tmp_path, 400, 7), "400 generated rows", 0.25, "400-7"),
        (_raw(tmp_path, 57, 3), "57 generated rows", 0.3, "57-3"),
        (_raw_gaps(tmp_path), "40 rows with an empty x1, x2 or label", 0.25, "gaps"),
    ]
    for raw, described, fraction, tag in cases:
        returned, out, cwd = _call_validate(component, tmp_path, raw, 10, fraction, tag)
        header, *rows = _lines(raw)
        valid = [r for r in rows if all(v.strip() for v in r.split(","))]
        n_test = int(len(valid) * fraction)
        cut = len(valid) - n_test
        train_lines = _lines(_written(out, cwd, "validate_data", "train_data"))
        test_lines = _lines(_written(out, cwd, "validate_data", "test_data"))
        what = f"validate_data on {described} ({len(valid)} valid), test_fraction {fraction}"
        middle = [r for r in rows if ",," not in r]  # only an empty x2 noticed
        middle_cut = len(middle) - int(len(middle) * fraction)
        for label, got, want in (
            ("train_data", train_lines, [header, *valid[:cut]]),
            ("test_data", test_lines, [header, *valid[cut:]]),
        ):
            if got == want:
                continue
            if not got or got[0] != header:
                fail(f"{what}: {label} starts with {fmt(got[:1])}; expected the header {header!r}")
            mistake = _which(
                got[1:],
                {
                    "rows with an empty field kept": (
                        rows[: len(rows) - int(len(rows) * fraction)]
                        if label == "train_data"
                        else rows[len(rows) - int(len(rows) * fraction) :]
                    ),
                    "only an empty middle field noticed (',,' or x2): rows whose x1 or "
                    "label is empty kept": (
                        middle[:middle_cut] if label == "train_data" else middle[middle_cut:]
                    ),
                    "the test rows taken from the start of the file": (
                        valid[n_test:] if label == "train_data" else valid[:n_test]
                    ),
                    "the test share rounded up or to nearest": (
                        valid[: len(valid) - math.ceil(len(valid) * fraction)]
                        if label == "train_data"
                        else valid[len(valid) - math.ceil(len(valid) * fraction) :]
                    ),
                    "train_data and test_data swapped": (
                        valid[cut:] if label == "train_data" else valid[:cut]
                    ),
                },
            )
            clue = f": it looks like {mistake}" if mistake else ""
            count = (
                f"has {len(got) - 1} data rows; expected {len(want) - 1}"
                if len(got) != len(want)
                else f"has the right number of rows ({len(want) - 1}) but not the right ones"
            )
            fail(
                f"{what}: {label} {count} "
                f"(the valid rows{' except' if label == 'train_data' else ','} the last "
                f"int(n_valid * test_fraction) = {n_test}){clue}"
            )
        if returned != len(valid) or isinstance(returned, bool):
            fail(
                f"{what} returned {fmt(returned)}; expected the number of valid rows, {len(valid)}"
            )


@pytest.mark.task(1)
def test_validate_data_enforces_min_rows(learner, tmp_path):
    component = check_interface(learner, "validate_data")
    raw = _raw(tmp_path)  # 360 valid rows of 400
    above = raised(_call_validate, component, tmp_path, raw, 361, 0.25, "above")
    if above is None:
        beyond = raised(_call_validate, component, tmp_path, raw, 401, 0.25, "beyond")
        if beyond is not None:
            fail(
                "validate_data with 400 rows of which 360 are valid and min_rows=361 returned; "
                "expected ValueError: count the valid rows, not all the rows of the file"
            )
        fail("validate_data with 360 valid rows and min_rows=361 returned; expected ValueError")
    if "ValueError" not in str(above):
        fail(
            "validate_data with 360 valid rows and min_rows=361 raised "
            f"{type(above).__name__}: {str(above)[:200]}; expected ValueError"
        )
    error = raised(_call_validate, component, tmp_path, raw, 360, 0.25, "equal")
    if error is not None:
        fail(
            "validate_data with exactly 360 valid rows and min_rows=360 raised "
            f"{str(error)[:200]}; min_rows valid rows are enough (fewer than min_rows fail)"
        )


def _reference_weights(rows: list[list[float]], lr: float, epochs: int, variant: str = "") -> dict:
    w1 = w2 = b = 0.0
    n = len(rows)
    extra = {"one epoch too many": 1, "one epoch too few": -1}.get(variant, 0)
    for _ in range(epochs + extra):
        if variant.startswith("stochastic"):
            scale = n if variant == "stochastic 1/n" else 1
            for x1, x2, y in rows:
                p = 1.0 / (1.0 + math.exp(-(w1 * x1 + w2 * x2 + b)))
                w1 -= lr * (p - y) * x1 / scale
                w2 -= lr * (p - y) * x2 / scale
                b -= lr * (p - y) / scale
            continue
        g1 = g2 = gb = 0.0
        for x1, x2, y in rows:
            p = 1.0 / (1.0 + math.exp(-(w1 * x1 + w2 * x2 + b)))
            g1 += (p - y) * x1
            g2 += (p - y) * x2
            gb += p - y
        scale = 1 if variant == "summed" else n
        sign = -1 if variant == "ascent" else 1
        w1 -= sign * lr * g1 / scale
        w2 -= sign * lr * g2 / scale
        if variant != "no bias":
            b -= sign * lr * gb / scale
    return {"w": [w1, w2], "b": b}


def _train_rows(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split(",")] for line in _lines(path)[1:]]


@cached
def _split(tmp: str) -> tuple[str, str]:
    folder = Path(tmp) / "split"
    folder.mkdir()
    validate_data.python_func(
        raw_data=Dataset(uri=str(_raw(Path(tmp)))),
        min_rows=100,
        test_fraction=0.25,
        train_data=_artifact(Dataset, folder, "train"),
        test_data=_artifact(Dataset, folder, "test"),
    )
    return str(folder / "train"), str(folder / "test")


@pytest.mark.task(1)
def test_train_model_gradient_descent(learner, tmp_path):
    component = check_interface(learner, "train_model")
    train_path = Path(_split(str(tmp_path))[0])
    rows = _train_rows(train_path)
    for lr, epochs in ((0.5, 60), (1.5, 7)):
        out, cwd = tmp_path / f"out-{lr}", tmp_path / f"cwd-{lr}"
        out.mkdir()
        cwd.mkdir()
        run_component(
            component,
            "train_model",
            cwd,
            train_data=Dataset(name="train_data", uri=str(train_path)),
            learning_rate=lr,
            epochs=epochs,
            model=_artifact(Model, out, "model"),
        )
        path = _written(out, cwd, "train_model", "model")
        try:
            got = json.loads(path.read_text())
        except ValueError:
            fail(f"train_model wrote {path.read_text()[:80]!r} to model.path; expected JSON")
        if not isinstance(got, dict) or set(got) != {"w", "b"}:
            fail(f'train_model wrote {fmt(got)}; expected an object {{"w": [w1, w2], "b": b}}')
        want = _reference_weights(rows, lr, epochs)
        flat = [*got["w"], got["b"]] if isinstance(got["w"], list) and len(got["w"]) == 2 else None
        if flat is None:
            fail(f"train_model wrote w = {fmt(got['w'])}; expected a list [w1, w2]")
        mistakes = {
            description: (
                lambda v=variant, lr=lr, epochs=epochs: np.array(
                    [*(m := _reference_weights(rows, lr, epochs, v))["w"], m["b"]]
                )
            )
            for description, variant in (
                (
                    "per-row (stochastic) updates instead of one full-batch step per epoch",
                    "stochastic",
                ),
                ("the summed gradient, not its mean over the rows", "summed"),
                ("a step up the gradient (+=): gradient ascent", "ascent"),
                ("the bias never updated", "no bias"),
                (
                    "per-row updates (each scaled by 1/n) instead of one full-batch step per "
                    "epoch: every row moves the weights before the next row's p is computed",
                    "stochastic 1/n",
                ),
                ("one epoch too many", "one epoch too many"),
                ("one epoch too few (epochs - 1 steps: range(1, epochs)?)", "one epoch too few"),
            )
        }
        assert_array(
            np.array(flat, dtype=float),
            np.array([*want["w"], want["b"]]),
            name=f"[w1, w2, b] after train_model(learning_rate={lr}, epochs={epochs})",
            rtol=1e-7,
            atol=1e-9,
            mistakes=mistakes,
        )


@pytest.mark.task(1)
def test_evaluate_model_accuracy_and_metrics(learner, tmp_path):
    component = check_interface(learner, "evaluate_model")
    train_path, test_path = map(Path, _split(str(tmp_path)))
    rows = _train_rows(test_path)
    for tag, params in (
        ("trained", _reference_weights(_train_rows(train_path), 0.5, 60)),
        ("hand-made", {"w": [0.3, -1.2], "b": 0.4}),
    ):
        model_path = tmp_path / f"model-{tag}"
        model_path.write_text(json.dumps(params))
        out, cwd = tmp_path / f"out-{tag}", tmp_path / f"cwd-{tag}"
        out.mkdir()
        cwd.mkdir()
        metrics = _artifact(Metrics, out, "metrics")
        returned = run_component(
            component,
            "evaluate_model",
            cwd,
            test_data=Dataset(name="test_data", uri=str(test_path)),
            model=Model(name="model", uri=str(model_path)),
            metrics=metrics,
        )
        (w1, w2), b = params["w"], params["b"]
        hits = [(1 if w1 * x1 + w2 * x2 + b > 0 else 0) == int(y) for x1, x2, y in rows]
        want = sum(hits) / len(rows)
        returned = assert_returned(returned, "evaluate_model(...)", what="the accuracy")
        if isinstance(returned, bool) or not isinstance(returned, (int, float)):
            fail(f"evaluate_model returned {fmt(returned)}; expected the accuracy as a float")
        assert_close(
            returned,
            want,
            name=f"evaluate_model(...) with the {tag} model",
            rtol=1e-12,
            mistakes={
                "the number of correct rows, not their share": sum(hits),
                "the error rate (1 - accuracy)": 1 - want,
                "the prediction 1 when w·x + b < 0 (inverted)": 1 - want,
                "a percentage (x 100), not a share between 0 and 1": 100 * want,
                "the header line counted as a test row": sum(hits) / (len(rows) + 1),
                "the prediction 1 for every row (is the test on the sigmoid, p > 0? "
                "predict 1 where w1*x1 + w2*x2 + b > 0)": sum(int(y) == 1 for *_, y in rows)
                / len(rows),
            },
        )
        logged = metrics.metadata
        if "accuracy" not in logged:
            fail(
                f"evaluate_model logged {sorted(logged)} on its Metrics artefact; expected "
                'metrics.log_metric("accuracy", accuracy) (and "test_rows")'
            )
        assert_close(logged["accuracy"], want, name='the logged metric "accuracy"', rtol=1e-12)
        if logged.get("test_rows") != len(rows):
            clue = (
                ": the header line counted as a row"
                if logged.get("test_rows") == len(rows) + 1
                else ""
            )
            fail(
                f'evaluate_model logged "test_rows" = {fmt(logged.get("test_rows"))}; '
                f"expected {len(rows)}{clue}"
            )


@pytest.mark.task(1)
def test_deploy_model_address(learner, tmp_path):
    import hashlib

    component = check_interface(learner, "deploy_model")
    model_path = tmp_path / "model"
    model_path.write_text('{"w": [0.25, -1.5], "b": 0.125}')
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    got = run_component(
        component,
        "deploy_model",
        cwd,
        model=Model(name="model", uri=str(model_path)),
        endpoint="models/test",
        accuracy=0.9,
    )
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    want = f"models/test@{digest[:12]}"
    parsed = json.loads(model_path.read_text())
    if got != want:
        mistake = _which(
            got,
            {
                "the full digest, not its first 12 characters": f"models/test@{digest}",
                "the digest of the path, not of the file's bytes": "models/test@"
                + hashlib.sha256(str(model_path).encode()).hexdigest()[:12],
                "the digest of the artefact's uri, not of the file's bytes": "models/test@"
                + hashlib.sha256(f"{model_path}".encode()).hexdigest()[:12],
                "a hard-coded endpoint instead of the parameter": f"models/churn@{digest[:12]}",
                **{
                    f"{algo.upper()}, not SHA-256": "models/test@"
                    + hashlib.new(algo, model_path.read_bytes()).hexdigest()[:12]
                    for algo in ("md5", "sha1", "sha512", "sha3_256", "blake2b")
                },
                **{
                    f"the digest of the model parsed and written again ({how}), not of the "
                    "file's bytes as they are": "models/test@"
                    + hashlib.sha256(dumped.encode()).hexdigest()[:12]
                    for how, dumped in (
                        ("json.dumps(..., sort_keys=True)", json.dumps(parsed, sort_keys=True)),
                        ("compact json.dumps", json.dumps(parsed, separators=(",", ":"))),
                        ("str() of the dict", str(parsed)),
                    )
                },
            },
        )
        clue = f": it looks like {mistake}" if mistake else ""
        fail(f"deploy_model(endpoint='models/test') returned {fmt(got)}; expected {want!r}{clue}")


# ----- task 2: the compiled spec -----------------------------------------------------------------
@cached
def learner_spec_of(learner: Any) -> dict[str, Any]:
    """The learner's pipeline, compiled by their compile_pipeline into a scratch folder, parsed."""
    import tempfile

    pipeline = learner.build_pipeline()
    assert_returned(pipeline, "build_pipeline()", what="the @dsl.pipeline function")
    if not isinstance(pipeline, BaseComponent) or not hasattr(pipeline, "pipeline_func"):
        fail(
            f"build_pipeline() returned a {type(pipeline).__name__}; expected the function "
            "decorated with @dsl.pipeline (return it, do not call it)"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pipeline.yaml"
        call_learner("compile_pipeline(path)", learner.compile_pipeline, path)
        if not path.exists():
            fail("compile_pipeline(path) wrote no file at path: compile to the path it is given")
        text = path.read_text()
    try:
        spec = _load_yaml(text)
    except yaml.YAMLError as exc:
        fail(f"the file compile_pipeline wrote is not YAML: {str(exc)[:200]}")
    if not isinstance(spec, dict) or "root" not in spec:
        fail("the file compile_pipeline wrote is not a compiled pipeline (no `root`)")
    return spec


class Graph:
    """The compiled spec read as tasks of components, nested groups resolved to their sources."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components = spec.get("components", {})
        self.tasks: dict[
            str, tuple[str, dict[str, Any], str | None]
        ] = {}  # name: (dag, task, group)
        self.group_task: dict[str, tuple[str, str]] = {}  # group component: (its dag, its task)
        self._walk("root", spec["root"]["dag"]["tasks"], None)

    def _walk(self, dag: str, tasks: dict[str, Any], group: str | None) -> None:
        for name, task in tasks.items():
            ref = task["componentRef"]["name"]
            component = self.components.get(ref, {})
            if "dag" in component:
                self.group_task[ref] = (dag, name)
                self._walk(ref, component["dag"]["tasks"], ref)
            else:
                self.tasks[name] = (dag, task, group)

    def dag_tasks(self, dag: str) -> dict[str, Any]:
        if dag == "root":
            return self.spec["root"]["dag"]["tasks"]
        return self.components[dag]["dag"]["tasks"]

    def find(self, component: str) -> list[str]:
        """The task names that run comp-<component>."""
        ref = "comp-" + component.replace("_", "-")
        return [
            name
            for name, (_, task, _) in self.tasks.items()
            if re.fullmatch(re.escape(ref) + r"(-\d+)?", task["componentRef"]["name"])
        ]

    def resolve(self, dag: str, kind: str, source: dict[str, Any]) -> tuple:
        """Where an input comes from: ('param', name), ('const', v), ('output', task, key)."""
        while True:
            if kind == "parameters":
                if "componentInputParameter" in source:
                    name = source["componentInputParameter"]
                    if dag == "root":
                        return ("param", name)
                    parent, task = self.group_task[dag]
                    source = self.dag_tasks(parent)[task]["inputs"]["parameters"][name]
                    dag = parent
                    continue
                if "runtimeValue" in source:
                    return ("const", source["runtimeValue"].get("constant"))
                if "taskOutputParameter" in source:
                    out = source["taskOutputParameter"]
                    return ("output", out["producerTask"], out["outputParameterKey"])
                return ("unknown", json.dumps(source))
            if "componentInputArtifact" in source:
                name = source["componentInputArtifact"]
                if dag == "root":
                    return ("param", name)
                parent, task = self.group_task[dag]
                source = self.dag_tasks(parent)[task]["inputs"]["artifacts"][name]
                dag = parent
                continue
            if "taskOutputArtifact" in source:
                out = source["taskOutputArtifact"]
                return ("output", out["producerTask"], out["outputArtifactKey"])
            return ("unknown", json.dumps(source))


def _one_task(graph: Graph, component: str) -> str:
    found = graph.find(component)
    if not found:
        fail(f"the compiled pipeline has no task running {component}: call {component}(...) in it")
    if len(found) > 1:
        fail(f"the compiled pipeline runs {component} {len(found)} times ({found}); expected once")
    return found[0]


def _describe(source: tuple, graph: Graph) -> str:
    if source[0] == "param":
        return f"the pipeline parameter `{source[1]}`"
    if source[0] == "const":
        return f"the constant {source[1]!r}"
    if source[0] == "output":
        _, task, _ = graph.tasks.get(source[1], ("", {}, None))
        what = task.get("componentRef", {}).get("name", source[1]).removeprefix("comp-")
        return f"the output `{source[2]}` of {what}"
    return source[1]


# Each component's inputs: name -> (kind, expected source); sources name components, not tasks.
EDGES: dict[str, dict[str, tuple[str, tuple]]] = {
    "load_data": {
        "n_rows": ("parameters", ("param", "n_rows")),
        "seed": ("parameters", ("param", "seed")),
    },
    "validate_data": {
        "raw_data": ("artifacts", ("output", "load_data", "raw_data")),
        "min_rows": ("parameters", ("param", "min_rows")),
        "test_fraction": ("parameters", ("param", "test_fraction")),
    },
    "train_model": {
        "train_data": ("artifacts", ("output", "validate_data", "train_data")),
        "learning_rate": ("parameters", ("param", "learning_rate")),
        "epochs": ("parameters", ("param", "epochs")),
    },
    "evaluate_model": {
        "test_data": ("artifacts", ("output", "validate_data", "test_data")),
        "model": ("artifacts", ("output", "train_model", "model")),
    },
    "deploy_model": {
        "model": ("artifacts", ("output", "train_model", "model")),
        "endpoint": ("parameters", ("param", "endpoint")),
        "accuracy": ("parameters", ("output", "evaluate_model", "Output")),
    },
}


@pytest.mark.task(2)
def test_pipeline_parameters(learner):
    learner_spec = learner_spec_of(learner)
    if learner_spec.get("pipelineInfo", {}).get("name") != PIPELINE_NAME:
        fail(
            f"the pipeline is named {fmt(learner_spec.get('pipelineInfo', {}).get('name'))}; "
            f"expected @dsl.pipeline(name=PIPELINE_NAME) ({PIPELINE_NAME!r})"
        )
    declared = learner_spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, (kind, default, spelling) in PARAMETERS.items():
        if name not in declared:
            fail(f"the pipeline has no parameter `{name}`; declare it as `{spelling}`")
        got = declared[name]
        if got.get("parameterType") != kind:
            fail(
                f"the pipeline parameter `{name}` compiles to {got.get('parameterType')}; "
                f"expected {kind}: declare it as `{spelling}`"
            )
        if "defaultValue" not in got:
            fail(f"the pipeline parameter `{name}` has no default; declare it as `{spelling}`")
        value = got["defaultValue"]
        same = value == default if isinstance(default, str) else math.isclose(float(value), default)
        if not same:
            fail(
                f"the pipeline parameter `{name}` defaults to {value!r}; expected {default!r} "
                f"(`{spelling}`)"
            )
    extra = sorted(set(declared) - set(PARAMETERS))
    if extra:
        fail(f"the pipeline declares parameters the README does not ask for: {extra}")


@pytest.mark.task(2)
def test_pipeline_edges(learner):
    learner_spec = learner_spec_of(learner)
    graph = Graph(learner_spec)
    names = {component: _one_task(graph, component) for component in COMPONENTS}
    by_task = {task: component for component, task in names.items()}
    for component, inputs in EDGES.items():
        task_name = names[component]
        dag, task, _ = graph.tasks[task_name]
        for key, (kind, want) in inputs.items():
            source = task.get("inputs", {}).get(kind, {}).get(key)
            if source is None:
                fail(
                    f"{component} gets no `{key}` in the compiled spec; expected {_describe(want, graph)}"
                )
            got = graph.resolve(dag, kind, source)
            if got[0] == "output":
                got = ("output", by_task.get(got[1], got[1]), got[2])
            if got != want:
                want_text = (
                    f"the output `{want[2]}` of {want[1]}"
                    if want[0] == "output"
                    else f"the pipeline parameter `{want[1]}`"
                )
                got_text = (
                    f"the output `{got[2]}` of {got[1]}"
                    if got[0] == "output"
                    else _describe(got, graph)
                )
                hint = ""
                if want[0] == "param" and got[0] == "const":
                    hint = f": pass the parameter ({key}={want[1]}), not a value, or a run cannot change it"
                fail(f"{component}'s input `{key}` is {got_text}; expected {want_text}{hint}")
    # dependentTasks: exactly the producers of a task's inputs (what the backend orders by)
    for component, task_name in names.items():
        dag, task, group = graph.tasks[task_name]
        if group is not None:
            continue
        want_deps = {names[w[1]] for _, w in EDGES[component].values() if w[0] == "output"}
        got_deps = set(task.get("dependentTasks", []))
        if got_deps != want_deps:
            extra = sorted(by_task.get(t, t) for t in got_deps - want_deps)
            missing = sorted(by_task.get(t, t) for t in want_deps - got_deps)
            fail(
                f"{component} depends on {sorted(by_task.get(t, t) for t in got_deps)}; expected "
                f"{sorted(component_ for component_ in (by_task[t] for t in want_deps))}"
                + (f" (extra: {extra}; an .after() the data do not need?)" if extra else "")
                + (f" (missing: {missing})" if missing else "")
            )


_CONDITION = re.compile(
    r"^\s*inputs\.parameter_values\['([^']+)'\]\s*(>=|<=|>|<|==|!=)\s*(.+?)\s*$"
)
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}


@pytest.mark.task(2)
def test_deploy_is_gated_by_the_accuracy(learner):
    learner_spec = learner_spec_of(learner)
    graph = Graph(learner_spec)
    deploy = _one_task(graph, "deploy_model")
    evaluate = _one_task(graph, "evaluate_model")
    _, _, group = graph.tasks[deploy]
    if group is None:
        fail(
            "deploy_model runs whatever the accuracy: put it inside "
            "`with dsl.If(evaluate.outputs['Output'] >= accuracy_threshold):`"
        )
    parent, group_task = graph.group_task[group]
    condition = graph.dag_tasks(parent)[group_task].get("triggerPolicy", {}).get("condition")
    if not condition:
        fail(
            f"deploy_model's group {group_task} has no condition: use dsl.If(...), not a plain group"
        )
    match = _CONDITION.match(condition)
    if not match:
        fail(
            f"the condition {condition!r} is not one comparison of evaluate_model's output with accuracy_threshold"
        )
    left, op, right = match.groups()
    inputs = graph.dag_tasks(parent)[group_task].get("inputs", {}).get("parameters", {})

    def side(text: str) -> tuple:
        channel = re.fullmatch(r"inputs\.parameter_values\['([^']+)'\]", text.strip())
        if channel is None:
            return ("const", text.strip())
        return graph.resolve(parent, "parameters", inputs[channel.group(1)])

    a, b = side(f"inputs.parameter_values['{left}']"), side(right)
    if a[0] != "output":
        a, b, op = b, a, _FLIP[op]
    if a != ("output", evaluate, "Output"):
        fail(f"the condition {condition!r} does not test evaluate_model's output (its accuracy)")
    if b[0] == "const":
        fail(
            f"the condition compares the accuracy with the constant {b[1]}; compare it with the "
            "pipeline parameter accuracy_threshold, so that a run can change the bar"
        )
    if b != ("param", "accuracy_threshold"):
        fail(
            f"the condition compares the accuracy with {_describe(b, graph)}; expected accuracy_threshold"
        )
    if op != ">=":
        fail(
            f"the condition is accuracy {op} accuracy_threshold; expected >= (a model exactly at "
            "the threshold is deployed)"
        )
    stray = [t for t, (_, _, g) in graph.tasks.items() if g == group and t != deploy]
    if stray:
        fail(f"the dsl.If group also holds {stray}; only deploy_model depends on the accuracy")


@pytest.mark.task(2)
def test_caching_options(learner):
    learner_spec = learner_spec_of(learner)
    graph = Graph(learner_spec)
    for component in COMPONENTS:
        task = graph.tasks[_one_task(graph, component)][1]
        enabled = task.get("cachingOptions", {}).get("enableCache", False)
        if component == "deploy_model" and enabled:
            fail(
                "deploy_model's caching is on: a cached deploy would report success without "
                "deploying anything. Call .set_caching_options(False) on the deploy task"
            )
        if component != "deploy_model" and not enabled:
            fail(
                f"{component}'s caching is off; only deploy_model's should be: the other steps "
                "are deterministic functions of their inputs, which is what a cache can reuse"
            )


# ----- task 3: order and cache keys --------------------------------------------------------------
def _diamond() -> dict[str, Any]:
    """A DAG whose alphabetical order is wrong: z-source feeds b and a, which both feed m."""
    tasks = {
        "m-join": {"dependentTasks": ["b-left", "a-right"]},
        "b-left": {"dependentTasks": ["z-source"]},
        "a-right": {"dependentTasks": ["z-source", "c-side"]},
        "z-source": {},
        "c-side": {"dependentTasks": ["z-source"]},
        "y-report": {"dependentTasks": ["m-join"]},
    }
    for name, task in tasks.items():
        task["componentRef"] = {"name": f"comp-{name}"}
        task["taskInfo"] = {"name": name}
    return {"root": {"dag": {"tasks": tasks}}, "components": {}}


def _check_order(learner: Any, spec: dict[str, Any], what: str) -> list[str]:
    kept = copy.deepcopy(spec)
    order = call_learner(f"topological_order({what})", learner.topological_order, spec)
    order = assert_returned(order, f"topological_order({what})", what="the list of task names")
    order = list(order)
    tasks = kept["root"]["dag"]["tasks"]
    if spec != kept:
        fail(f"topological_order({what}) changed the spec it was given; it must only read it")
    if sorted(order) != sorted(tasks):
        missing = sorted(set(tasks) - set(order))
        extra = sorted(set(order) - set(tasks))
        fail(
            f"topological_order({what}) is {order}; expected each of the {len(tasks)} tasks "
            f"once"
            + (f" (missing {missing})" if missing else "")
            + (f" (unexpected {extra})" if extra else "")
            + (" (some twice)" if len(order) != len(set(order)) else "")
        )
    position = {name: i for i, name in enumerate(order)}
    for name, task in tasks.items():
        for upstream in task.get("dependentTasks", []):
            if position[upstream] > position[name]:
                mistake = (
                    " (that is alphabetical order, as the YAML lists them)"
                    if order == sorted(order)
                    else ""
                )
                fail(
                    f"topological_order({what}) puts {name} before {upstream}, which it depends "
                    f"on: {order}{mistake}"
                )
    return order


@pytest.mark.task(3)
def test_topological_order(learner):
    _check_order(learner, reference_spec(), "the lab's pipeline")
    _check_order(learner, _diamond(), "a six-task diamond")
    cyclic = _diamond()
    cyclic["root"]["dag"]["tasks"]["z-source"]["dependentTasks"] = ["y-report"]
    error = raised(learner.topological_order, cyclic)
    if not isinstance(error, ValueError):
        got = "returned" if error is None else f"raised {type(error).__name__}"
        fail(
            f"topological_order on a DAG with a cycle (z-source → … → y-report → z-source) {got}; expected ValueError"
        )


def _keys(learner: Any, spec: dict[str, Any], arguments: dict[str, Any], what: str) -> dict:
    kept = copy.deepcopy(spec)
    given = dict(arguments)
    keys = call_learner(f"cache_keys(spec, {what})", learner.cache_keys, spec, given)
    keys = assert_returned(keys, f"cache_keys(spec, {what})", what="a dict task -> key", of=dict)
    if spec != kept:
        fail(f"cache_keys(spec, {what}) changed the spec it was given; it must only read it")
    if given != arguments:
        fail(f"cache_keys(spec, {what}) changed the arguments it was given")
    if sorted(keys) != sorted(CACHED_TASKS):
        fail(
            f"cache_keys(spec, {what}) has keys for {sorted(keys)}; expected one for each "
            f"component task of the root DAG, {CACHED_TASKS} (the dsl.If group is not a component)"
        )
    return keys


@cached
def _default_keys(learner: Any) -> dict:
    return _keys(learner, reference_spec(), {}, "{}")


@pytest.mark.task(3)
def test_cache_keys_are_stable(learner):
    first = _default_keys(learner)
    for task, key in first.items():
        if not isinstance(key, str) or not key:
            fail(
                f"cache_keys(spec, {{}})[{task!r}] is {fmt(key)}; expected a non-empty str (a hex digest)"
            )
        if re.fullmatch(r"-?\d{1,20}", key):
            fail(
                f"cache_keys(spec, {{}})[{task!r}] is {key!r}, which looks like Python's built-in "
                "hash(): it is salted per process (PYTHONHASHSEED), so the same task gets another "
                "key in every new run and the cache never hits. Use hashlib.sha256(...).hexdigest()"
            )
        if not re.fullmatch(r"[0-9a-fA-F]{32,}", key):
            fail(
                f"cache_keys(spec, {{}})[{task!r}] is {fmt(key)}; expected a hex digest "
                "(hashlib.sha256(json.dumps(..., sort_keys=True).encode()).hexdigest())"
            )
    if len(set(first.values())) != len(first):
        fail(
            f"cache_keys gives several tasks the same key: {first}; each task computes something else"
        )
    again = _keys(learner, reference_spec(), {}, "{}")
    if again != first:
        changed = sorted(t for t in first if first[t] != again[t])
        fail(
            f"cache_keys(spec, {{}}) called twice gives other keys for {changed}: something "
            "volatile (a time, a random id, an object's id) is in the key, so nothing could ever "
            "be reused"
        )
    explicit = {name: default for name, (_, default, _) in PARAMETERS.items()}
    if _keys(learner, reference_spec(), explicit, "every default given explicitly") != first:
        fail(
            "cache_keys(spec, {...every parameter at its default...}) differs from cache_keys(spec, "
            "{}): resolve each parameter (the argument, else the spec's defaultValue) and cast it "
            "to its parameterType (NUMBER_INTEGER → int: the YAML stores 400 as 400.0)"
        )
    floats = _keys(learner, reference_spec(), {"learning_rate": 1}, "{'learning_rate': 1}")
    if floats != _keys(learner, reference_spec(), {"learning_rate": 1.0}, "{'learning_rate': 1.0}"):
        fail(
            "cache_keys gives learning_rate=1 and learning_rate=1.0 other keys: cast each value "
            "to its declared parameterType before it goes into the key"
        )
    error = raised(learner.cache_keys, reference_spec(), {"learning_rat": 0.1})
    if not isinstance(error, ValueError):
        got = "returned" if error is None else f"raised {type(error).__name__}"
        fail(
            f"cache_keys(spec, {{'learning_rat': 0.1}}) (a misspelt parameter) {got}; expected ValueError"
        )


def _executor(spec: dict[str, Any], task: str) -> dict[str, Any]:
    label = spec["components"][f"comp-{task}"]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def _edit_code(task: str):
    def edit(spec):
        _executor(spec, task)["command"][-1] += "\n# v2: a changed line of code\n"

    return edit


def _edit_image(task: str):
    def edit(spec):
        _executor(spec, task)["image"] = "python:3.12-slim"

    return edit


def _edit_interface(spec):
    spec["components"]["comp-evaluate-model"]["outputDefinitions"]["parameters"]["Output"][
        "parameterType"
    ] = "STRING"


def _edit_name(spec):
    spec["pipelineInfo"]["name"] = "churn-training-copy"


def _edit_deploy(spec):
    _executor(spec, "deploy-model")["command"][-1] += "\n# v2\n"


def _edit_output_key(spec):
    """train-model reads validate-data's *other* output: same producer, another artefact."""
    source = spec["root"]["dag"]["tasks"]["train-model"]["inputs"]["artifacts"]["train_data"]
    source["taskOutputArtifact"]["outputArtifactKey"] = "test_data"


def _disable(task: str):
    def edit(spec):
        spec["root"]["dag"]["tasks"][task]["cachingOptions"] = {}

    return edit


DOWNSTREAM = {
    "load-data": CACHED_TASKS,
    "validate-data": CACHED_TASKS[1:],
    "train-model": ["train-model", "evaluate-model"],
    "evaluate-model": ["evaluate-model"],
}
CHANGES = [  # what, arguments, spec edit, the tasks whose keys must change
    ("learning_rate=0.1", {"learning_rate": 0.1}, None, DOWNSTREAM["train-model"]),
    ("epochs=61", {"epochs": 61}, None, DOWNSTREAM["train-model"]),
    ("n_rows=300", {"n_rows": 300}, None, DOWNSTREAM["load-data"]),
    ("min_rows=50", {"min_rows": 50}, None, DOWNSTREAM["validate-data"]),
    ("test_fraction=0.3", {"test_fraction": 0.3}, None, DOWNSTREAM["validate-data"]),
    ("accuracy_threshold=0.9", {"accuracy_threshold": 0.9}, None, []),
    ("endpoint='models/other'", {"endpoint": "models/other"}, None, []),
    (
        "a changed line in train_model's code",
        {},
        _edit_code("train-model"),
        DOWNSTREAM["train-model"],
    ),
    ("a changed line in load_data's code", {}, _edit_code("load-data"), DOWNSTREAM["load-data"]),
    (
        "validate_data's image python:3.12-slim",
        {},
        _edit_image("validate-data"),
        DOWNSTREAM["validate-data"],
    ),
    ("evaluate_model's output declared STRING", {}, _edit_interface, ["evaluate-model"]),
    ("a changed line in deploy_model's code", {}, _edit_deploy, []),
    ("the pipeline renamed", {}, _edit_name, []),
    (
        "train-model reading validate-data's test_data instead of its train_data",
        {},
        _edit_output_key,
        DOWNSTREAM["train-model"],
    ),
]
CHANGE_HINTS = {  # what: the cause, when the tasks that should change kept their keys
    "train-model reading validate-data's test_data instead of its train_data": (
        "the producer is the same task, with the same key; only the output it reads changed. "
        "Each input artefact's part of the key needs the producer's key *and* the output's "
        "name (outputArtifactKey)"
    ),
}


@pytest.mark.task(3)
@pytest.mark.parametrize("change", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_invalidates_exactly_its_downstream(learner, change):
    what, arguments, edit, want = change
    before = _default_keys(learner)
    spec = reference_spec()
    if edit is not None:
        edit(spec)
    after = _keys(learner, spec, arguments, what)
    changed = [t for t in CACHED_TASKS if before[t] != after[t]]
    if changed == want:
        return
    stale = [t for t in want if t not in changed]
    extra = [t for t in changed if t not in want]
    parts = [f"after {what} the keys of {changed or 'no task'} changed; expected {want or 'none'}"]
    if stale:
        upstream_changed = [t for t in want if t in changed]
        if what in CHANGE_HINTS:
            parts.append(f"{stale} kept their keys: {CHANGE_HINTS[what]}")
        elif upstream_changed and all(
            CACHED_TASKS.index(s) > CACHED_TASKS.index(upstream_changed[0]) for s in stale
        ):
            parts.append(
                f"{stale} kept their keys although an input artefact now comes from a changed "
                "task: the run would reuse results computed from the old data (stale "
                "downstream). Put the producing task's key into each input artefact's part"
            )
        elif edit is not None:
            parts.append(
                f"{stale} kept their keys although the component changed: the key must cover the "
                "component's definition (interface and executor: image, command, code)"
            )
        else:
            parts.append(f"{stale} kept their keys although an input parameter of theirs changed")
    if extra:
        if set(changed) == set(CACHED_TASKS):
            parts.append(
                "every key changed: a key made of the whole spec or all the arguments invalidates "
                "the whole pipeline on any change; use only what the task itself consumes"
            )
        else:
            parts.append(f"{extra} do not consume what changed (nor anything computed from it)")
    fail("; ".join(parts))


@pytest.mark.task(3)
def test_tasks_without_caching_get_none(learner):
    before = _default_keys(learner)
    spec = reference_spec()
    _disable("evaluate-model")(spec)
    keys = _keys(learner, spec, {}, "{} with evaluate-model's caching off")
    if keys["evaluate-model"] is not None:
        fail(
            "cache_keys gives evaluate-model a key although its cachingOptions has no "
            "enableCache: true; a task whose caching is off gets None"
        )
    others = [t for t in CACHED_TASKS[:3] if keys[t] != before[t]]
    if others:
        fail(
            f"turning evaluate-model's caching off changed the keys of {others}; it concerns only that task"
        )


# ----- task 4: the executor ----------------------------------------------------------------------
EXPECTED_TYPES = {  # task: {argument: the class it must be}
    "load-data": {"n_rows": int, "seed": int, "raw_data": dsl.Dataset},
    "validate-data": {
        "raw_data": dsl.Dataset,
        "min_rows": int,
        "test_fraction": float,
        "train_data": dsl.Dataset,
        "test_data": dsl.Dataset,
    },
    "train-model": {
        "train_data": dsl.Dataset,
        "learning_rate": float,
        "epochs": int,
        "model": dsl.Model,
    },
    "evaluate-model": {"test_data": dsl.Dataset, "model": dsl.Model, "metrics": dsl.Metrics},
}
OUTPUTS = {
    "load-data": ["raw_data"],
    "validate-data": ["train_data", "test_data"],
    "train-model": ["model"],
    "evaluate-model": ["metrics"],
}


class Recorder:
    """The check's own component functions, each call recorded and its arguments judged."""

    def __init__(self, workdir: Path) -> None:
        self.calls: list[str] = []
        self.workdir = workdir
        self.problem: str | None = None

    def functions(self) -> dict[str, Any]:
        return {task: self._wrap(task) for task in CACHED_TASKS}

    def _wrap(self, task: str):
        func = REFERENCE[task.replace("-", "_")].python_func

        def call(**kwargs: Any) -> Any:
            self.calls.append(task)
            want = EXPECTED_TYPES[task]
            if sorted(kwargs) != sorted(want):
                self._fail(f"{task} was called with {sorted(kwargs)}; expected {sorted(want)}")
            for key, kind in want.items():
                value = kwargs[key]
                if kind is float and type(value) is int:
                    continue
                # An artefact may be the learner's own object seen through the trusted verdict
                # process (a proxy that reports its class); a parameter's type must be exact.
                artefact = issubclass(kind, dsl.Artifact)
                if (not isinstance(value, kind)) if artefact else (type(value) is not kind):
                    advice = ""
                    if isinstance(value, (str, Path)):
                        advice = (
                            f": an artefact goes in as {kind.__name__}(name=..., uri=path), whose "
                            ".path the function opens"
                            if issubclass(kind, dsl.Artifact)
                            else ""
                        )
                    elif kind is int and isinstance(value, float):
                        advice = (
                            " (the YAML stores integer defaults as floats: cast by parameterType)"
                        )
                    self._fail(
                        f"{task} got {key}={value!r} ({type(value).__name__}); expected a "
                        f"{kind.__name__}{advice}"
                    )
            for key in OUTPUTS[task]:
                path = Path(kwargs[key].path)
                if not path.parent.is_dir():
                    self._fail(
                        f"{task}'s output {key} has the path {path}, whose folder does not exist: "
                        "create a folder for each output before the call, as a backend does"
                    )
                try:
                    path.resolve().relative_to(self.workdir.resolve())
                except ValueError:
                    self._fail(
                        f"{task}'s output {key} goes to {path}, outside the workdir {self.workdir}"
                    )
                if path.exists():
                    self._fail(
                        f"{task}'s output {key} goes to {path}, where a file already is: every "
                        "execution needs fresh paths, or it overwrites the outputs the cache holds"
                    )
            return func(**kwargs)

        return call

    def _fail(self, message: str) -> None:
        self.problem = message
        fail(message)


def _run(learner: Any, recorder: Recorder, spec, arguments: dict[str, Any], cache: dict, what: str):
    before = len(recorder.calls)
    try:
        result = learner.run_pipeline(
            spec, recorder.functions(), dict(arguments), recorder.workdir, cache
        )
    except NotImplementedError:
        raise
    except AssertionError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RuntimeError,
        OSError,
    ) as exc:
        order = ""
        ran = recorder.calls[before:]
        if isinstance(exc, KeyError) and exc.args and exc.args[0] in CACHED_TASKS:
            order = (
                f" (the functions that ran before it: {ran}; a task's producers must have run "
                "first: is the order topological?)"
            )
        fail(
            f"run_pipeline(spec, ..., {what}) raised {type(exc).__name__}: {str(exc)[:200]}{order}"
        )
    result = assert_returned(result, f"run_pipeline(..., {what})", what="a RunResult")
    ran = recorder.calls[before:]
    for name in ("executed", "cached", "outputs"):
        if not hasattr(result, name):
            fail(
                f"run_pipeline returned a {type(result).__name__} without `{name}`: return a RunResult"
            )
    if list(result.executed) != ran:
        fail(
            f"run_pipeline(..., {what}).executed is {list(result.executed)}; the functions that ran were {ran}"
        )
    position = {t: i for i, t in enumerate(ran)}
    for task, upstream in (
        ("validate-data", "load-data"),
        ("train-model", "validate-data"),
        ("evaluate-model", "train-model"),
        ("evaluate-model", "validate-data"),
    ):
        if task in position and upstream in position and position[upstream] > position[task]:
            fail(f"run_pipeline ran {ran}: {task} before {upstream}, which produces its input")
    if sorted([*result.executed, *result.cached]) != sorted(CACHED_TASKS):
        fail(
            f"run_pipeline(..., {what}) executed {list(result.executed)} and took "
            f"{list(result.cached)} from the cache; expected each of {CACHED_TASKS} in exactly one of them"
        )
    return result, ran


def _accuracy(result: Any) -> Any:
    return result.outputs.get("evaluate-model", {}).get("Output")


@cached
def _reference_accuracy(learning_rate: float) -> float:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        raw = _artifact(Dataset, path, "raw")
        load_data.python_func(n_rows=400, seed=7, raw_data=raw)
        train, test = _artifact(Dataset, path, "train"), _artifact(Dataset, path, "test")
        validate_data.python_func(
            raw_data=raw, min_rows=100, test_fraction=0.25, train_data=train, test_data=test
        )
        model = _artifact(Model, path, "model")
        train_model.python_func(
            train_data=train, learning_rate=learning_rate, epochs=60, model=model
        )
        return evaluate_model.python_func(
            test_data=test, model=model, metrics=Metrics(uri=str(path / "m"))
        )


@pytest.mark.task(4)
def test_run_pipeline_runs_everything_once_in_order(learner, tmp_path):
    recorder = Recorder(tmp_path / "runs")
    recorder.workdir.mkdir()
    result, ran = _run(learner, recorder, reference_spec(), {}, {}, "an empty cache")
    if ran != CACHED_TASKS:
        fail(f"with an empty cache run_pipeline ran {ran}; expected {CACHED_TASKS}")
    assert_close(
        _accuracy(result),
        _reference_accuracy(0.5),
        name="outputs['evaluate-model']['Output']",
        rtol=1e-12,
    )
    for task, names in OUTPUTS.items():
        for name in names:
            path = result.outputs.get(task, {}).get(name)
            if not isinstance(path, str) or not (name == "metrics" or Path(path).exists()):
                fail(
                    f"outputs[{task!r}][{name!r}] is {fmt(path)}; expected the path (str) of the file it wrote"
                )
    if result.outputs["validate-data"].get("Output") != 360:
        fail(
            f"outputs['validate-data']['Output'] is {fmt(result.outputs['validate-data'].get('Output'))}; expected its return value, 360"
        )


@pytest.mark.task(4)
def test_run_pipeline_reuses_and_reruns_exactly_what_changed(learner, tmp_path):
    recorder = Recorder(tmp_path / "runs")
    recorder.workdir.mkdir()
    cache: dict = {}
    first, _ = _run(learner, recorder, reference_spec(), {}, cache, "an empty cache")
    model_text = Path(first.outputs["train-model"]["model"]).read_text()
    if not cache:
        fail(
            "run_pipeline left the cache it was given empty: record each cached task's outputs in cache[key]"
        )
    again, ran = _run(learner, recorder, reference_spec(), {}, cache, "the same arguments again")
    if ran:
        fail(
            f"a second run with the same arguments and cache ran {ran}; expected every task from the cache"
        )
    if again.outputs != first.outputs:
        missing = [t for t in CACHED_TASKS if t in first.outputs and t not in again.outputs]
        differ = [
            t
            for t in CACHED_TASKS
            if t in again.outputs and again.outputs[t] != first.outputs.get(t)
        ]
        detail = ""
        if missing:
            detail = (
                f": result.outputs has nothing for {missing}, served from the cache. A cached "
                "task still has outputs: put cache[key] in result.outputs[task], or the tasks "
                "downstream of it have no inputs"
            )
        elif differ:
            detail = (
                f": {differ[0]} gave {fmt(again.outputs[differ[0]])} from the cache; it gave "
                f"{fmt(first.outputs.get(differ[0]))} when it ran"
            )
        fail(f"a run served from the cache gave other outputs than the run that filled it{detail}")
    changed, ran = _run(
        learner, recorder, reference_spec(), {"learning_rate": 0.1}, cache, "learning_rate=0.1"
    )
    if ran != ["train-model", "evaluate-model"]:
        fail(
            f"after learning_rate=0.1 run_pipeline ran {ran}; expected ['train-model', 'evaluate-model'] (the rest is cached)"
        )
    assert_close(
        _accuracy(changed),
        _reference_accuracy(0.1),
        name="the accuracy with learning_rate=0.1",
        rtol=1e-12,
    )
    if changed.outputs["load-data"] != first.outputs["load-data"]:
        fail(
            "the cached load-data of the learning_rate=0.1 run has other outputs than the first run"
        )
    back, ran = _run(learner, recorder, reference_spec(), {}, cache, "the defaults once more")
    if ran:
        fail(f"back at the defaults run_pipeline ran {ran}; their results are still in the cache")
    if Path(back.outputs["train-model"]["model"]).read_text() != model_text:
        fail(
            "back at the defaults, the cached model file holds another model than the first run "
            "wrote: a later execution overwrote it. Give every execution its own output folder"
        )
    assert_close(
        _accuracy(back),
        _reference_accuracy(0.5),
        name="the cached accuracy at the defaults",
        rtol=1e-12,
    )
    other = Recorder(tmp_path / "other")
    other.workdir.mkdir()
    _, ran = _run(learner, other, reference_spec(), {}, {}, "a new, empty cache")
    if ran != CACHED_TASKS:
        fail(
            f"with a new, empty cache run_pipeline ran {ran}; expected all of {CACHED_TASKS} (use the cache you are given)"
        )


@pytest.mark.task(4)
def test_run_pipeline_never_caches_a_task_with_caching_off(learner, tmp_path):
    recorder = Recorder(tmp_path / "runs")
    recorder.workdir.mkdir()
    spec = reference_spec()
    _disable("evaluate-model")(spec)
    cache: dict = {}
    _run(learner, recorder, spec, {}, cache, "evaluate-model's caching off")
    _, ran = _run(learner, recorder, spec, {}, cache, "evaluate-model's caching off, again")
    if ran != ["evaluate-model"]:
        fail(
            f"with evaluate-model's caching off, a second run ran {ran}; expected ['evaluate-model'] only"
        )
    if None in cache:
        fail(
            "run_pipeline stored outputs under the key None: a task whose key is None is never cached"
        )
