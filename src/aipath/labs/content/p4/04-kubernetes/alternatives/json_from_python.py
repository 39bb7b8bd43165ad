"""Alternative: the manifests built as Python dicts and saved as JSON (kubectl reads JSON too):
a matchExpressions selector, an image pinned to tag and digest, a startupProbe, an extra env
variable from the downward API, a named Service port, and an HPA with a memory metric and a
scale-down policy next to the CPU target."""

import json
from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "k8s"
K8S_VERSION = "1.35"

LABELS = {"app": "model-server", "track": "stable"}
DIGEST = "sha256:" + "3f" * 32


def config_entry(name: str) -> dict:
    return {"name": name, "valueFrom": {"configMapKeyRef": {"name": "server-config", "key": name}}}


CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "server-config"},
    "data": {
        "MODEL_NAME": "sentiment-v3",
        "LOG_LEVEL": "info",
        "MAX_BATCH_SIZE": "16",
        "UNUSED_NOTE": "settings only, no credentials",
    },
}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "model-server", "labels": LABELS},
    "spec": {
        "replicas": 4,
        "selector": {
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["model-server"]},
                {"key": "track", "operator": "Exists"},
            ]
        },
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "containers": [
                    {
                        "name": "model",
                        "image": f"registry.example.com/aipath/model-server:1.4.2@{DIGEST}",
                        "ports": [{"name": "web", "containerPort": 8080}],
                        "env": [
                            config_entry("MODEL_NAME"),
                            config_entry("LOG_LEVEL"),
                            config_entry("MAX_BATCH_SIZE"),
                            {
                                "name": "API_KEY",
                                "valueFrom": {
                                    "secretKeyRef": {
                                        "name": "model-server-secrets",
                                        "key": "api-key",
                                    }
                                },
                            },
                            {
                                "name": "POD_NAME",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            },
                        ],
                        "startupProbe": {
                            "httpGet": {"path": "/health", "port": "web"},
                            "failureThreshold": 30,
                            "periodSeconds": 2,
                        },
                        "livenessProbe": {"httpGet": {"path": "/health", "port": "web"}},
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                        "resources": {
                            "requests": {"cpu": "250m", "memory": "1Gi"},
                            "limits": {"cpu": "2", "memory": "1Gi"},
                        },
                    }
                ],
            },
        },
    },
}

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "model-server"},
    "spec": {
        "selector": {"app": "model-server"},
        "ports": [{"name": "http", "port": 80, "targetPort": "web"}],
    },
}

HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "model-server-autoscaler"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model-server"},
        "minReplicas": 2,
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "1500Mi"},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 75},
                },
            },
        ],
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
            }
        },
    },
}


def write_manifests(workdir: Path) -> None:
    """Save each object as JSON; the starter's YAML files are removed."""
    folder = workdir / "k8s"
    for starter in ("configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml"):
        (folder / starter).unlink(missing_ok=True)
    for name, obj in [
        ("configmap", CONFIGMAP),
        ("deployment", DEPLOYMENT),
        ("service", SERVICE),
        ("hpa", HPA),
    ]:
        (folder / f"{name}.json").write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    """Print `file: Kind name: ok` (or the first schema error) for each document in k8s/."""
    import kubernetes_validate
    import yaml

    problems = 0
    files = sorted(p for p in MANIFEST_DIR.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    for path in files:
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as exc:
            print(f"{path.name}: not valid YAML: {exc}")
            problems += 1
            continue
        if not documents:
            print(f"{path.name}: no document yet (only comments)")
        for doc in documents:
            if not isinstance(doc, dict):
                print(f"{path.name}: a document is not a mapping")
                problems += 1
                continue
            label = f"{path.name}: {doc.get('kind')} {(doc.get('metadata') or {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
                print(f"{label}: ok")
            except Exception as exc:  # a schema error, an unknown kind or apiVersion
                print(f"{label}: {getattr(exc, 'message', exc)}")
                problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
