"""Portfolio projects: scaffold the roadmap's projects and audit any repository like a reviewer.

``create_project`` writes a complete, tested repository for one project kind; ``audit_repository``
scores a repository against the hiring criteria.  Both are services: the CLI and the dashboard
only call them.
"""

from __future__ import annotations

from aipath.portfolio.audit import AuditReport, audit_repository
from aipath.portfolio.kinds import KINDS, KindSpec

__all__ = ["KINDS", "AuditReport", "KindSpec", "audit_repository", "create_project"]


def __getattr__(name: str) -> object:
    # The scaffolder pulls in Jinja2 and templates; load it only when a project is created.
    if name == "create_project":
        from aipath.portfolio.scaffold import create_project

        return create_project
    raise AttributeError(name)
