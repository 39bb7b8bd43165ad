"""compose.yaml, read statically (Docker cannot run here): its services, commands and
environment must be the ones the CLI and the settings module actually take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main
import yaml

from aipath.cli import app
from aipath.cohort import settings

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


def _cohort_command(name: str) -> Any:
    """The click command behind `aipath cohort NAME` (typer builds it on its own click)."""
    group: Any = typer.main.get_command(app)
    return group.commands["cohort"].commands[name]


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def test_services_and_commands_match_the_cli() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"server", "worker", "postgres", "redis"} <= set(services)
    for name, sub in (("server", "serve"), ("worker", "worker")):
        command = services[name]["command"]
        assert command[:3] == ["aipath", "cohort", sub]
        flags = {arg for arg in command[3:] if arg.startswith("-")}
        assert flags <= _options(_cohort_command(sub)), f"{name} uses an unknown flag"
        env = services[name]["environment"]
        assert env[settings.ENV_DATABASE_URL].startswith("postgresql+psycopg://")
        assert env[settings.ENV_BROKER_URL].startswith("redis://redis:")
        for dependency in ("postgres", "redis"):
            assert services[name]["depends_on"][dependency]["condition"] == "service_healthy"
    server = services["server"]["command"]
    port = server[server.index("--port") + 1]
    assert services["server"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert server[server.index("--host") + 1] == "0.0.0.0"  # inside its container only


def test_database_and_broker_urls_point_at_the_services() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    pg = services["postgres"]["environment"]
    url = services["server"]["environment"][settings.ENV_DATABASE_URL]
    expected = (
        f"postgresql+psycopg://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{pg['POSTGRES_DB']}"
    )
    assert url == expected
    assert "--appendonly" in services["redis"]["command"]
    assert "seccomp:unconfined" in services["worker"]["security_opt"]
