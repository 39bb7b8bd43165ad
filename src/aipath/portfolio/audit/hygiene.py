"""Hygiene and security: secrets, large or binary files, notebooks, committed data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from aipath.portfolio.audit import gitrepo
from aipath.portfolio.audit.context import AuditContext
from aipath.portfolio.audit.discipline import DATA_SUFFIXES
from aipath.portfolio.audit.models import Evidence
from aipath.portfolio.audit.registry import Outcome, check, ev
from aipath.portfolio.audit.secrets import scan_secrets
from aipath.portfolio.audit.textutil import human_size
from aipath.portfolio.audit.walker import FileEntry

GROUP = "hygiene"

MB = 1_000_000
HUGE = 10 * MB
BIG_BINARY = 1 * MB
BIG_TEXT = 5 * MB
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
SMALL_FIXTURE = 100_000
FIXTURE_DIRS = ("tests/", "test/", "fixtures/", "examples/", "sample")
NOTEBOOK_MAX = 20 * MB


def _lfs(ctx: AuditContext) -> set[str]:
    """Big or data files that Git LFS manages: the working tree has the content, git a pointer."""

    def compute() -> set[str]:
        candidates = [
            e.rel
            for e in ctx.files.entries
            if e.tracked and (e.size >= BIG_BINARY or e.suffix in DATA_SUFFIXES)
        ]
        return gitrepo.lfs_paths(ctx.root, candidates[:5_000]) if ctx.is_git else set()

    return ctx.memo("lfs_paths", compute)


def _is_lfs_pointer(ctx: AuditContext, entry: FileEntry) -> bool:
    if entry.rel in _lfs(ctx):
        return True
    if entry.size > 1024:
        return False
    head = ctx.files.read_bytes(entry.rel, 200)
    return head is not None and head.startswith(LFS_POINTER)


def _nothing_to_scan(ctx: AuditContext) -> Outcome | None:
    """An empty repository is not clean, it is empty: hygiene checks have nothing to judge."""
    return None if ctx.files.entries else Outcome("skip", "no files to check")


def _where(entry: FileEntry) -> str:
    return "committed" if entry.tracked else "not ignored (would be committed)"


@check("secrets", "No secrets committed (detect-secrets)", group=GROUP, weight=8)
def secrets(ctx: AuditContext) -> Outcome:
    if (empty := _nothing_to_scan(ctx)) is not None:
        return empty
    scan = scan_secrets(ctx.files)
    # One finding per place: a credentials file whose lines also hit counts once per line, so the
    # number in the summary is the number of findings listed (up to the cap, said so).
    hit_files = {hit.file for hit in scan.hits}
    unique_hits = list(dict.fromkeys((hit.kind, hit.file, hit.line) for hit in scan.hits))
    findings: list[Evidence] = [
        ev("credentials file in the repository", rel)
        for rel in scan.sensitive_files
        if rel not in hit_files
    ]
    findings += [ev(kind, file, line) for kind, file, line in unique_hits]
    cap = 12
    evidence = findings[:cap]
    fix = (
        "Revoke the key now (it is public once pushed), move it to an environment variable or a "
        "git-ignored .env, then purge it from history with git filter-repo."
    )
    if scan.error:
        return Outcome("warn", scan.error, evidence, fix="pip install detect-secrets")
    found = len(findings)
    if found:
        kinds = sorted({kind for kind, _f, _l in unique_hits})
        what = ", ".join(kinds[:3]) or "credential files"
        shown = "" if found <= cap else f" (first {cap} listed)"
        return Outcome("fail", f"{found} possible secret(s){shown}: {what}", evidence, fix=fix)
    if scan.incomplete:
        return Outcome(
            "warn",
            f"none found, but {scan.incomplete}",
            fix="Run `detect-secrets scan` on the whole repository.",
        )
    return Outcome("pass", f"no secrets in {scan.scanned:,} text files")


@check("large_files", "No large or binary files in git", group=GROUP, weight=4)
def large_files(ctx: AuditContext) -> Outcome:
    if (empty := _nothing_to_scan(ctx)) is not None:
        return empty
    fails: list[Evidence] = []
    warns: list[Evidence] = []
    for entry in ctx.files.entries:
        if entry.size < BIG_BINARY or _is_lfs_pointer(ctx, entry):
            continue
        binary = ctx.files.is_binary(entry.rel)
        detail = f"{human_size(entry.size)} {'binary ' if binary else ''}file, {_where(entry)}"
        if entry.size >= HUGE:
            fails.append(ev(detail, entry.rel))
        elif binary or entry.size >= BIG_TEXT:
            warns.append(ev(detail, entry.rel))
    current = {e.rel for e in ctx.files.entries}
    if ctx.is_git:
        blobs = gitrepo.large_blobs_in_history(ctx.root, HUGE)
        for name, size in (blobs or [])[:20]:
            if name not in current:
                fails.append(
                    ev(f"{human_size(size)} blob still in git history (deleted since)", name)
                )
    fix = (
        "Track large binaries with Git LFS (`git lfs track '*.bin'`) or keep them out of git "
        "(download script, DVC); purge old ones from history with git filter-repo."
    )
    if fails:
        return Outcome("fail", f"{len(fails)} file(s) over 10 MB", fails[:8] + warns[:4], fix=fix)
    if warns:
        return Outcome("warn", f"{len(warns)} large or binary file(s)", warns[:8], fix=fix)
    biggest = max((e for e in ctx.files.entries), key=lambda e: e.size, default=None)
    if biggest is not None and biggest.size >= BIG_BINARY:
        # Text files between 1 and 5 MB are allowed: say so rather than "no file over 1 MB".
        return Outcome(
            "pass",
            f"no binary over 1 MB and no file over 5 MB (largest: {biggest.rel}, "
            f"{human_size(biggest.size)})",
        )
    return Outcome("pass", "no file over 1 MB")


@check("notebooks", "Notebooks without outputs and paired with a script", group=GROUP, weight=4)
def notebooks(ctx: AuditContext) -> Outcome:
    if (empty := _nothing_to_scan(ctx)) is not None:
        return empty
    entries = ctx.files.with_suffix("ipynb")
    if not entries:
        return Outcome("pass", "no notebooks (code lives in modules)")
    import nbformat

    with_outputs: list[Evidence] = []
    unpaired: list[Evidence] = []
    broken: list[Evidence] = []
    for entry in entries[:500]:
        text = ctx.files.read_text(entry.rel, limit=NOTEBOOK_MAX)
        if text is None:
            broken.append(ev("could not be read (binary, too large or unreadable)", entry.rel))
            continue
        try:
            with warnings.catch_warnings():  # old notebooks without cell ids are still notebooks
                warnings.simplefilter("ignore")
                nb = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
            cells = list(nb.get("cells", []))
        except (json.JSONDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
            broken.append(ev(f"not a valid notebook: {type(exc).__name__}", entry.rel))
            continue
        except Exception as exc:  # nbformat raises assorted validation errors
            broken.append(ev(f"not a valid notebook: {type(exc).__name__}", entry.rel))
            continue
        executed = [
            i
            for i, cell in enumerate(cells, start=1)
            if cell.get("cell_type") == "code"
            and (cell.get("outputs") or cell.get("execution_count"))
        ]
        if executed:
            with_outputs.append(
                ev(
                    f"{len(executed)} code cell(s) with outputs (first: cell {executed[0]})",
                    entry.rel,
                )
            )
        if not _paired(ctx, entry, nb.get("metadata", {})):
            unpaired.append(ev("no paired script (jupytext)", entry.rel))
    fix = (
        "Clear outputs before committing (`jupyter nbconvert --clear-output --inplace`, or "
        "nbstripout as a pre-commit hook) and pair each notebook with a script: "
        "`jupytext --set-formats ipynb,py:percent NOTEBOOK.ipynb`; move reusable code to modules."
    )
    count = len(entries)
    if with_outputs or broken:
        problems = len(with_outputs) + len(broken)
        return Outcome(
            "fail",
            f"{problems} of {count} notebook(s) with outputs or unreadable",
            with_outputs[:6] + broken[:4] + unpaired[:3],
            fix=fix,
        )
    if unpaired:
        return Outcome(
            "warn", f"{len(unpaired)} of {count} notebook(s) unpaired", unpaired[:6], fix=fix
        )
    return Outcome("pass", f"{count} notebook(s), outputs cleared and paired")


def _paired(ctx: AuditContext, entry: FileEntry, metadata: object) -> bool:
    """True when jupytext metadata names a pairing whose files exist, or a same-stem script does."""
    stem = entry.rel[: -len(".ipynb")]
    if any(ctx.files.get(stem + ext) is not None for ext in (".py", ".md", ".Rmd", ".qmd")):
        return True
    jt = metadata.get("jupytext") if isinstance(metadata, dict) else None
    formats = jt.get("formats") if isinstance(jt, dict) else None
    if not isinstance(formats, str):
        return False
    try:
        from jupytext.paired_paths import paired_paths

        pairs = paired_paths(str(ctx.root / entry.rel), "ipynb", formats)
    except Exception:  # jupytext rejects malformed format strings in several ways
        return False
    for path, _fmt in pairs:
        try:
            rel = Path(path).resolve().relative_to(ctx.root.resolve()).as_posix()
        except (ValueError, OSError):
            continue
        if rel != entry.rel and ctx.files.get(rel) is not None:
            return True
    return False


@check("data_files", "No data files committed", group=GROUP, weight=4)
def data_files(ctx: AuditContext) -> Outcome:
    if (empty := _nothing_to_scan(ctx)) is not None:
        return empty
    big: list[Evidence] = []
    small: list[Evidence] = []
    total = 0
    for entry in ctx.files.entries:
        if entry.suffix not in DATA_SUFFIXES or _is_lfs_pointer(ctx, entry):
            continue
        is_fixture = entry.size <= SMALL_FIXTURE and any(d in entry.rel for d in FIXTURE_DIRS)
        if is_fixture:
            continue
        total += entry.size
        detail = f"{entry.suffix} data, {human_size(entry.size)}, {_where(entry)}"
        (big if entry.size >= MB else small).append(ev(detail, entry.rel))
    fix = (
        "Load data at run time from its source (a package, a download script with a checksum, "
        "DVC) and git-ignore data/; keep only tiny fixtures under tests/."
    )
    if big:
        return Outcome(
            "fail", f"{len(big) + len(small)} data file(s), {human_size(total)}", big[:8], fix=fix
        )
    if small:
        return Outcome("warn", f"{len(small)} small data file(s)", small[:8], fix=fix)
    return Outcome("pass", "no data files committed")
