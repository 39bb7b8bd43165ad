"""Alternative: wheels built in one stage and installed from a bind mount in the next (no COPY
--from layer that keeps the wheels), a numeric UID, ENTRYPOINT + CMD, a `python -c` health
check, an allow-list .dockerignore, list-form environment (POSTGRES_PASSWORD passed through
from .env) in docker-compose.yml;
the probe written with http.client.

The container's health probe: exit status 0 when the app answers, 1 when it does not.

Docker runs this file inside the image, every `--interval`, as the HEALTHCHECK command:

    HEALTHCHECK CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]

It uses only the standard library: a slim image has no curl or wget, and the probe must not
depend on the app's own packages.

(An alternative solution. `perform(workdir)` writes the Dockerfile, .dockerignore and compose.yaml
a learner writes by hand; `aipath dev check` calls it before the checks read the folder.)
"""

from __future__ import annotations

import http.client
import sys
import urllib.parse
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/health"


def probe(url: str, timeout: float = 2.0) -> bool:
    """True when GET `url` answers with a 2xx status within `timeout` seconds, else False."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return 200 <= status < 300


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
FROM python:3.12.8-slim-bookworm AS wheels
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.12.8-slim-bookworm AS runtime
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \\
    pip install --no-cache-dir --no-index --find-links=/wheels -r requirements.txt
COPY healthcheck.py .
COPY models ./models
COPY app ./app
USER 10001:10001
EXPOSE 8000/tcp
HEALTHCHECK --interval=15s --timeout=3s \\
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://localhost:8000/health', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["python", "-m", "uvicorn"]
CMD ["app.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
"""

DOCKERIGNORE = """\
# Allow-list: exclude everything, then let back in what the image is built from.
*
!app/
!models/
!requirements.txt
!healthcheck.py
**/__pycache__
**/*.pyc
"""

COMPOSE = """\
name: churn

services:
  db:
    image: postgres:17.2-alpine
    environment:
      - POSTGRES_USER=churn
      - POSTGRES_DB=churn
      - POSTGRES_PASSWORD
    volumes:
      - type: volume
        source: pgdata
        target: /var/lib/postgresql/data
    healthcheck:
      test: pg_isready -U churn -d churn
      interval: 2s
      retries: 15
      start_period: 5s

  api:
    build:
      context: .
      dockerfile: Dockerfile
    ports:
      - target: 8000
        published: "8000"
        host_ip: 127.0.0.1
    environment:
      - DATABASE_URL=postgresql://churn:${POSTGRES_PASSWORD}@db/churn
    depends_on:
      db:
        condition: service_healthy
        restart: true
    restart: unless-stopped

volumes:
  pgdata: {}
"""


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
