"""Alternative: wheels built in the builder next to a copy of requirements.txt, both brought over
with one COPY --from and installed offline in the final stage; Python 3.13 in both stages; a
urllib Request probe; docker-compose.yaml with a long-form port and another database name.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/health"


def probe(url: str, timeout: float = 2.0) -> bool:
    try:
        req = urllib.request.Request(url, method="GET", headers={"User-Agent": "healthcheck"})
        resp = urllib.request.urlopen(req, timeout=timeout)
    except Exception:
        return False
    try:
        return resp.getcode() // 100 == 2
    finally:
        resp.close()


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    healthy = probe(argv[0]) if len(argv) >= 1 else probe(DEFAULT_URL)
    return int(not healthy)


DOCKERFILE = 'FROM python:3.13.1-slim-bookworm AS builder\nWORKDIR /wheels\nCOPY requirements.txt .\nRUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt\n\nFROM python:3.13.1-slim-bookworm\nRUN useradd --create-home --uid 10001 app\nWORKDIR /home/app/srv\nCOPY --from=builder /wheels /wheels\nRUN pip install --no-cache-dir --no-index --find-links=/wheels -r /wheels/requirements.txt \\\n    && rm -rf /wheels\nCOPY app app\nCOPY models models\nCOPY healthcheck.py .\nUSER app\nEXPOSE 8000\nHEALTHCHECK --start-period=5s CMD ["python", "/home/app/srv/healthcheck.py", "http://127.0.0.1:8000/health"]\nCMD ["uvicorn", "--host", "0.0.0.0", "--port", "8000", "app.main:app"]\n'
DOCKERIGNORE = "*.env\n.venv\ndata\n**/__pycache__\n.gitignore\ncompose.yaml\n"
COMPOSE = 'name: churn\nservices:\n  db:\n    image: "postgres:16"\n    restart: unless-stopped\n    environment:\n      POSTGRES_USER: churn\n      POSTGRES_DB: scoring\n      POSTGRES_PASSWORD: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"\n    volumes:\n      - "churn_pg:/var/lib/postgresql/data"\n    healthcheck:\n      test: ["CMD-SHELL", "pg_isready -U churn -d scoring"]\n  api:\n    build: .\n    ports:\n      - target: 8000\n        published: 8000\n    environment:\n      DATABASE_URL: "postgresql://churn:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@db:5432/scoring"\n    depends_on:\n      db:\n        condition: service_healthy\nvolumes:\n  churn_pg:\n'


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "docker-compose.yaml").write_text(COMPOSE, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
