# expect: puts the whole command line in one item
# Mistake: exec-form CMD with the whole command as one string: Docker looks for an executable with spaces in its name
"""churn-scorer health probe (blind-review candidate)."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/health"


def probe(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    url = argv[0] if argv else DEFAULT_URL
    return 0 if probe(url) else 1


DOCKERFILE = 'FROM python:3.12.8-slim-bookworm AS builder\nRUN python -m venv /opt/venv\nENV PATH="/opt/venv/bin:$PATH"\nWORKDIR /build\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n\nFROM python:3.12.8-slim-bookworm\nENV PATH="/opt/venv/bin:$PATH"\nRUN useradd --system app\nCOPY --from=builder /opt/venv /opt/venv\nWORKDIR /app\nCOPY app/ ./app/\nCOPY models/ ./models/\nCOPY healthcheck.py .\nEXPOSE 8000\nUSER app\nHEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]\nCMD ["uvicorn app.main:app --host 0.0.0.0 --port 8000"]\n'
DOCKERIGNORE = ".venv\n.env\ndata\n**/__pycache__\ntests\n"
COMPOSE = 'services:\n  api:\n    build: .\n    ports:\n      - "8000:8000"\n    environment:\n      DATABASE_URL: postgresql://churn:${POSTGRES_PASSWORD}@db:5432/churn\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: postgres:16.4-bookworm\n    environment:\n      POSTGRES_USER: churn\n      POSTGRES_DB: churn\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n    healthcheck:\n      test: ["CMD-SHELL", "pg_isready -U churn -d churn"]\n      interval: 5s\n      retries: 10\nvolumes:\n  pgdata:\n'


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "compose.yaml").write_text(COMPOSE, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
