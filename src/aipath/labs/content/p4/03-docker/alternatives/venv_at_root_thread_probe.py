"""Alternative: the venv at /venv through VIRTUAL_ENV, a named group with USER name:group, a probe
bounded by a worker thread, `$VAR` without braces and `$$VAR` for the container's shell in
Compose, the port published on the host's loopback only.
"""

from __future__ import annotations

import sys
import threading
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/health"


def _get(url: str, timeout: float, result: list[bool]) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            result.append(200 <= response.status < 300)
    except BaseException:
        result.append(False)


def probe(url: str, timeout: float = 2.0) -> bool:
    result: list[bool] = []
    worker = threading.Thread(target=_get, args=(url, timeout, result), daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return bool(result) and result[0]


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    url = argv[0] if argv else DEFAULT_URL
    return 0 if probe(url) else 1


DOCKERFILE = 'FROM python:3.12.8-slim-bookworm AS build\nENV VIRTUAL_ENV=/venv\nRUN python -m venv $VIRTUAL_ENV\nENV PATH="$VIRTUAL_ENV/bin:$PATH"\nCOPY requirements.txt /src/requirements.txt\nRUN pip install --no-cache-dir -r /src/requirements.txt\n\nFROM python:3.12.8-slim-bookworm\nRUN groupadd -r churn && useradd -r -g churn churn\nENV VIRTUAL_ENV=/venv\nENV PATH="/venv/bin:$PATH"\nCOPY --from=build /venv /venv\nWORKDIR /app\nCOPY app/ app/\nCOPY models/churn-v3.json models/churn-v3.json\nCOPY healthcheck.py /app/healthcheck.py\nUSER churn:churn\nHEALTHCHECK --interval=30s --timeout=5s --retries=3 \\\n  CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]\nCMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]\n'
DOCKERIGNORE = ".git\n.venv/\n.env\ndata/\n**/__pycache__\n**/*.pyc\n"
COMPOSE = 'services:\n  db:\n    image: postgres:16.4-bookworm\n    environment:\n      POSTGRES_USER: churn\n      POSTGRES_DB: churn\n      POSTGRES_PASSWORD: $POSTGRES_PASSWORD\n    volumes:\n      - pgdata:/var/lib/postgresql/data:rw\n    healthcheck:\n      test: ["CMD-SHELL", "pg_isready -U $${POSTGRES_USER} -d $${POSTGRES_DB}"]\n      interval: 10s\n  app:\n    build:\n      context: .\n      dockerfile: Dockerfile\n    ports:\n      - "127.0.0.1:8000:8000"\n    environment:\n      DATABASE_URL: postgresql://churn:${POSTGRES_PASSWORD}@db:5432/churn\n    depends_on:\n      db:\n        condition: service_healthy\nvolumes:\n  pgdata:\n    driver: local\n'


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "compose.yaml").write_text(COMPOSE, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
