"""Alternative: uv builds the virtual environment (VIRTUAL_ENV), the final stage runs
/opt/venv/bin/uvicorn by its full path from an `sh -c "exec ..."` wrapper, as the base
image's own `nobody` user; Compose with exec-form pg_isready, .env through env_file for the
database, a host-only port; main() written with argparse.

The container's health probe: exit status 0 when the app answers, 1 when it does not.

Docker runs this file inside the image, every `--interval`, as the HEALTHCHECK command:

    HEALTHCHECK CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]

It uses only the standard library: a slim image has no curl or wget, and the probe must not
depend on the app's own packages.

(An alternative solution. `perform(workdir)` writes the Dockerfile, .dockerignore and compose.yaml
a learner writes by hand; `aipath dev check` calls it before the checks read the folder.)
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/health"


def probe(url: str, timeout: float = 2.0) -> bool:
    """True when GET `url` answers with a 2xx status within `timeout` seconds, else False."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError):
        return False
    return 200 <= status < 300


def main(argv: list[str] | None = None) -> int:
    """The exit status Docker reads: 0 healthy, 1 unhealthy (2 is reserved: never return it)."""
    parser = argparse.ArgumentParser(description="exit 0 when URL answers 2xx, else 1")
    parser.add_argument("url", nargs="?", default=DEFAULT_URL)
    parser.add_argument("--timeout", type=float, default=2.0)
    options = parser.parse_args(argv)
    healthy = probe(options.url, timeout=options.timeout)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())


# ----- the files a learner writes by hand, for `aipath dev check` -------------------------------

DOCKERFILE = """\
FROM python:3.13.1-slim-bookworm AS venv
COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /usr/local/bin/uv
ENV VIRTUAL_ENV=/opt/venv
RUN uv venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN uv pip install --no-cache -r /tmp/requirements.txt

FROM python:3.13.1-slim-bookworm AS final
COPY --from=venv /opt/venv/ /opt/venv/
WORKDIR /opt/churn
COPY requirements.txt healthcheck.py ./
COPY models/churn-v3.json models/
COPY app/*.py app/
USER nobody
HEALTHCHECK --start-period=5s CMD ["/opt/venv/bin/python", "healthcheck.py", "--timeout", "3", "http://127.0.0.1:9000/health"]
CMD ["/bin/sh", "-c", "exec /opt/venv/bin/uvicorn app.main:app --host 0.0.0.0 --port 9000"]
"""

DOCKERIGNORE = """\
**/.venv
**/.env
data/raw
**/__pycache__
"""

COMPOSE = """\
services:
  postgres:
    image: postgres:16
    env_file:
      - path: .env
        required: true
    environment:
      POSTGRES_USER: churn
      POSTGRES_DB: churn
    volumes:
      - churn-db:/var/lib/postgresql/data/
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "churn", "-d", "churn", "-h", "127.0.0.1"]
      interval: 5s

  scorer:
    build:
      context: .
    ports:
      - "127.0.0.1:9000:9000"
    environment:
      DATABASE_URL: postgresql://churn:${POSTGRES_PASSWORD?set POSTGRES_PASSWORD in .env}@postgres:5432/churn
    depends_on:
      postgres:
        condition: service_healthy

volumes:
  churn-db:
    driver: local
"""


def perform(workdir: Path) -> None:
    (workdir / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (workdir / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    (workdir / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
