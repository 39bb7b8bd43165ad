"""Reading the YAML and JSON artefacts a learner writes (manifests, workflows, Compose files).

MLOps labs grade files, not functions.  PyYAML's own loader keeps the last of two equal keys
without a word, so a missing ``---`` between two objects silently loses half of them; the strict
loader here refuses it with the line of both.  JSON-schema errors come back as one sentence
with the path written the way the learner reads the file (``spec.template.spec.containers[0]``)
and, for an unknown key, the nearest allowed one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import yaml

from aipath.checks.failure import fail

__all__ = [
    "StrictLoader",
    "dotted",
    "get",
    "load_yaml",
    "load_yaml_documents",
    "schema_message",
    "yaml_error",
]


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                if key in seen and key != "<<":
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found the key {key!r} twice (first on line {seen[key]})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def yaml_error(exc: yaml.YAMLError) -> str:
    """A YAML syntax error as "line N: what" plus the usual cause of that kind of error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    line = f"line {mark.line + 1}: " if mark is not None else ""
    clue = ""
    if "twice" in problem:
        clue = (
            " — YAML keeps only one of the two (PyYAML the last), so half of what you wrote is "
            "silently lost; two objects in one file need a `---` line between them"
        )
    elif "\t" in str(exc) or "tab" in problem:
        clue = " — YAML indentation must be spaces, never tabs"
    return f"{line}{problem}{clue}"


def load_yaml_documents(text: str, name: str) -> list[Any]:
    """Every document of a YAML stream (empty ones dropped); a syntax error or a repeated key
    fails the check as "<name>, line N: …"."""
    try:
        documents = list(yaml.load_all(text, Loader=StrictLoader))
    except yaml.YAMLError as exc:
        fail(f"{name} is not valid YAML: {yaml_error(exc)}")
    return [doc for doc in documents if doc is not None]


def load_yaml(text: str, name: str) -> Any:
    """The one document of a YAML file (a Compose file, a workflow), read strictly."""
    documents = load_yaml_documents(text, name)
    if len(documents) != 1:
        fail(f"{name} holds {len(documents)} YAML documents; expected one")
    return documents[0]


def get(node: Any, *keys: str | int) -> Any:
    """``node[k1][k2]...``, or None where a level is missing, null or of the wrong type."""
    for key in keys:
        if isinstance(key, str) and isinstance(node, dict):
            node = node.get(key)
        elif isinstance(key, int) and isinstance(node, list) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def dotted(path: Iterable[Any]) -> str:
    """A path into a document as the learner reads it: ``spec.template.spec.containers[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the document itself)"


def schema_message(error: Any, allowed: Iterable[str] = ()) -> str:
    """A ``jsonschema.ValidationError`` as one sentence: where, what, and the likely fix.

    ``allowed`` are the keys valid at that place (for "did you mean"); an unknown key's nearest
    allowed spelling is named, a number given as a string gets "quote it" the other way round.
    """
    where = dotted(getattr(error, "absolute_path", ()))
    validator = getattr(error, "validator", "")
    message = str(getattr(error, "message", error))
    if validator == "additionalProperties":
        instance = getattr(error, "instance", {})
        schema = getattr(error, "schema", {})
        known = set(allowed) | set(schema.get("properties", {}) if isinstance(schema, dict) else ())
        extra = [key for key in instance if key not in known] if isinstance(instance, dict) else []
        parts = []
        for key in extra:
            near = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean `{near[0]}`?)" if near else ""
            parts.append(f"unknown field `{key}`{hint}")
        if parts:
            return f"{where}: {', '.join(parts)}"
    if validator == "type":
        expected = getattr(error, "validator_value", "")
        instance = getattr(error, "instance", None)
        if expected in ("integer", "number") and isinstance(instance, str):
            return f"{where}: {instance!r} is a string; write the number without quotes"
        if expected == "string" and isinstance(instance, int | float | bool):
            return f"{where}: {instance!r} should be a string: quote it"
    return f"{where}: {message}"
