"""Reference values of a lab's checks, computed once in the process that forks its checks.

A lab's checks often recompute the same reference before judging anything: embeddings of a fixed
corpus, a reference model's scores on the packaged data.  In a check forked from a warm worker
that work was lost with the child, so ``dev check`` paid it again for every mistake, and a
learner for every save.  Functions marked :func:`aipath.checks.precomputed` are run here instead,
in the forking parent, once per version of the checks file; their values are inherited by every
check forked afterwards (:data:`aipath.checks.data.PRECOMPUTED`).

The parent imports the lab's own ``checks.py`` under a private name to find them: trusted code
from the lab's source folder, never the learner's.  Nothing here can change a verdict: a value
that cannot be computed is left out, and the check computes it itself and reports what fails.

That import must leave the parent as it found it, because every later check of every lab is
forked from it.  A checks file may confine its own process at import, for example with an audit
hook that refuses the network (p3-hf-transformers does); such a hook can never be removed, so
in the parent it would refuse the loopback servers of another lab's checks.  So while the file
is imported here ``sys.addaudithook`` installs nothing, and the environment is restored after;
each check imports the file again in its own child, where the hook and variables take effect.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aipath.checks.data import PRECOMPUTE_MARK, PRECOMPUTED, source_digest

__all__ = ["warm_checks"]

_seen: set[str] = set()


def warm_checks(lab_dir: Path | str) -> int:
    """Compute the precomputed values of ``lab_dir/checks.py`` here; how many were computed.

    Once per version of the file: a second call with an unchanged file returns 0 at once.
    """
    path = Path(lab_dir) / "checks.py"
    try:
        digest = source_digest(str(path))  # one stat per check once the file is known
        if digest in _seen:
            return 0
        _seen.add(digest)
        if b"precomputed" not in path.read_bytes():
            return 0  # most labs: nothing to import
    except OSError:
        return 0
    name = f"_aipath_precompute_{digest[:16]}"
    computed = 0
    sink = io.StringIO()
    with (
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        warnings.catch_warnings(),
        _parent_left_as_found(),
    ):
        warnings.simplefilter("ignore")
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                return 0
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            for value in list(vars(module).values()):
                key = getattr(value, PRECOMPUTE_MARK, None)
                if not isinstance(key, tuple) or key in PRECOMPUTED:
                    continue
                with contextlib.suppress(Exception):
                    PRECOMPUTED[key] = value.__wrapped__()
                    computed += 1
        except Exception:  # the check imports the file itself and reports what fails
            return computed
        finally:
            sys.modules.pop(name, None)
    if computed and gc.isenabled():
        gc.freeze()  # the new values stay out of the children's collections (no copy-on-write)
    return computed


def _skip_audit_hook(hook: Callable[[str, tuple[Any, ...]], None]) -> None:
    """Stands in for ``sys.addaudithook`` while a checks file is imported in the parent."""


@contextlib.contextmanager
def _parent_left_as_found() -> Iterator[None]:
    """No audit hook installed and the environment unchanged by what runs inside."""
    environ = dict(os.environ)
    add_hook = sys.addaudithook
    sys.addaudithook = _skip_audit_hook
    try:
        yield
    finally:
        sys.addaudithook = add_hook
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)
