"""Alternative: the Python version in a global ARG, a shared `base` stage, pip --prefix with a cache mount and a
bind-mounted requirements file, the install copied to /usr/local, `COPY . .` behind a thorough
.dockerignore, `python -m uvicorn`, an adduser-made user; in Compose, the database password as
a secret (POSTGRES_PASSWORD_FILE) and PostgreSQL 18's volume layout; the probe with a loop
over accepted statuses.

The container's health probe: exit status 0 when the app answers, 1 when it does not.

Docker runs this file inside the image, every `--interval`, as the HEALTHCHECK command:

    HEALTHCHECK CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]

It uses only the standard library: a slim image has no curl or wget, and the probe must not
depend on the app's own packages.

(An alternative solution. `perform(workdir)` writes the Dockerfile, .dockerignore and compose.yaml
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
        request = urllib.request.Request(url, headers={"User-Agent": "healthcheck"})
        response = urllib.request.urlopen(request, timeout=timeout)
    except Exception:  # anything at all: the container is not healthy
        return False
    with response:
        return response.status in range(200, 300)


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
ARG PYTHON_VERSION=3.12.8

FROM python:${PYTHON_VERSION}-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

FROM base AS build
RUN --mount=type=cache,target=/root/.cache/pip \\
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\
    pip install --prefix=/install -r /tmp/requirements.txt

FROM base
RUN adduser --system --group --no-create-home churn
COPY --from=build /install /usr/local
WORKDIR /srv
COPY --chown=root:root . .
USER churn
HEALTHCHECK CMD ["python", "/srv/healthcheck.py", "http://localhost:8000/health"]
CMD ["python", "-m", "uvicorn", "app.main:app", "--host=0.0.0.0", "--port=8000", "--proxy-headers"]
"""

DOCKERIGNORE = """\
# version control, local environments, secrets
.git/
.gitignore
/.venv/
.env
.env.*
# data and caches, at any depth
/data/
**/__pycache__/
**/*.py[cod]
.pytest_cache/
# not needed to run the app
tests/
requirements-dev.txt
Dockerfile*
.dockerignore
compose.yaml
*.md
"""

COMPOSE = """\
services:
  api:
    build: .
    ports: ["8080:8000"]
    environment:
      DATABASE_URL: "postgresql://churn:${POSTGRES_PASSWORD}@database:5432/predictions"
    depends_on:
      database: {condition: service_healthy}

  database:
    image: postgres:18-bookworm
    environment:
      POSTGRES_USER: churn
      POSTGRES_DB: predictions
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
    volumes: ["db-data:/var/lib/postgresql"]
    healthcheck:
      test: ["CMD", "pg_isready", "--username=churn", "--dbname=predictions"]
      interval: 3s
      timeout: 2s
      retries: 20

secrets:
  db_password:
    environment: POSTGRES_PASSWORD

volumes:
  db-data:
"""


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
