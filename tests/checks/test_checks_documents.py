"""Strict YAML reading and readable JSON-schema errors for the MLOps labs' artefacts."""

from __future__ import annotations

import jsonschema
import pytest

from aipath.checks import CheckFailure
from aipath.checks.documents import dotted, get, load_yaml, load_yaml_documents, schema_message


def test_a_repeated_key_is_refused_with_both_lines() -> None:
    text = "kind: Service\nmetadata: {name: a}\nkind: Deployment\n"
    with pytest.raises(CheckFailure) as failure:
        load_yaml(text, "k8s/app.yaml")
    message = str(failure.value)
    assert "k8s/app.yaml is not valid YAML: line 3" in message
    assert "'kind' twice (first on line 1)" in message and "`---`" in message


def test_documents_tabs_and_lookups() -> None:
    assert load_yaml_documents("a: 1\n---\n---\nb: 2\n", "x.yaml") == [{"a": 1}, {"b": 2}]
    with pytest.raises(CheckFailure, match="never tabs"):
        load_yaml("a:\n\tb: 1\n", "x.yaml")
    with pytest.raises(CheckFailure, match="holds 2 YAML documents"):
        load_yaml("a: 1\n---\nb: 2\n", "x.yaml")
    doc = {"spec": {"containers": [{"image": "x:1"}]}}
    assert get(doc, "spec", "containers", 0, "image") == "x:1"
    assert get(doc, "spec", "containers", 3, "image") is None
    assert dotted(["spec", "containers", 0, "ports"]) == "spec.containers[0].ports"


def test_schema_errors_read_like_the_file() -> None:
    schema = {
        "type": "object",
        "properties": {"runs-on": {"type": "string"}, "timeout": {"type": "integer"}},
        "additionalProperties": False,
    }
    validator = jsonschema.Draft7Validator(schema)
    (unknown,) = validator.iter_errors({"run-on": "ubuntu"})
    assert (
        schema_message(unknown)
        == "(the document itself): unknown field `run-on` (did you mean `runs-on`?)"
    )
    (quoted,) = validator.iter_errors({"timeout": "10"})
    assert schema_message(quoted) == "timeout: '10' is a string; write the number without quotes"
