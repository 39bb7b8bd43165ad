"""Lay out the project folder of lab p4-docker next to the exercise.

The lab ships the app (`app/`, `models/`, `tests/`, `requirements*.txt`) as workspace files.
This hook adds what a real project folder also holds and what a package cannot ship (files
without a suffix, dot-files, generated junk):

* `Dockerfile`: the naive starter the learner hardens ("it works on my machine");
* `.gitignore`: git's ignore rules, which are not Docker's (the README explains the difference);
* `.env`: the local database password that Compose reads, a secret that must stay out of images;
* the junk every working copy collects: a host virtual environment (`.venv/`), raw data with
  personal details (`data/raw/`) and bytecode caches (`app/__pycache__/`, `tests/__pycache__/`).

Files the learner may have changed are never deleted: when `aipath reset p4-docker` runs this
hook again, an edited `Dockerfile`, the `.dockerignore` and the Compose file are renamed to
`<name>.old-<n>` and the starter `Dockerfile` comes back. `.env` is kept as it is.
"""

from __future__ import annotations

from pathlib import Path

STARTER_DOCKERFILE = """\
# A first Dockerfile for churn-scorer. It builds, and on a laptop it even runs; it is not
# ready for production. README tasks 1-3 turn it into a small, cacheable, pinned, non-root,
# health-checked image. Edit this file (and write .dockerignore and compose.yaml next to it).
FROM python:latest

WORKDIR /app
COPY . .
RUN pip install -r requirements.txt

CMD uvicorn app.main:app --port 8000
"""

GITIGNORE = """\
# Git: what stays out of the repository. (Docker does not read this file: the build context
# is filtered by .dockerignore, whose patterns follow other rules.)
.venv/
.env
data/
__pycache__/
*.pyc
"""

DOTENV = """\
# Local settings. `docker compose` reads this file to fill the ${...} variables of compose.yaml.
# It holds a secret: never commit it, never copy it into an image.
POSTGRES_PASSWORD=local-dev-only-7c41e9
"""

RAW_CSV = """\
customer_id,email,tenure_months,monthly_charges,support_calls,churned
1001,ana.moreau@example.com,2,79.5,3,1
1002,li.wen@example.com,41,55.0,0,0
1003,omar.haddad@example.com,17,99.9,1,0
1004,jo.smith@example.com,5,64.2,4,1
"""

JUNK: dict[str, bytes] = {
    ".venv/pyvenv.cfg": b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
    ".venv/bin/python": b"#!/bin/sh\n# stands in for the host interpreter the virtual environment links to\n",
    ".venv/lib/python3.11/site-packages/fastapi/__init__.py": (
        b'"""A copy of fastapi built for this machine\'s Python, not the image\'s."""\n'
    ),
    ".venv/lib/python3.11/site-packages/pydantic_core/_pydantic_core.so": b"\x7fELF host-built",
    "data/raw/customers-2024-06.csv": RAW_CSV.encode(),
    "app/__pycache__/main.cpython-311.pyc": b"\xa7\r\r\n host bytecode",
    "app/__pycache__/model.cpython-311.pyc": b"\xa7\r\r\n host bytecode",
    "tests/__pycache__/test_app.cpython-311-pytest-9.2.0.pyc": b"\xa7\r\r\n host bytecode",
}

LEARNER_FILES = (
    ".dockerignore",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)


def _set_aside(path: Path) -> None:
    number = 1
    while path.with_name(f"{path.name}.old-{number}").exists():
        number += 1
    path.rename(path.with_name(f"{path.name}.old-{number}"))


def prepare(workdir: Path) -> None:
    # Found here only on a reset (a new lab folder has none): keep the learner's work aside.
    dockerfile = workdir / "Dockerfile"
    if dockerfile.exists() and dockerfile.read_text(encoding="utf-8") != STARTER_DOCKERFILE:
        _set_aside(dockerfile)
    for name in LEARNER_FILES:
        if (workdir / name).exists():
            _set_aside(workdir / name)
    if not dockerfile.exists():
        dockerfile.write_text(STARTER_DOCKERFILE, encoding="utf-8")
    for name, text in ((".gitignore", GITIGNORE), (".env", DOTENV)):
        if not (workdir / name).exists():
            (workdir / name).write_text(text, encoding="utf-8")
    for name, data in JUNK.items():
        path = workdir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
