# expect: `latest` moves
# Mistake: the final stage starts FROM python:latest.
"""The container's health probe: exit status 0 when the app answers, 1 when it does not.

Docker runs this file inside the image, every `--interval`, as the HEALTHCHECK command:

    HEALTHCHECK CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]

It uses only the standard library: a slim image has no curl or wget, and the probe must not
depend on the app's own packages.

(Reference solution. `perform(workdir)` writes the Dockerfile, .dockerignore and compose.yaml
a learner writes by hand; `aipath dev check` calls it before the checks read the folder.)
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/health"


def probe(url: str, timeout: float = 2.0) -> bool:
    """True when GET `url` answers with a 2xx status within `timeout` seconds, else False."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):  # URLError, HTTPError, refused, timed out; a malformed URL
        return False


def main(argv: list[str] | None = None) -> int:
    """The exit status Docker reads: 0 healthy, 1 unhealthy (2 is reserved: never return it)."""
    args = sys.argv[1:] if argv is None else argv
    url = args[0] if args else DEFAULT_URL
    return 0 if probe(url) else 1


if __name__ == "__main__":
    sys.exit(main())


# ----- the files a learner writes by hand, for `aipath dev check` -------------------------------

DOCKERFILE = """\
# syntax=docker/dockerfile:1

# Build stage: the pinned dependencies, installed into a virtual environment.
FROM python:3.12.8-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
WORKDIR /build
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Runtime stage: the same Python, the environment, the app and its model; no pip cache.
FROM python:latest
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PATH="/opt/venv/bin:$PATH"
RUN groupadd --system app && useradd --system --gid app --no-create-home app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY app/ ./app/
COPY models/ ./models/
COPY healthcheck.py .
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\
    CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""

DOCKERIGNORE = """\
# Never sent to the builder: the host's environment, secrets, data, caches, dev-only files.
.git
.venv
.env
data
**/__pycache__
**/*.pyc
tests
notebooks
"""

COMPOSE = """\
services:
  api:
    build: .
    ports:
      - "8000:8000"
    environment:
      DATABASE_URL: postgresql://churn:${POSTGRES_PASSWORD:?set it in .env}@db:5432/churn
    depends_on:
      db:
        condition: service_healthy

  db:
    image: postgres:16.4-bookworm
    environment:
      POSTGRES_USER: churn
      POSTGRES_DB: churn
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in .env}
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U churn -d churn"]
      interval: 5s
      timeout: 3s
      retries: 10

volumes:
  pgdata:
"""


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
