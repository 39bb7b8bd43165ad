"""Checks for p4-kubernetes: the learner's manifests in `k8s/`, read as kubectl would read them.

Every `*.yaml`, `*.yml` and `*.json` file under `k8s/` is parsed (several documents per file are
fine; a duplicated key is an error, since a YAML parser silently keeps only one of the two).
Each document is first validated with `kubernetes-validate` against the strict OpenAPI schema of
Kubernetes 1.35 (unknown fields rejected), then judged by the semantic rules an API server, a
kubelet and a reviewer would apply: selectors that match, ports that exist, probes on the app's
real endpoints, requests within limits, references that resolve, no secret in plain text.

A task is "not attempted" while `k8s/` holds none of the objects it asks for (the starter files
are comments only).  Each task validates the documents it reads; a document of a kind no task
reads (a Secret, a Namespace, a kind with a typo) is validated in task 1, unless its kind is close
to one a later task reads (`HorizontalPodAutoScaler`), which that task then reports.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from aipath.checks import fail
from aipath.checks.documents import StrictLoader, dotted, get, yaml_error

# ----- the app, as the README describes it -------------------------------------------------------

K8S_VERSION = "1.35"
MANIFEST_DIR = "k8s"
IMAGE_REPO = "registry.example.com/aipath/model-server"
IMAGE_TAG = "1.4.2"
APP_PORT = 8080
LIVENESS_PATH, READINESS_PATH = "/health", "/ready"
CONFIG = {"MODEL_NAME": "sentiment-v3", "LOG_LEVEL": "info", "MAX_BATCH_SIZE": "16"}
SECRET_NAME, SECRET_KEY, SECRET_VAR = "model-server-secrets", "api-key", "API_KEY"
DEV_KEY = "dev-7c1e9a52f0b84d3e"
SERVICE_NAME, SERVICE_PORT = "model-server", 80
MIN_CPU_REQUEST = Fraction(1, 4)  # 250m
MODEL_MEMORY = Fraction(2**30)  # 1Gi
NODE_CPU, NODE_MEMORY = Fraction(4), Fraction(16 * 2**30)
HPA_MIN, HPA_MAX = 2, 10
UTILIZATION_BAND = (50, 80)

TASK_OF_KIND = {
    "ConfigMap": 1,
    "Deployment": 1,
    "Secret": 1,
    "Service": 3,
    "HorizontalPodAutoscaler": 4,
}
SECRET_NAME_PATTERN = re.compile(  # API_KEY, HF_TOKEN, DB_PASSWORD; not MAX_TOKENS
    r"(?:^|[_.-])(?:api[_.-]?key|secret|token|password|passwd|credentials?)(?:[_.-]|$)",
    re.IGNORECASE,
)


# ----- reading the manifests ---------------------------------------------------------------------


def items(node: Any) -> list[Any]:
    """A list field as a list (null or absent is empty)."""
    return node if isinstance(node, list) else []


def mapping(node: Any) -> dict[Any, Any]:
    """A mapping field as a dict (null or absent is empty)."""
    return node if isinstance(node, dict) else {}


@dataclass
class Doc:
    file: str
    number: int
    several: bool
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        kind = self.data.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def name(self) -> str:
        name = get(self.data, "metadata", "name")
        return name if isinstance(name, str) else ""

    @property
    def namespace(self) -> str | None:
        namespace = get(self.data, "metadata", "namespace")
        return namespace if isinstance(namespace, str) else None

    @property
    def where(self) -> str:
        place = f"{self.file}, document {self.number}" if self.several else self.file
        label = " ".join(part for part in (self.kind, self.name) if part)
        return f"{place} ({label})" if label else place


def kind_task(doc: Doc) -> int:
    """The task whose test reports this document."""
    if doc.kind in TASK_OF_KIND:
        return TASK_OF_KIND[doc.kind]
    lowered = {kind.lower(): kind for kind in TASK_OF_KIND}
    close = difflib.get_close_matches(doc.kind.lower(), list(lowered), n=1, cutoff=0.8)
    return TASK_OF_KIND[lowered[close[0]]] if close else 1


def _known_kinds(api_version: str) -> list[str]:
    """Kinds that kubernetes-validate has a schema for under `api_version` (for a suggestion)."""
    import importlib.resources

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
        folder = next(
            entry
            for entry in root.iterdir()
            if entry.name.startswith(f"v{K8S_VERSION}.") and entry.name.endswith("-local-strict")
        )
        suffix = f"-{group}.json"
        stems = [e.name[: -len(suffix)] for e in folder.iterdir() if e.name.endswith(suffix)]
        return sorted(stem for stem in stems if "-" not in stem)  # not `deployment-apps` for v1
    except (OSError, StopIteration):
        return []


API_VERSIONS = {
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}
FIELD_CLUES = {
    "targetCPUUtilizationPercentage": (
        "that is the autoscaling/v1 field; in autoscaling/v2 the CPU target is an entry of "
        "spec.metrics (type Resource, resource.name cpu, target.type Utilization)"
    ),
}
REMOVED_APIS = {
    ("extensions/v1beta1", "Deployment"): "apps/v1",
    ("apps/v1beta1", "Deployment"): "apps/v1",
    ("apps/v1beta2", "Deployment"): "apps/v1",
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): "autoscaling/v2",
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): "autoscaling/v2",
}


def _schema_message(doc: Doc, error: kubernetes_validate.ValidationError) -> str:
    where, path = doc.where, dotted(error.path)
    instance, schema = error.instance, error.schema if isinstance(error.schema, dict) else {}
    head = f"{where} does not match the Kubernetes {K8S_VERSION} schema:"
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(mapping(schema.get("properties")))
        unknown = [key for key in instance if key not in known]
        parts, explained = [], False
        for key in unknown:
            full = f"{path}.{key}" if error.path else str(key)
            guess = [
                k for k in known if k.lower() == str(key).lower()
            ] or difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            clue = f" (did you mean `{guess[0]}`?)" if guess else ""
            if str(key) in FIELD_CLUES:
                clue, explained = f" — {FIELD_CLUES[str(key)]}", True
            parts.append(f"unknown field `{full}`{clue}")
        tail = (
            ""
            if explained
            else ". Field names are case-sensitive; the API server rejects unknown fields under "
            "strict validation (or drops them silently without it, so a misspelt probe would "
            "never run)"
        )
        return f"{head} {'; '.join(parts)}{tail}"
    if error.validator == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else [w for w in wanted if w != "null"]
        got = {"bool": "a boolean", "int": "an int", "float": "a float", "str": "a string"}.get(
            type(instance).__name__, type(instance).__name__
        )
        clue = ""
        if "string" in wanted and isinstance(instance, bool | int | float):
            clue = (
                f': quote it (`"{str(instance).lower() if isinstance(instance, bool) else instance}"`)'
                " — YAML reads an unquoted 16, 1.0 or true as a number or a boolean, and a "
                "ConfigMap value, a label or an annotation must be a string"
            )
        elif "integer" in wanted and isinstance(instance, str):
            clue = ": write the number without quotes"
        elif "integer" in wanted and isinstance(instance, float):
            clue = ": a whole number" + (
                " — a utilisation is a percentage, 70 rather than 0.7"
                if str(error.path[-1] if error.path else "").endswith("Utilization")
                else ""
            )
        return (
            f"{head} `{path}` is {instance!r} ({got}); it must be of type "
            f"{' or '.join(wanted)}{clue}"
        )
    if error.validator == "required":
        return f"{head} {error.message} at `{path}`"
    if error.validator == "enum" and path == "kind":
        allowed = list(error.validator_value)
        return (
            f"{head} `kind` is {instance!r}: did you mean `{allowed[0]}`? (kinds are "
            "case-sensitive)"
        )
    if error.validator == "enum":
        return f"{head} `{path}` is {instance!r}; allowed values: {error.validator_value}"
    if error.validator in ("oneOf", "anyOf"):
        return f"{head} `{path}` is {instance!r}, which is not a valid value there"
    return f"{head} `{path}`: {error.message}"


class Manifests:
    """Every document under k8s/, parsed once per check run; schema verdicts cached per doc."""

    def __init__(self, workdir: Path) -> None:
        self.folder = workdir / MANIFEST_DIR
        self.docs: list[Doc] = []
        self.texts: dict[str, str] = {}  # each file's text, comments included
        self.errors: list[str] = []
        self._schema: dict[int, str | None] = {}
        if not self.folder.is_dir():
            self.errors.append(
                f"there is no {MANIFEST_DIR}/ folder in {workdir}: write your manifests in "
                f"{MANIFEST_DIR}/ next to exercise.py (`aipath reset p4-kubernetes` puts back the "
                "starter files)"
            )
            return
        files = sorted(
            path
            for path in self.folder.rglob("*")
            if path.is_file() and path.suffix.lower() in (".yaml", ".yml", ".json")
        )
        for path in files:
            relative = path.relative_to(workdir).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
                self.texts[relative] = text
                loaded = list(yaml.load_all(text, Loader=StrictLoader))
            except UnicodeDecodeError:
                self.errors.append(f"{relative} is not UTF-8 text")
                continue
            except yaml.YAMLError as exc:
                self.errors.append(f"{relative} is not valid YAML: {yaml_error(exc)}")
                continue
            present = [(n, d) for n, d in enumerate(loaded, start=1) if d is not None]
            several = len(loaded) > 1
            for number, data in present:
                if not isinstance(data, dict):
                    place = f"{relative}, document {number}" if several else relative
                    self.errors.append(
                        f"{place} is a {type(data).__name__}, not a mapping: a manifest is a "
                        "mapping with apiVersion, kind, metadata (and, for most kinds, spec)"
                    )
                    continue
                self.docs.append(Doc(relative, number, several, data))

    def parsed(self) -> None:
        if self.errors:
            fail(
                self.errors[0]
                + (f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else "")
            )

    def of_kind(self, kind: str) -> list[Doc]:
        return [doc for doc in self.docs if doc.kind == kind]

    def for_task(self, task: int) -> list[Doc]:
        return [doc for doc in self.docs if kind_task(doc) == task]

    def schema_problem(self, doc: Doc) -> str | None:
        key = id(doc)
        if key not in self._schema:
            self._schema[key] = self._validate(doc)
        return self._schema[key]

    def _validate(self, doc: Doc) -> str | None:
        api_version, kind = doc.data.get("apiVersion"), doc.data.get("kind")
        if not isinstance(api_version, str) or not api_version:
            return f"{doc.where} has no `apiVersion` (apps/v1 for a Deployment, v1 for a Service)"
        if not isinstance(kind, str) or not kind:
            return f"{doc.where} has no `kind` (Deployment, Service, ConfigMap, ...)"
        if not doc.name:
            return f"{doc.where} has no `metadata.name`: every object needs a name"
        try:
            kubernetes_validate.validate(doc.data, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return _schema_message(doc, error)
        except kubernetes_validate.SchemaNotFoundError:
            moved = REMOVED_APIS.get((api_version, kind))
            if kind in API_VERSIONS and api_version != API_VERSIONS[kind]:
                return (
                    f"{doc.where}: {kind} is not in {api_version}; write `apiVersion: "
                    f"{API_VERSIONS[kind]}` (each kind lives in one API group and version)"
                )
            if moved:
                return (
                    f"{doc.where}: {kind} is not served as {api_version} by Kubernetes "
                    f"{K8S_VERSION} (that API version was removed): use apiVersion: {moved}"
                )
            known = _known_kinds(api_version)
            if not known:
                return (
                    f"{doc.where}: Kubernetes {K8S_VERSION} has no API version {api_version!r} "
                    "(a Deployment is apps/v1; a Service or ConfigMap v1; an HPA autoscaling/v2)"
                )
            guess = [k for k in known if k == kind.lower()] or difflib.get_close_matches(
                kind.lower(), known, n=1, cutoff=0.6
            )
            proper = next((k for k in TASK_OF_KIND if guess and k.lower() == guess[0]), None)
            clue = (
                f": did you mean `{proper or guess[0]}`? (kinds are case-sensitive)"
                if guess
                else ""
            )
            return f"{doc.where}: {api_version} has no kind {kind!r}{clue}"
        return name_problem(doc)

    def valid(self, docs: list[Doc]) -> None:
        for doc in docs:
            problem = self.schema_problem(doc)
            if problem:
                fail(problem)


# ----- the API server's rules on names (the OpenAPI schema only says "a string") ----------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_REJECTS = "the API server rejects the object"


_DNS_FORMS = {  # form: (pattern, longest, what may be in it, how it starts)
    "subdomain": (
        _DNS_SUBDOMAIN,
        253,
        "lower-case letters, digits, '-' and '.'",
        "a letter or digit",
    ),
    "label": (_DNS_LABEL, 63, "lower-case letters, digits and '-' (no '.')", "a letter or digit"),
    "1035": (_DNS_1035_LABEL, 63, "lower-case letters, digits and '-' (no '.')", "a letter"),
}


def _dns_name_problem(value: str, form: str = "subdomain") -> str:
    """Why `value` is not a lower-case DNS name of that form ('' when it is one)."""
    pattern, limit, allowed, start = _DNS_FORMS[form]
    if len(value) > limit:
        return f"is {len(value)} characters; at most {limit}"
    if pattern.fullmatch(value):
        return ""
    if value.lower() != value and pattern.fullmatch(value.lower()):
        return f"has capitals: names are lower-case ({value.lower()!r})"
    return (
        f"is not a DNS name: use {allowed}, starting with {start} and ending with a letter or digit"
    )


def _port_name_problem(value: str) -> str:
    """Why `value` is not a valid port name (IANA_SVC_NAME; '' when it is one)."""
    if len(value) > 15:
        return f"is {len(value)} characters; a port name is at most 15"
    if value.lower() != value:
        return f"has capitals: port names are lower-case ({value.lower()!r})"
    if not _IANA_SVC_NAME.fullmatch(value) or "--" in value:
        return (
            "is not a port name: lower-case letters, digits and single '-' between them, "
            "at most 15 characters"
        )
    if not re.search(r"[a-z]", value):
        return "has no letter: a port name needs one (a number is written without quotes)"
    return ""


def _label_problem(key: Any, value: Any) -> str:
    """Why `key: value` is not a valid label ('' when it is one)."""
    key = str(key)
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"the label key {key!r} has a prefix that is not a lower-case DNS name"
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            f"the label key {key!r} is not valid: at most 63 letters, digits, '-', '_' or '.', "
            "beginning and ending with a letter or digit"
        )
    text = "" if value is None else str(value)
    if text and (len(text) > 63 or not _LABEL_NAME.fullmatch(text)):
        clue = " (it has a space)" if " " in text else ""
        return (
            f"the label value {text!r} is not valid{clue}: at most 63 letters, digits, '-', '_' "
            "or '.', beginning and ending with a letter or digit"
        )
    return ""


def name_problem(doc: Doc) -> str | None:
    """The first name the API server would refuse in a schema-valid document, or None."""
    data = doc.data
    where = doc.where
    # a Service's name is a DNS label that starts with a letter; other kinds' a DNS subdomain
    why = _dns_name_problem(doc.name, "1035" if doc.kind == "Service" else "subdomain")
    if why:
        return f"{where}: metadata.name {doc.name!r} {why} — {_REJECTS}"
    if doc.namespace is not None:
        why = _dns_name_problem(doc.namespace, "label")
        if why:
            return f"{where}: metadata.namespace {doc.namespace!r} {why} — {_REJECTS}"
    label_maps = [("metadata.labels", get(data, "metadata", "labels"))]
    if doc.kind == "Deployment":
        label_maps += [
            ("spec.selector.matchLabels", get(data, "spec", "selector", "matchLabels")),
            ("spec.template.metadata.labels", get(data, "spec", "template", "metadata", "labels")),
        ]
    if doc.kind == "Service":
        label_maps.append(("spec.selector", get(data, "spec", "selector")))
    for path, labels in label_maps:
        for key, value in mapping(labels).items():
            why = _label_problem(key, value)
            if why:
                return f"{where}: in `{path}`, {why} — {_REJECTS}"
    if doc.kind == "ConfigMap":
        for key in mapping(data.get("data")):
            if len(str(key)) > 253 or not _CONFIG_KEY.fullmatch(str(key)):
                return (
                    f"{where}: the data key {key!r} is not valid: a ConfigMap key is letters, "
                    f"digits, '-', '_' and '.' only — {_REJECTS}"
                )
    if doc.kind == "Deployment":
        spec = mapping(get(data, "spec", "template", "spec"))
        for group in ("initContainers", "containers"):
            for i, container in enumerate(items(spec.get(group))):
                base = f"spec.template.spec.{group}[{i}]"
                name = get(container, "name")
                if isinstance(name, str):
                    why = _dns_name_problem(name, "label")
                    if why:
                        return f"{where}: `{base}.name` {name!r} {why} — {_REJECTS}"
                for j, port in enumerate(items(get(container, "ports"))):
                    port_name = get(port, "name")
                    if isinstance(port_name, str):
                        why = _port_name_problem(port_name)
                        if why:
                            return f"{where}: `{base}.ports[{j}].name` {port_name!r} {why} — {_REJECTS}"
    if doc.kind == "Service":
        for j, port in enumerate(items(get(data, "spec", "ports"))):
            port_name = get(port, "name")
            if isinstance(port_name, str):
                why = _dns_name_problem(port_name, "label")
                if why:
                    return f"{where}: `spec.ports[{j}].name` {port_name!r} {why} — {_REJECTS}"
    return None


@pytest.fixture(scope="session")
def k8s(workdir: Path) -> Manifests:
    return Manifests(workdir)


# ----- quantities (the kubernetes client is not installed: this follows its parse_quantity) ------

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[mkMGTPE])?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes resource quantity as an exact number (cores for cpu, bytes for memory).

    `500m` → 1/2, `1` → 1, `0.5` → 1/2, `1Gi` → 2**30, `512Mi` → 2**29, `1G` → 10**9,
    `1.5Gi` → 1610612736, `1e3` → 1000; `1gi`, `1GB`, `500 m` or a boolean raise ValueError.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a quantity")
    text = value if isinstance(value, str) else repr(value)
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{value!r} is not a quantity")
    number, suffix = Fraction(match["number"]), match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Fraction(10) ** int(suffix[1:])
    return number * _DECIMAL[suffix]


def show_cpu(cores: Fraction) -> str:
    millis = cores * 1000
    text = f"{float(millis):g}m"
    return f"{text} = {float(cores):g} CPU" if cores >= 1 else text


def show_bytes(size: Fraction) -> str:
    if size >= 2**30:
        return f"{float(size / 2**30):.4g}Gi"
    return f"{float(size / 2**20):.4g}Mi"


# ----- objects and references --------------------------------------------------------------------


def labels_text(labels: dict[Any, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items()) if labels else "(none)"


def selector_misses(selector: dict[str, Any], labels: dict[str, Any]) -> list[str]:
    """The parts of a label selector (matchLabels / matchExpressions) that `labels` fails."""
    misses = []
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            misses.append(f"{key}={value}")
    for expr in items(selector.get("matchExpressions")):
        key, operator = get(expr, "key"), get(expr, "operator")
        values = items(get(expr, "values"))
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(operator, False)
        if not ok:
            misses.append(f"{key} {operator} {values}" if values else f"{key} {operator}")
    return misses


def near_miss(misses: dict[str, Any], labels: dict[str, Any]) -> str:
    """A clue when a selector label is a typo of a pod label (key or value)."""
    for key, value in misses.items():
        if key in labels:
            return f" (`{key}` is {value!r} in the selector but {labels[key]!r} on the pods)"
        close = difflib.get_close_matches(str(key), [str(k) for k in labels], n=1, cutoff=0.7)
        if close:
            return f" (the selector's key `{key}` is not `{close[0]}`, the pods' key)"
    return ""


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def only(k8s: Manifests, kind: str) -> Doc | None:
    docs = k8s.of_kind(kind)
    if len(docs) > 1:
        fail(
            f"k8s/ defines {len(docs)} {kind}s ({', '.join(d.where for d in docs)}): this lab "
            f"deploys one model server, so keep one {kind}"
        )
    return docs[0] if docs else None


def namespaces_agree(first: Doc, second: Doc) -> None:
    if first.namespace != second.namespace:
        fail(
            f"{first.where} is in namespace {first.namespace or '(none given)'} but {second.where} "
            f"in {second.namespace or '(none given)'}: objects refer to each other only inside one "
            "namespace — give them all the same metadata.namespace, or leave it out everywhere"
        )


def pod_spec(deployment: Doc) -> dict[str, Any]:
    return mapping(get(deployment.data, "spec", "template", "spec"))


def pod_labels(deployment: Doc) -> dict[str, Any]:
    return mapping(get(deployment.data, "spec", "template", "metadata", "labels"))


def app_container(deployment: Doc) -> dict[str, Any]:
    containers = [c for c in items(pod_spec(deployment).get("containers")) if isinstance(c, dict)]
    if not containers:
        fail(f"{deployment.where} has no containers (spec.template.spec.containers is empty)")
    for container in containers:
        if split_image(str(container.get("image") or ""))[0] == IMAGE_REPO:
            return container
    images = ", ".join(repr(c.get("image")) for c in containers)
    clue = ""
    for container in containers:
        repo = split_image(str(container.get("image") or ""))[0]
        if repo and IMAGE_REPO.endswith("/" + repo):
            clue = (
                f": {repo!r} without the registry host means docker.io/{repo}, another image "
                f"altogether — write the full name {IMAGE_REPO}"
            )
    fail(f"no container of {deployment.where} runs {IMAGE_REPO} (images: {images}){clue}")


def container_ports(container: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in items(container.get("ports")) if isinstance(p, dict)]


def port_names(container: dict[str, Any]) -> dict[str, int]:
    return {
        p["name"]: p.get("containerPort")
        for p in container_ports(container)
        if isinstance(p.get("name"), str)
    }


def resolve_port(port: Any, container: dict[str, Any]) -> tuple[int | None, str]:
    """(the container port number `port` means, or None) and why not."""
    numbers = [p.get("containerPort") for p in container_ports(container)]
    names = port_names(container)
    if isinstance(port, int):
        if port in numbers:
            return port, ""
        return None, f"the container exposes {numbers or 'no port'}"
    if isinstance(port, str):
        if port.isdigit():
            return None, (
                f"{port!r} is a string, so Kubernetes reads it as a port *name*, and no port is "
                f"named {port!r}: write the number without quotes"
            )
        if port in names:
            return names[port], ""
        if not names:
            return None, f"no container port has a name: add `name: {port}` to the port 8080"
        named = ", ".join(f"{n} ({v})" for n, v in names.items())
        return None, f"no container port is named {port!r}; the named ports are {named}"
    return None, "no port is given"


@dataclass
class EnvSource:
    how: str  # "literal", "configmap", "secret", "other", "broken"
    detail: str
    value: str | None = None
    problem: str = ""
    refs: dict[str, Any] = field(default_factory=dict)


def environment(deployment: Doc, container: dict[str, Any], k8s: Manifests) -> dict[str, EnvSource]:
    """Each variable the container gets, and where from, with envFrom then env (env wins)."""
    maps = {
        doc.name: doc for doc in k8s.of_kind("ConfigMap") if doc.namespace == deployment.namespace
    }
    names = ", ".join(sorted(maps)) or "none"
    env: dict[str, EnvSource] = {}
    for entry in items(container.get("envFrom")):
        prefix = str(get(entry, "prefix") or "")
        cm_name, secret_name = get(entry, "configMapRef", "name"), get(entry, "secretRef", "name")
        if cm_name is not None:
            source = maps.get(cm_name)
            if source is None:
                env[f"(envFrom {cm_name})"] = EnvSource(
                    "broken",
                    f"envFrom configMapRef {cm_name!r}",
                    problem=f"envFrom refers to ConfigMap {cm_name!r}, but k8s/ defines {names}",
                )
                continue
            for key, value in mapping(get(source.data, "data")).items():
                env[prefix + str(key)] = EnvSource(
                    "configmap", f"envFrom ConfigMap {cm_name!r}", str(value)
                )
        if secret_name is not None:
            keys = [SECRET_KEY] if secret_name == SECRET_NAME else []
            for key in keys:
                env[prefix + key] = EnvSource(
                    "secret", f"envFrom Secret {secret_name!r}", refs={"name": secret_name}
                )
            if not keys:
                env[f"(envFrom {secret_name})"] = EnvSource(
                    "broken",
                    f"envFrom secretRef {secret_name!r}",
                    problem=f"envFrom refers to Secret {secret_name!r}; the cluster has only "
                    f"{SECRET_NAME!r}",
                )
    for entry in items(container.get("env")):
        name = get(entry, "name")
        if not isinstance(name, str):
            continue
        cm_ref = get(entry, "valueFrom", "configMapKeyRef")
        secret_ref = get(entry, "valueFrom", "secretKeyRef")
        if isinstance(cm_ref, dict):
            cm_name, key = cm_ref.get("name"), cm_ref.get("key")
            source = maps.get(cm_name)
            if source is None:
                env[name] = EnvSource(
                    "broken",
                    "configMapKeyRef",
                    problem=f"{name} refers to ConfigMap {cm_name!r}, but k8s/ defines {names}: "
                    "the pod would stay in CreateContainerConfigError",
                )
                continue
            data = mapping(get(source.data, "data"))
            if key not in data:
                keys = ", ".join(map(str, data)) or "none"
                env[name] = EnvSource(
                    "broken",
                    "configMapKeyRef",
                    problem=f"{name} refers to key {key!r} of ConfigMap {cm_name!r}, which has "
                    f"no such key (its keys: {keys}): the pod would stay in "
                    "CreateContainerConfigError",
                )
                continue
            env[name] = EnvSource("configmap", f"ConfigMap {cm_name!r} key {key!r}", str(data[key]))
        elif isinstance(secret_ref, dict):
            env[name] = EnvSource("secret", "secretKeyRef", refs=secret_ref)
        elif "value" in mapping(entry) or get(entry, "valueFrom") is None:
            value = get(entry, "value")
            env[name] = EnvSource(
                "literal", "a literal value", None if value is None else str(value)
            )
        else:
            env[name] = EnvSource(
                "other", "valueFrom " + ", ".join(mapping(get(entry, "valueFrom")))
            )
    return env


def deployment_for(k8s: Manifests, needed_by: str) -> Doc:
    """The Deployment, schema-checked, for tasks 2-4."""
    deployment = only(k8s, "Deployment")
    if deployment is None:
        fail(f"{needed_by} works on the Deployment's pods: write the Deployment first (task 1)")
    k8s.valid([deployment])
    return deployment


# ----- task 1 ------------------------------------------------------------------------------------


@pytest.mark.task(1)
def test_deployment_runs_the_model_server(k8s: Manifests) -> None:
    k8s.parsed()
    if not k8s.of_kind("Deployment") and not k8s.of_kind("ConfigMap"):
        raise NotImplementedError("task 1: no ConfigMap or Deployment in k8s/ yet")
    k8s.valid(k8s.for_task(1))
    deployment = only(k8s, "Deployment")
    if deployment is None:
        fail("k8s/ has a ConfigMap but no Deployment yet: task 1 asks for both")
    labels = pod_labels(deployment)
    if not labels:
        fail(
            f"{deployment.where}: the pod template has no labels (spec.template.metadata.labels): "
            "labels are how the Deployment and the Service find their pods"
        )
    selector = mapping(get(deployment.data, "spec", "selector"))
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        fail(
            f"{deployment.where} has no spec.selector.matchLabels: apps/v1 requires a selector, "
            f"and it must match the pod template's labels ({labels_text(labels)})"
        )
    misses = selector_misses(selector, labels)
    if misses:
        wanted = {
            k: v for k, v in mapping(selector.get("matchLabels")).items() if labels.get(k) != v
        }
        fail(
            f"{deployment.where}: spec.selector ({', '.join(misses)}) does not match the pod "
            f"template's labels ({labels_text(labels)}){near_miss(wanted, labels)}: the API "
            "server rejects such a Deployment (`selector` does not match template `labels`); "
            "a selector matches a pod only if the pod has every selector label with that value"
        )
    for doc in k8s.of_kind("Deployment"):
        spec = pod_spec(doc)
        for group in ("initContainers", "containers"):
            for container in items(spec.get(group)):
                image = str(get(container, "image") or "")
                repo, tag, digest = split_image(image)
                who = f"{doc.where}: container {get(container, 'name')!r}"
                pin = (
                    f"Pin the release: {IMAGE_REPO}:{IMAGE_TAG}"
                    if repo == IMAGE_REPO
                    else f"Pin {repo or 'it'} to a fixed version tag (or a digest) as well: the "
                    "rule holds for every container of the pod, not only the model server"
                )
                if not image:
                    fail(f"{who} has no image")
                if tag is None and digest is None:
                    fail(
                        f"{who} uses {image!r} with no tag, which means :latest — a tag that "
                        "moves: two nodes can run two different builds and a rollback has "
                        f"nothing to go back to. {pin}"
                    )
                if tag == "latest":
                    fail(
                        f"{who} uses {image!r}: :latest moves with every push, so a restart "
                        "can silently run another build and a rollback has nothing to go back "
                        f"to. {pin}"
                    )
    container = app_container(deployment)
    _repo, tag, digest = split_image(str(container.get("image")))
    if tag != IMAGE_TAG and not (tag is None and digest):
        fail(
            f"{deployment.where}: the model server's image is tagged {tag!r}; the release to "
            f"deploy is {IMAGE_TAG} ({IMAGE_REPO}:{IMAGE_TAG})"
        )
    numbers = [p.get("containerPort") for p in container_ports(container)]
    if APP_PORT not in numbers:
        fail(
            f"{deployment.where}: container {container.get('name')!r} declares containerPort "
            f"{numbers or 'none'}; the server listens on {APP_PORT} — declare "
            f"`containerPort: {APP_PORT}` (and give it a name, e.g. http, to refer to it by name)"
        )
    for entry in container_ports(container):
        if entry.get("containerPort") == APP_PORT and entry.get("protocol", "TCP") != "TCP":
            fail(f"{deployment.where}: port {APP_PORT} is {entry.get('protocol')}; HTTP is TCP")


@pytest.mark.task(1)
def test_config_and_secret_reach_the_container(k8s: Manifests) -> None:
    k8s.parsed()
    if not k8s.of_kind("Deployment") and not k8s.of_kind("ConfigMap"):
        raise NotImplementedError("task 1: no ConfigMap or Deployment in k8s/ yet")
    k8s.valid(k8s.for_task(1))
    for doc in k8s.docs:
        _no_dev_key(doc, doc.data, [])
    for relative, text in k8s.texts.items():  # what no parsed value holds: a comment
        for number, line in enumerate(text.splitlines(), start=1):
            if DEV_KEY in line:
                hash_at = line.find("#")
                where = (
                    "in a comment: a comment is committed with the file like everything else"
                    if 0 <= hash_at < line.index(DEV_KEY)
                    else "in the file's text: whatever is in the file is committed with it"
                )
                fail(
                    f"{relative}, line {number}: the development key ({DEV_KEY[:8]}…) is written "
                    f"{where}, so the key is in git for everyone who can read the repository — "
                    "delete it (and have the key rotated: a key once committed counts as leaked)"
                )
    for doc in k8s.of_kind("Secret"):
        fail(
            f"{doc.where}: k8s/ holds a Secret manifest. The key is only base64 in it (not "
            "encrypted), so committing it publishes the key, and `kubectl apply` would overwrite "
            f"the real one; the Secret {SECRET_NAME!r} already exists in the cluster — refer to "
            "it, do not write it"
        )
    for doc in k8s.of_kind("ConfigMap"):
        for key in list(mapping(get(doc.data, "data"))) + list(
            mapping(get(doc.data, "binaryData"))
        ):
            if SECRET_NAME_PATTERN.search(str(key)):
                fail(
                    f"{doc.where} holds {key!r}: a ConfigMap is plain text that anyone who can "
                    "read the namespace sees (`kubectl get configmap -o yaml`) — the API key "
                    f"belongs in the Secret {SECRET_NAME!r}, referenced with secretKeyRef"
                )
    deployment = only(k8s, "Deployment")
    if deployment is None:
        fail("k8s/ has a ConfigMap but no Deployment yet: task 1 asks for both")
    for cm in k8s.of_kind("ConfigMap"):
        if cm.name in _referenced_maps(deployment):
            namespaces_agree(deployment, cm)
    container = app_container(deployment)
    env = environment(deployment, container, k8s)
    for source in env.values():
        if source.how == "broken":
            fail(f"{deployment.where}: {source.problem}")
    for name, source in env.items():
        if source.how == "literal" and SECRET_NAME_PATTERN.search(name):
            fail(
                f"{deployment.where}: {name} is written into the Deployment as a literal value: "
                "everyone who can read the manifest, the git history or `kubectl get deployment "
                f"-o yaml` has the key — take it from the Secret {SECRET_NAME!r} with "
                "valueFrom.secretKeyRef"
            )
    api_key = env.get(SECRET_VAR)
    if api_key is None:
        clue = ""
        if SECRET_KEY in env:
            clue = (
                f": envFrom with secretRef names each variable after the Secret's key, so the "
                f"container gets {SECRET_KEY!r}, not {SECRET_VAR} — use an env entry with "
                "valueFrom.secretKeyRef"
            )
        fail(
            f"{deployment.where}: the container does not get {SECRET_VAR}{clue}; the server "
            f"refuses to start without it (from the Secret {SECRET_NAME!r}, key {SECRET_KEY!r})"
        )
    if api_key.how == "configmap":
        fail(
            f"{deployment.where}: {SECRET_VAR} comes from a ConfigMap ({api_key.detail}); a "
            f"ConfigMap is plain text — use valueFrom.secretKeyRef on the Secret {SECRET_NAME!r}"
        )
    if api_key.how != "secret":
        fail(
            f"{deployment.where}: {SECRET_VAR} comes from {api_key.detail}; take it from the "
            f"Secret {SECRET_NAME!r} (key {SECRET_KEY!r}) with valueFrom.secretKeyRef"
        )
    ref_name, ref_key = api_key.refs.get("name"), api_key.refs.get("key", SECRET_KEY)
    if ref_name != SECRET_NAME or ref_key != SECRET_KEY:
        fail(
            f"{deployment.where}: {SECRET_VAR} refers to Secret {ref_name!r}, key {ref_key!r}; "
            f"the cluster's Secret is {SECRET_NAME!r} with the key {SECRET_KEY!r} (a reference "
            "to a missing Secret or key keeps the pod in CreateContainerConfigError)"
        )
    if api_key.refs.get("optional") is True:
        fail(
            f"{deployment.where}: the secretKeyRef for {SECRET_VAR} is `optional: true`, so a "
            "missing Secret starts the server without its key; leave optional out"
        )
    maps_keys = {
        str(k): cm.name for cm in k8s.of_kind("ConfigMap") for k in mapping(get(cm.data, "data"))
    }
    for name, want in CONFIG.items():
        source = env.get(name)
        if source is None:
            given = [n for n in env if not n.startswith("(")]
            prefixed = [n for n in given if n.endswith(name) and env[n].how == "configmap"]
            near = difflib.get_close_matches(name, given, n=1)
            if prefixed:
                clue = (
                    f" (the container gets {prefixed[0]!r}: an envFrom `prefix` is put in front "
                    "of every key)"
                )
            elif near:
                clue = f" (the container gets {near[0]!r}: names are exact and case-sensitive)"
            elif name in maps_keys:
                clue = (
                    f" (the ConfigMap {maps_keys[name]!r} has the key, but the container does not "
                    "reference it)"
                )
            else:
                clue = ""
            fail(
                f"{deployment.where}: {name} is not set in the container{clue}; the server needs "
                f"{', '.join(CONFIG)} from the ConfigMap and {SECRET_VAR} from the Secret"
            )
        if source.how != "configmap":
            fail(
                f"{deployment.where}: {name} comes from {source.detail}; the task keeps the "
                "server's settings in the ConfigMap (configMapKeyRef or envFrom configMapRef), "
                "so that they change without editing the Deployment"
            )
        if source.value != want:
            fail(
                f"{deployment.where}: {name} is {source.value!r} (from {source.detail}); the "
                f"README's value is {want!r}"
            )


def _referenced_maps(deployment: Doc) -> set[str]:
    names: set[str] = set()
    spec = pod_spec(deployment)
    for container in items(spec.get("containers")) + items(spec.get("initContainers")):
        for entry in items(get(container, "envFrom")):
            name = get(entry, "configMapRef", "name")
            if isinstance(name, str):
                names.add(name)
        for entry in items(get(container, "env")):
            name = get(entry, "valueFrom", "configMapKeyRef", "name")
            if isinstance(name, str):
                names.add(name)
    return names


def _no_dev_key(doc: Doc, node: Any, path: list[str | int]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if DEV_KEY in str(key):
                fail(
                    f"{doc.where}: the key `{dotted([*path, key])}` holds the API key's value "
                    f"({DEV_KEY[:8]}…): whatever is in a manifest ends up in git and in `kubectl "
                    f"get -o yaml` — refer to the Secret {SECRET_NAME!r} with secretKeyRef instead"
                )
            _no_dev_key(doc, value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _no_dev_key(doc, value, [*path, index])
    elif isinstance(node, str) and DEV_KEY in node:
        fail(
            f"{doc.where}: `{dotted(path)}` holds the API key's value ({DEV_KEY[:8]}…): whatever "
            "is in a manifest ends up in git and in `kubectl get -o yaml` — refer to the Secret "
            f"{SECRET_NAME!r} with secretKeyRef instead"
        )


# ----- task 2 ------------------------------------------------------------------------------------


def _probe(
    deployment: Doc, container: dict[str, Any], field_name: str, path: str, other: str
) -> None:
    probe = container.get(field_name)
    who = f"{deployment.where}: container {container.get('name')!r}"
    role = "liveness" if field_name == "livenessProbe" else "readiness"
    if not isinstance(probe, dict) or not probe:
        fail(f"{who} has no {field_name}: the {role} probe should GET {path} on port {APP_PORT}")
    http = probe.get("httpGet")
    if not isinstance(http, dict):
        used = [k for k in ("tcpSocket", "exec", "grpc") if probe.get(k) is not None]
        why = {
            "tcpSocket": "a tcpSocket probe only sees that the port is open, not what the app "
            f"answers on {path}",
            "exec": "an exec probe runs a command inside the container (it depends on a curl or "
            "wget being in the image, and costs a process every period), where the kubelet can "
            "GET the endpoint itself",
            "grpc": "a grpc probe speaks the gRPC health protocol, and the server speaks HTTP",
        }
        what = (
            f"a{'n' if used and used[0] == 'exec' else ''} {used[0]} probe"
            if used
            else ("a probe without httpGet")
        )
        fail(
            f"{who}: the {role} probe is {what}; "
            + (why[used[0]] if used else "it has no handler")
            + f" — use httpGet with path {path} and port {APP_PORT} (or the port's name)"
        )
    got_path = http.get("path") or "/"
    if got_path != path:
        if got_path == other and role == "liveness":
            why = (
                f"the liveness probe checks {other}: while the model loads (up to a minute) "
                f"{other} answers 503, so the kubelet kills and restarts the pod again and again "
                f"and it never becomes ready. Liveness asks 'is the process alive?' ({path}); "
                f"readiness asks 'may it get traffic?' ({other})"
            )
        elif got_path == other:
            why = (
                f"the readiness probe checks {other}, which answers 200 before the model is "
                "loaded, so the Service sends requests to pods that cannot answer them yet. "
                f"Readiness is {path}; liveness is {other}"
            )
        else:
            why = f"the {role} probe checks {got_path!r}; the app's {role} endpoint is {path}"
        fail(f"{who}: {why}")
    port, why_not = resolve_port(http.get("port"), container)
    if port != APP_PORT:
        shown = http.get("port")
        fail(
            f"{who}: the {role} probe port {shown!r} is not the server's port {APP_PORT}"
            + (f" ({why_not})" if why_not else "")
            + ": every probe would fail to connect"
        )
    scheme = http.get("scheme") or "HTTP"
    if scheme != "HTTP":
        fail(f"{who}: the {role} probe uses scheme {scheme}; the server speaks plain HTTP")


def _task2_elsewhere(deployment: Doc, container: dict[str, Any], fields: tuple[str, ...]) -> str:
    """The name of another container of the pod that has one of `fields` ('' if none)."""
    spec = pod_spec(deployment)
    for other in items(spec.get("initContainers")) + items(spec.get("containers")):
        if (
            isinstance(other, dict)
            and other is not container
            and any(mapping(other.get(f)) for f in fields)
        ):
            return str(other.get("name"))
    return ""


@pytest.mark.task(2)
def test_probes_check_the_real_endpoints(k8s: Manifests) -> None:
    k8s.parsed()
    if not k8s.of_kind("Deployment"):
        raise NotImplementedError("task 2: no Deployment yet")
    deployment = deployment_for(k8s, "Task 2")
    container = app_container(deployment)
    if not container.get("livenessProbe") and not container.get("readinessProbe"):
        elsewhere = _task2_elsewhere(deployment, container, ("livenessProbe", "readinessProbe"))
        if elsewhere:
            fail(
                f"{deployment.where}: the probes are on container {elsewhere!r}, not on "
                f"{container.get('name')!r}, the one that runs {IMAGE_REPO}: the kubelet probes "
                "each container on its own, so the model server's own container needs them"
            )
        if not mapping(container.get("resources")):
            raise NotImplementedError("task 2: no probes yet")
        # task 2 is under way (resources are set): the missing probe is reported below
    _probe(deployment, container, "livenessProbe", LIVENESS_PATH, READINESS_PATH)
    _probe(deployment, container, "readinessProbe", READINESS_PATH, LIVENESS_PATH)


@pytest.mark.task(2)
def test_resources_requests_within_limits(k8s: Manifests) -> None:
    k8s.parsed()
    if not k8s.of_kind("Deployment"):
        raise NotImplementedError("task 2: no Deployment yet")
    deployment = deployment_for(k8s, "Task 2")
    container = app_container(deployment)
    resources = mapping(container.get("resources"))
    if not resources:
        elsewhere = _task2_elsewhere(deployment, container, ("resources",))
        if elsewhere:
            fail(
                f"{deployment.where}: resources are set on container {elsewhere!r}, not on "
                f"{container.get('name')!r}, the one that runs {IMAGE_REPO}: requests and limits "
                "belong to each container, so the model server's own container needs them"
            )
        if not container.get("livenessProbe") and not container.get("readinessProbe"):
            raise NotImplementedError("task 2: no resources yet")
        fail(
            f"{deployment.where}: container {container.get('name')!r} has probes but no "
            "resources: task 2 asks for requests and limits for cpu and memory as well"
        )
    who = f"{deployment.where}: container {container.get('name')!r}"
    parsed: dict[tuple[str, str], Fraction] = {}
    for group in ("requests", "limits"):
        values = mapping(resources.get(group))
        for resource in ("cpu", "memory"):
            if resource not in values or values[resource] is None:
                clue = (
                    " (without a request Kubernetes copies the limit, and the scheduler and the "
                    "HPA work from the request)"
                    if group == "requests"
                    else " (without a limit one runaway pod can take the whole node)"
                )
                fail(f"{who} has no {resource} {group[:-1]} in resources.{group}{clue}")
            raw = values[resource]
            try:
                amount = parse_quantity(raw)
            except ValueError:
                fail(
                    f"{who}: {resource} {group[:-1]} {raw!r} is not a Kubernetes quantity — write "
                    "cpu as cores or millicores (1, 0.5, 500m) and memory with a case-sensitive "
                    "suffix (Mi, Gi: powers of 2; M, G: powers of 10), e.g. 512Mi or 1Gi"
                )
            if amount <= 0:
                fail(f"{who}: {resource} {group[:-1]} {raw!r} is not a positive amount")
            parsed[(group, resource)] = amount
    show = {"cpu": show_cpu, "memory": show_bytes}

    def said(raw: Any, amount: Fraction, resource: str) -> str:
        shown = show[resource](amount)
        return repr(raw) if str(raw) == shown else f"{raw!r} ({shown})"

    raw_of = {(g, r): mapping(resources.get(g))[r] for g, r in parsed}
    node = {"cpu": NODE_CPU, "memory": NODE_MEMORY}
    for group in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            amount, raw = parsed[(group, resource)], raw_of[(group, resource)]
            if amount > node[resource]:
                clue = ""
                if resource == "cpu" and re.fullmatch(r"\d+(\.\d*)?", str(raw)):
                    clue = f" (a plain number counts whole CPUs: did you mean {raw}m?)"
                fail(
                    f"{who}: the {resource} {group[:-1]} {raw!r} is {show[resource](amount)}, more "
                    f"than a node has ({show[resource](node[resource])}){clue}; a pod that fits "
                    "no node stays Pending forever"
                )
    for resource in ("cpu", "memory"):
        request, limit = parsed[("requests", resource)], parsed[("limits", resource)]
        if request > limit:
            fail(
                f"{who}: the {resource} request {said(raw_of[('requests', resource)], request, resource)} "
                f"is above its limit {said(raw_of[('limits', resource)], limit, resource)}; the API server "
                "rejects the pod — a request is what "
                "the scheduler reserves, a limit the ceiling, so request ≤ limit"
            )
    cpu_request = parsed[("requests", "cpu")]
    if cpu_request < MIN_CPU_REQUEST:
        fail(
            f"{who}: the cpu request is {said(raw_of[('requests', 'cpu')], cpu_request, 'cpu')}; "
            f"the server needs at least {show_cpu(MIN_CPU_REQUEST)} to answer at its usual load"
        )
    memory_request = parsed[("requests", "memory")]
    if memory_request < MODEL_MEMORY:
        raw = raw_of[("requests", "memory")]
        clue = ""
        if re.fullmatch(r"[\d.]+[kMGT]", str(raw)):
            clue = (
                f" — {raw} is decimal ({float(memory_request):,.0f} bytes); Gi and Mi are binary "
                "(1Gi = 1,073,741,824 bytes)"
            )
        elif re.fullmatch(r"\d+", str(raw)):
            clue = " — a plain number counts bytes"
        fail(
            f"{who}: the memory request {raw!r} is {show_bytes(memory_request)}, below the 1Gi "
            f"the loaded model needs{clue}; the scheduler could place the pod on a node without "
            "room for it, and it would be evicted or OOM-killed"
        )


# ----- task 3 ------------------------------------------------------------------------------------


@pytest.mark.task(3)
def test_service_routes_to_the_pods(k8s: Manifests) -> None:
    k8s.parsed()
    if not k8s.for_task(3):
        raise NotImplementedError("task 3: no Service yet")
    k8s.valid(k8s.for_task(3))
    services = k8s.of_kind("Service")
    service = next((s for s in services if s.name == SERVICE_NAME), None)
    if service is None:
        fail(
            f"k8s/ has no Service named {SERVICE_NAME!r} (found {', '.join(s.where for s in services)}): "
            f"the gateway calls http://{SERVICE_NAME}/predict, and a Service's name is its DNS name"
        )
    deployment = deployment_for(k8s, "The Service")
    namespaces_agree(deployment, service)
    spec = mapping(get(service.data, "spec"))
    if spec.get("type") == "ExternalName":
        fail(f"{service.where} is an ExternalName Service: it points at a DNS name, not at pods")
    selector = mapping(spec.get("selector"))
    labels = pod_labels(deployment)
    if not selector:
        fail(
            f"{service.where} has no spec.selector: a Service without one selects no pod (it is "
            f"meant for endpoints you manage by hand) — select the pods by their labels "
            f"({labels_text(labels)})"
        )
    misses = {k: v for k, v in selector.items() if labels.get(k) != v}
    if misses:
        fail(
            f"{service.where}: the selector ({labels_text(selector)}) selects no pod of "
            f"{deployment.where}, whose pods are labelled {labels_text(labels)}"
            f"{near_miss(misses, labels)}: the Service would have no endpoints, and every request "
            "to it would fail"
        )
    container = app_container(deployment)
    ports = [p for p in items(spec.get("ports")) if isinstance(p, dict)]
    entry = next((p for p in ports if p.get("port") == SERVICE_PORT), None)
    if entry is None:
        fail(
            f"{service.where} exposes port {[p.get('port') for p in ports] or 'none'}; the gateway "
            f"calls http://{SERVICE_NAME}/predict, which is port {SERVICE_PORT} — set "
            f"`port: {SERVICE_PORT}` and let targetPort lead to the container's {APP_PORT}"
        )
    if entry.get("protocol", "TCP") != "TCP":
        fail(f"{service.where}: port {SERVICE_PORT} is {entry.get('protocol')}; HTTP is TCP")
    target = entry.get("targetPort", entry.get("port"))
    resolved, why_not = resolve_port(target, container)
    if resolved != APP_PORT:
        default = (
            " (targetPort is not set, so it defaults to `port`)"
            if "targetPort" not in entry
            else ""
        )
        fail(
            f"{service.where}: targetPort {target!r}{default} does not lead to the server's port "
            f"{APP_PORT}"
            + (f" ({why_not})" if why_not else "")
            + f": the Service would forward to a port nothing listens on — set targetPort "
            f"{APP_PORT}, or the name of that container port"
        )


# ----- task 4 ------------------------------------------------------------------------------------


@pytest.mark.task(4)
def test_autoscaler_scales_the_deployment(k8s: Manifests) -> None:
    k8s.parsed()
    if not k8s.for_task(4):
        raise NotImplementedError("task 4: no HorizontalPodAutoscaler yet")
    for doc in k8s.of_kind("HorizontalPodAutoscaler"):
        if doc.data.get("apiVersion") == "autoscaling/v1":
            fail(
                f"{doc.where} is autoscaling/v1, which knows only "
                "targetCPUUtilizationPercentage: write it as autoscaling/v2, whose spec.metrics "
                "lists the CPU target (and can add memory or custom metrics later)"
            )
    k8s.valid(k8s.for_task(4))
    hpa = only(k8s, "HorizontalPodAutoscaler")
    if hpa is None:  # only close misspellings route here, and validation has reported them
        fail("k8s/ has no HorizontalPodAutoscaler")
    deployment = deployment_for(k8s, "The HPA")
    namespaces_agree(deployment, hpa)
    spec = mapping(get(hpa.data, "spec"))
    target = mapping(spec.get("scaleTargetRef"))
    wanted = f"apiVersion: apps/v1, kind: Deployment, name: {deployment.name}"
    if target.get("kind") != "Deployment":
        fail(
            f"{hpa.where}: scaleTargetRef.kind is {target.get('kind')!r}; it must be "
            f"'Deployment' (exactly: kinds are case-sensitive) — {wanted}"
        )
    if target.get("name") != deployment.name:
        fail(
            f"{hpa.where}: scaleTargetRef names {target.get('name')!r}, but the Deployment is "
            f"{deployment.name!r}: the HPA would find nothing to scale ({wanted})"
        )
    if target.get("apiVersion") != "apps/v1":
        fail(
            f"{hpa.where}: scaleTargetRef.apiVersion is "
            f"{'not set' if target.get('apiVersion') is None else repr(target.get('apiVersion'))}; "
            f"the HPA needs it to find the Deployment, whose apiVersion is apps/v1 ({wanted})"
        )
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if low is None:
        fail(
            f"{hpa.where} has no minReplicas, which then defaults to 1: one pod restarting or "
            f"rolling out would leave no pod serving — set minReplicas to at least {HPA_MIN}"
        )
    if low > high:
        fail(
            f"{hpa.where}: minReplicas {low} is above maxReplicas {high}; the API server "
            "rejects it — min ≤ max"
        )
    if low < HPA_MIN:
        fail(
            f"{hpa.where}: minReplicas is {low}; keep at least {HPA_MIN} pods, so that one "
            "restarting or rolling out never leaves the service without a ready pod"
        )
    if high > HPA_MAX:
        fail(
            f"{hpa.where}: maxReplicas is {high}; the team's quota allows at most {HPA_MAX} "
            "model-server pods"
        )
    metrics = [m for m in items(spec.get("metrics")) if isinstance(m, dict)]
    cpu = [
        m for m in metrics if m.get("type") == "Resource" and get(m, "resource", "name") == "cpu"
    ]
    if not cpu:
        kinds = ", ".join(
            f"{m.get('type')} "
            f"{get(m, 'resource', 'name') or get(m, 'containerResource', 'name') or ''}".strip()
            for m in metrics
        )
        clue = ""
        for m in metrics:
            name = get(m, "resource", "name")
            if isinstance(name, str) and name != "cpu" and name.lower() == "cpu":
                clue = f": resource names are lower-case, `cpu`, not {name!r}"
            elif (
                m.get("type") == "ContainerResource"
                and get(m, "containerResource", "name") == "cpu"
            ):
                clue = (
                    ": a ContainerResource metric watches one container; the task asks for the "
                    "pod's CPU, a metric of type Resource"
                )
        fail(
            f"{hpa.where}: spec.metrics has no CPU resource metric ({kinds or 'it is empty'})"
            f"{clue}; add `type: Resource` with `resource.name: cpu` and a Utilization target"
        )
    goal = mapping(get(cpu[0], "resource", "target"))
    if goal.get("type") != "Utilization":
        fail(
            f"{hpa.where}: the CPU target is of type {goal.get('type')!r}; the task asks for "
            "`type: Utilization` with averageUtilization, a percentage of the pods' CPU request"
        )
    percent = goal.get("averageUtilization")
    if percent is None:
        fail(f"{hpa.where}: the CPU Utilization target has no averageUtilization (a percentage)")
    lo, hi = UTILIZATION_BAND
    if not lo <= percent <= hi:
        fail(
            f"{hpa.where}: averageUtilization is {percent}; it is a percentage of the CPU request "
            f"(70 means 70%): aim between {lo} and {hi} — lower wastes pods, higher leaves no "
            "headroom for a burst while new pods start"
        )
    container = app_container(deployment)
    if get(container, "resources", "requests", "cpu") is None:
        fail(
            f"{hpa.where}: CPU utilisation is measured against the containers' CPU request, and "
            f"container {container.get('name')!r} has none (task 2): the HPA cannot compute it "
            "and will not scale"
        )
    replicas = get(deployment.data, "spec", "replicas")
    if replicas is not None and not low <= replicas <= high:
        fail(
            f"{deployment.where}: replicas is {replicas}, outside the HPA's {low}..{high}: every "
            "`kubectl apply` resets the Deployment to that count until the HPA corrects it — "
            f"set replicas within {low}..{high}, or leave it out and let the HPA own it"
        )
