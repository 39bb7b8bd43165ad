"""git for lab checks and lab setup files: the engine's own wrapper, re-exported.

``run_git(repo, "log", "--oneline")`` runs git with no inherited ``GIT_*`` variable (a hook's
``GIT_DIR`` would point it at another repository) and, with ``home=``, no global or system
configuration, so a check reads only what the learner committed.  One implementation serves the
engine and the labs: :mod:`aipath.gitutil`.
"""

from __future__ import annotations

from aipath.gitutil import git_env, run_git

__all__ = ["git_env", "run_git"]
