"""Print the README's performance tables from `benchmarks/results.json` (written by `make bench`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results.json"


def checks(data: dict[str, Any]) -> str:
    rows = [
        "| lab | warm check (forked child, confined) | the same unconfined "
        "| `aipath check` with a worker | ÷ warm "
        "| `aipath check --cold` | cold `python -m pytest` | worker ÷ cold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lab in data["labs"]:
        unconfined = lab.get("warm_unconfined_median_s")
        rows.append(
            f"| {lab['lab']} | {lab['warm_median_s']:.3f} s "
            f"| {f'{unconfined:.3f} s' if unconfined is not None else '—'} "
            f"| {lab['cli_worker_median_s']:.3f} s "
            f"| {lab.get('cli_worker_over_warm', 0):.2f} | {lab.get('cli_cold_median_s', 0):.3f} s "
            f"| {lab['cold_pytest_median_s']:.3f} s | {lab['cli_over_cold']:.2f} |"
        )
    startup = data.get("startup")
    if startup:
        rows.append("")
        rows.append(
            f"CLI start-up: `aipath --help` {startup['help_median_s']:.3f} s (cached help); "
            f"`aipath list --help` {startup['full_cli_median_s']:.3f} s (the full CLI)."
        )
    return "\n".join(rows)


def labs(data: dict[str, Any]) -> str:
    rows = ["| lab | tier | check time | time limit |", "|---|---|---|---|"]
    for lab in data["labs"]:
        rows.append(
            f"| {lab['lab']} | {lab['tier']} | {lab['median_s']:.2f} s | {lab['timeout_s']:g} s |"
        )
    return "\n".join(rows)


def dashboard(data: dict[str, Any]) -> str:
    rows = ["| page | median | p99 | requests/s | errors |", "|---|---|---|---|---|"]
    for key, label in (("home", "home `/`"), ("lab", f"lab `{data['lab']['page']}`")):
        page = data[key]
        rows.append(
            f"| {label} | {page['median_ms']:.1f} ms | {page['p99_ms']:.1f} ms "
            f"| {page['requests_per_s']:.0f} | {page['errors']} |"
        )
    return "\n".join(rows)


def audit(data: dict[str, Any]) -> str:
    repo, tree = data["aipath_repo"], data["generated_tree"]
    return "\n".join(
        [
            "| repository | files | audit time | score |",
            "|---|---|---|---|",
            f"| this repository | {repo['files']} | {repo['median_s']:.2f} s | {repo['score']} |",
            f"| generated tree | {tree['files']:,} | {tree['median_s']:.2f} s | {tree['score']} |",
        ]
    )


# Measured at commit 8909f29 (derived state recomputed from the whole log on each read) with
# this same benchmark, to show beside the current figures.
HISTORY_BEFORE: dict[str, Any] = {
    "events": 200000,
    "import_s": 6.6,
    "import_peak_mb": 805.5,
    "status_derive_ms": 4880.2,
    "status_s": 5.391,
    "pages_ms": {
        "/": 10308.5,
        "/labs": 2701.8,
        "/roadmap": 17630.5,
        "/plan": 10524.7,
        "/api/summary": 8625.2,
    },
}


def history(data: dict[str, Any]) -> str:
    before = HISTORY_BEFORE
    rows = [
        f"| {data['events']:,} events | now | before (whole log read each time) |",
        "|---|---|---|",
        f"| `aipath import` | {data['import_s']:.1f} s, {data['import_peak_mb']:.0f} MB peak "
        f"| {before.get('import_s', 0):.1f} s, {before.get('import_peak_mb', 0):.0f} MB peak |",
        f"| `aipath status` (process) | {data['status_s']:.2f} s | {before.get('status_s', 0):.2f} s |",
        f"| `aipath status` (process, a worker running) | {data.get('status_worker_s', 0):.2f} s "
        f"| {before.get('status_s', 0):.2f} s |",
        f"| status computed (in process) | {data['status_derive_ms']:.0f} ms "
        f"| {before.get('status_derive_ms', 0):.0f} ms |",
    ]
    for page, ms in data["pages_ms"].items():
        old = before.get("pages_ms", {}).get(page, 0)
        rows.append(f"| page `{page}` after a new event | {ms:.0f} ms | {old:.0f} ms |")
    return "\n".join(rows)


SECTION = """## Performance

`make bench` runs every benchmark and writes `benchmarks/results.json`; `aipath dev bench --json`
runs the check-latency part alone; `python benchmarks/readme_tables.py` rewrites this section from
the results. Figures are medians measured in one run of the script on this project's 2-core build
machine (noisy: compare the ratios, not the absolute numbers).

**Save → verdict** (reference solution in place, 10 runs each):

{checks}

**Each lab's check with its reference solution** (warm worker, one check at a time, median of 3):

{labs}

**Dashboard** (`aipath serve` on loopback, 50 concurrent keep-alive clients, 2,000 requests per page):

{dashboard}

**Portfolio audit** (median of 3):

{audit}

**A long history** (`benchmarks/history_bench.py`: 200,000 generated events, 18 months of
evenings; medians of 5, each page and status read right after a new check event):

{history}
"""


def main() -> None:
    """Replace the README's performance section (from its heading to the end) with fresh tables."""
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    readme = Path(__file__).parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    head = text[: text.index("## Performance")]
    section = SECTION.format(
        checks=checks(data["checks"]),
        labs=labs(data["lab_times"]),
        dashboard=dashboard(data["dashboard"]),
        audit=audit(data["audit"]),
        history=history(data["history"]) if "events" in data.get("history", {}) else "(not run)",
    )
    readme.write_text(head + section, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
