"""Alternative: ConfigMap keys in dotted lower case (model.name, ...) mapped onto the env names
with configMapKeyRef, a 2G memory limit over a 1.5Gi request (decimal over binary), a
rolling-update strategy, maxReplicas 6, and an HPA memory metric next to the CPU target; the
starter files are deleted and the objects saved as numbered files."""

from __future__ import annotations

from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "k8s"
K8S_VERSION = "1.35"

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: model-server-config
  labels:
    app: model-server
data:
  model.name: sentiment-v3
  log.level: info
  max.batch.size: "16"
"""

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-server
spec:
  replicas: 2
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels:
      app: model-server
  template:
    metadata:
      labels:
        app: model-server
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: model-server
          image: registry.example.com/aipath/model-server:1.4.2
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: API_KEY
              valueFrom:
                secretKeyRef:
                  name: model-server-secrets
                  key: api-key
            - name: MODEL_NAME
              valueFrom:
                configMapKeyRef:
                  name: model-server-config
                  key: model.name
            - name: LOG_LEVEL
              valueFrom:
                configMapKeyRef:
                  name: model-server-config
                  key: log.level
            - name: MAX_BATCH_SIZE
              valueFrom:
                configMapKeyRef:
                  name: model-server-config
                  key: max.batch.size
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
              scheme: HTTP
          livenessProbe:
            httpGet:
              path: /health
              port: http
            initialDelaySeconds: 5
          resources:
            limits:
              memory: 2G
              cpu: 1500m
            requests:
              memory: 1.5Gi
              cpu: 750m
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: model-server
spec:
  selector:
    app: model-server
  ports:
    - port: 80
      targetPort: 8080
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
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 75
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: 80
"""


def write_manifests(workdir: Path) -> None:
    folder = workdir / "k8s"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    (folder / "10-config.yaml").write_text(CONFIG, encoding="utf-8")
    (folder / "20-deploy.yaml").write_text(DEPLOY, encoding="utf-8")
    (folder / "30-service.yaml").write_text(SERVICE, encoding="utf-8")
    (folder / "40-hpa.yaml").write_text(HPA, encoding="utf-8")


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
