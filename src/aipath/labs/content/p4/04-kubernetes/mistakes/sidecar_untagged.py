# expect: the rule holds for every container of the pod
"""Mistake: a log sidecar with the untagged image busybox (which means :latest)."""

from __future__ import annotations

from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "k8s"
K8S_VERSION = "1.35"

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: model-server-config
  labels:
    app: model-server
data:
  MODEL_NAME: sentiment-v3
  LOG_LEVEL: info
  MAX_BATCH_SIZE: "16"
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-server
  labels:
    app: model-server
spec:
  replicas: 2
  selector:
    matchLabels:
      app: model-server
  template:
    metadata:
      labels:
        app: model-server
    spec:
      containers:
        - name: model-server
          image: registry.example.com/aipath/model-server:1.4.2
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: MODEL_NAME
              valueFrom:
                configMapKeyRef:
                  name: model-server-config
                  key: MODEL_NAME
            - name: LOG_LEVEL
              valueFrom:
                configMapKeyRef:
                  name: model-server-config
                  key: LOG_LEVEL
            - name: MAX_BATCH_SIZE
              valueFrom:
                configMapKeyRef:
                  name: model-server-config
                  key: MAX_BATCH_SIZE
            - name: API_KEY
              valueFrom:
                secretKeyRef:
                  name: model-server-secrets
                  key: api-key
          livenessProbe:
            httpGet:
              path: /health
              port: http
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 5
          resources:
            requests:
              cpu: 500m
              memory: 1Gi
            limits:
              cpu: "1"
              memory: 2Gi
        - name: log-tailer
          image: busybox
          command: ["sh", "-c", "tail -F /var/log/app.log"]
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: model-server
  labels:
    app: model-server
spec:
  selector:
    app: model-server
  ports:
    - name: http
      port: 80
      targetPort: http
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: model-server
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: model-server
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"""

MANIFESTS = {
    "configmap.yaml": CONFIGMAP,
    "deployment.yaml": DEPLOYMENT,
    "service.yaml": SERVICE,
    "hpa.yaml": HPA,
}


def write_manifests(workdir: Path) -> None:
    """Save each manifest in workdir/k8s/, replacing the starter's comment-only files."""
    folder = workdir / "k8s"
    folder.mkdir(exist_ok=True)
    for name, text in MANIFESTS.items():
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
