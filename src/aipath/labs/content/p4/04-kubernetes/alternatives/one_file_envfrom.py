"""Alternative: every object in one multi-document file (`---` between them), the settings
with envFrom, ports by number, quantities spelled 0.5 / 1024Mi / 1 / 1.5Gi, the recommended
app.kubernetes.io labels with the Service selecting a subset of them, and no `replicas` (the HPA
owns the count)."""

from __future__ import annotations

from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parent / "k8s"
K8S_VERSION = "1.35"

ALL = """\
# The model server: config, workload, service and autoscaler.
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: model-server-settings
data:
  MODEL_NAME: "sentiment-v3"
  LOG_LEVEL: "info"
  MAX_BATCH_SIZE: "16"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sentiment-api
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: sentiment-api
  template:
    metadata:
      labels:
        app.kubernetes.io/name: sentiment-api
        app.kubernetes.io/part-of: aipath
        app.kubernetes.io/version: "1.4.2"
    spec:
      containers:
        - name: server
          image: "registry.example.com/aipath/model-server:1.4.2"
          imagePullPolicy: IfNotPresent
          ports:
            - containerPort: 8080
              protocol: TCP
          envFrom:
            - configMapRef:
                name: model-server-settings
          env:
            - name: API_KEY
              valueFrom:
                secretKeyRef:
                  name: model-server-secrets
                  key: api-key
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
              scheme: HTTP
            initialDelaySeconds: 10
            periodSeconds: 5
          livenessProbe:
            httpGet:
              path: /health
              port: 8080
            initialDelaySeconds: 5
            timeoutSeconds: 2
          resources:
            limits:
              cpu: 1
              memory: 1.5Gi
            requests:
              cpu: 0.5
              memory: 1024Mi
---
apiVersion: v1
kind: Service
metadata:
  name: model-server
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: sentiment-api
  ports:
    - port: 80
      targetPort: 8080
      protocol: TCP
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: sentiment-api
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: sentiment-api
  minReplicas: 3
  maxReplicas: 8
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 60
---
"""


def write_manifests(workdir: Path) -> None:
    """One file for everything; the starter's per-object files are removed."""
    folder = workdir / "k8s"
    for starter in ("configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml"):
        (folder / starter).unlink(missing_ok=True)
    (folder / "model-server.yaml").write_text(ALL, encoding="utf-8")


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
