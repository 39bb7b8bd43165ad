"""Alternative: memory written as plain bytes (1073741824 = 1Gi) and cpu as 0.25, a pinned init
container and a pinned sidecar with resources of their own listed before the model server's
container, a port named `api`, a mix of named and numeric probe ports, and the stale starter
files left as comments."""

from __future__ import annotations

from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "k8s"
K8S_VERSION = "1.35"

TEXT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: model-server-config
data:
  MODEL_NAME: sentiment-v3
  LOG_LEVEL: info
  MAX_BATCH_SIZE: '16'
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-server
spec:
  replicas: 4
  selector:
    matchLabels:
      app: model-server
  template:
    metadata:
      labels:
        app: model-server
    spec:
      initContainers:
        - name: fetch-weights
          image: busybox:1.36.1
          command: ["sh", "-c", "echo warming"]
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: 200m, memory: 128Mi}
      containers:
        - name: log-shipper
          image: fluent/fluent-bit:3.0.7
          resources:
            requests: {cpu: 50m, memory: 32Mi}
            limits: {cpu: 100m, memory: 64Mi}
        - name: model-server
          image: registry.example.com/aipath/model-server:1.4.2
          ports:
            - containerPort: 8080
              name: api
          envFrom:
            - configMapRef:
                name: model-server-config
          env:
            - name: API_KEY
              valueFrom:
                secretKeyRef: {name: model-server-secrets, key: api-key}
          livenessProbe:
            httpGet: {path: /health, port: api}
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
            failureThreshold: 12
            periodSeconds: 5
          resources:
            requests:
              cpu: "0.25"
              memory: "1073741824"
            limits:
              cpu: 1000m
              memory: 4096Mi
"""

EXTRA = """\
apiVersion: v1
kind: Service
metadata:
  name: model-server
  labels: {app: model-server}
spec:
  selector: {app: model-server}
  ports:
    - name: http
      port: 80
      targetPort: api
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: model-server
spec:
  minReplicas: 2
  maxReplicas: 10
  scaleTargetRef: {kind: Deployment, name: model-server, apiVersion: apps/v1}
  metrics:
    - resource:
        target: {averageUtilization: 70, type: Utilization}
        name: cpu
      type: Resource
"""


def write_manifests(workdir: Path) -> None:
    folder = workdir / "k8s"
    folder.mkdir(exist_ok=True)
    (folder / "deployment.yaml").write_text(TEXT, encoding="utf-8")
    (folder / "network-and-scaling.yaml").write_text(EXTRA, encoding="utf-8")
    for stale in ("configmap.yaml", "service.yaml", "hpa.yaml"):
        (folder / stale).write_text(
            "# moved into deployment.yaml and network-and-scaling.yaml\n", encoding="utf-8"
        )


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
