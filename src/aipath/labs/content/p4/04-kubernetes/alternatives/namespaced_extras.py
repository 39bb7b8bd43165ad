"""Alternative: `.yml` files in a subfolder, every object in the namespace ml-serving (with the
Namespace and a PodDisruptionBudget as extra objects), flow-style mappings, a pinned logging
sidecar next to the server, envFrom plus an env entry that overrides one of its variables,
numeric probe and target ports, and a rolling-update strategy."""

from __future__ import annotations

from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "k8s"
K8S_VERSION = "1.35"

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata: {name: ml-serving}
"""

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: model-server-config, namespace: ml-serving}
data: {MODEL_NAME: sentiment-v3, LOG_LEVEL: debug, MAX_BATCH_SIZE: "16"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: model-server-logging, namespace: ml-serving}
data: {LOG_LEVEL: info}
"""

WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-server
  namespace: ml-serving
spec:
  replicas: 3
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: model-server, component: api}
  template:
    metadata:
      labels: {app: model-server, component: api}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: api
          image: registry.example.com/aipath/model-server:1.4.2
          ports: [{containerPort: 8080, name: http}, {containerPort: 9090, name: metrics}]
          envFrom:
            - configMapRef: {name: model-server-config}
          env:
            - name: LOG_LEVEL
              valueFrom: {configMapKeyRef: {name: model-server-logging, key: LOG_LEVEL}}
            - name: API_KEY
              valueFrom: {secretKeyRef: {name: model-server-secrets, key: api-key}}
          livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 15}
          readinessProbe: {httpGet: {path: /ready, port: 8080}, failureThreshold: 2}
          resources:
            requests: {cpu: 250m, memory: 1Gi}
            limits: {cpu: "2", memory: 4Gi}
        - name: log-shipper
          image: registry.example.com/platform/fluent-bit:3.1.9
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 100m, memory: 128Mi}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: model-server, namespace: ml-serving}
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: model-server}
"""

NETWORK = """\
apiVersion: v1
kind: Service
metadata: {name: model-server, namespace: ml-serving}
spec:
  selector: {app: model-server, component: api}
  ports:
    - {name: http, port: 80, targetPort: 8080}
    - {name: metrics, port: 9090, targetPort: metrics}
"""

SCALING = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: model-server, namespace: ml-serving}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: model-server}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"""


def write_manifests(workdir: Path) -> None:
    """Save the manifests under k8s/base/ as .yml; the starter files stay as comments."""
    folder = workdir / "k8s" / "base"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in [
        ("00-namespace.yml", NAMESPACE),
        ("config.yml", CONFIG),
        ("workload.yml", WORKLOAD),
        ("network.yml", NETWORK),
        ("scaling.yml", SCALING),
    ]:
        (folder / name).write_text(text, encoding="utf-8")


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
