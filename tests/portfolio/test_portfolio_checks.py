"""Individual checks on small hand-made repositories: each finds what it claims to find."""

from __future__ import annotations

import textwrap
from pathlib import Path

from portfolio_helpers import commit_all, fake_aws_key

from aipath.portfolio import audit_repository
from aipath.portfolio.audit.readme import parse
from aipath.portfolio.audit.secrets import could_hold_secret
from aipath.portfolio.audit.walker import walk


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_dockerfile_issues_are_reported_with_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Dockerfile": """\
                FROM python:latest
                COPY . /app
                RUN pip install -r /app/requirements.txt
                EXPOSE 8000
                CMD ["uvicorn", "app:app"]
            """
        },
    )
    check = audit_repository(tmp_path).check("dockerfile")
    assert check.status == "warn"
    found = {(ev.line, ev.detail.split(" ")[0]) for ev in check.evidence}
    assert (1, "base") in found
    assert (3, "pip") in found
    details = " ".join(ev.detail for ev in check.evidence)
    assert "runs as root" in details
    assert "HEALTHCHECK" in details
    assert ".dockerignore" in details


def test_a_best_practice_dockerfile_passes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".dockerignore": ".git\n",
            "Dockerfile": """\
                FROM python:3.11.7-slim-bookworm
                RUN useradd --create-home app
                COPY . /app
                RUN pip install --no-cache-dir /app
                USER app
                CMD ["python", "-m", "app"]
            """,
        },
    )
    assert audit_repository(tmp_path).check("dockerfile").status == "pass"


def test_unpinned_requirements_are_listed(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "pandas\nnumpy>=1.0\nscikit-learn==1.5.0\n"})
    check = audit_repository(tmp_path).check("reproducible_env")
    assert check.status == "warn"
    assert {(ev.file, ev.line) for ev in check.evidence} == {
        ("requirements.txt", 1),
        ("requirements.txt", 2),
    }


def test_type_hint_coverage_counts_public_functions_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/core.py": """\
                def typed(x: int) -> int:
                    return x


                def untyped(x):
                    return x


                def _private(x):
                    return x


                class Model:
                    def fit(self, data: list[int]) -> "Model":
                        return self

                    def predict(self, data):
                        return data
            """
        },
    )
    check = audit_repository(tmp_path).check("type_hints")
    assert check.summary.startswith("2 of 4 public functions")
    assert {(ev.file, ev.line) for ev in check.evidence} == {
        ("pkg/core.py", 5),
        ("pkg/core.py", 17),
    }


def test_shuffled_split_fails_the_timeseries_check(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "forecast.py": """\
                from sklearn.model_selection import train_test_split


                def split(frame):
                    return train_test_split(frame, test_size=0.2)
            """
        },
    )
    check = audit_repository(tmp_path, kind="timeseries").check("time_split")
    assert check.status == "fail"
    assert check.evidence[0].file == "forecast.py"
    assert check.evidence[0].line == 5


def test_rag_without_retrieval_metrics_fails(tmp_path: Path) -> None:
    write(tmp_path, {"rag.py": "def answer(q: str) -> str:\n    return q\n"})
    report = audit_repository(tmp_path, kind="rag")
    assert report.check("retrieval_eval").status == "fail"
    assert [g.id for g in report.groups][-1] == "kind"


def test_vague_messages_and_a_data_commit_in_history(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "a = 1\n"})
    commit_all(tmp_path, "wip")
    write(tmp_path, {"b.py": "b = 2\n"})
    commit_all(tmp_path, "update")
    (tmp_path / "dump.parquet").write_bytes(b"\0" * 1_500_000)
    commit_all(tmp_path, "Add the raw extract")
    (tmp_path / "dump.parquet").unlink()
    commit_all(tmp_path, "Remove the raw extract again")
    report = audit_repository(tmp_path)
    history = report.check("commit_history")
    assert history.status == "fail"
    details = " ".join(ev.detail for ev in history.evidence)
    assert "vague message “wip”" in details
    assert "dump.parquet (1.5 MB)" in details


def test_readme_sections_are_found_by_heading_synonyms() -> None:
    readme = parse(
        "README.md",
        "Title\n=====\n\nWhy this matters\n----------------\nbecause\n\n"
        "## Dataset\n\n## Method\n\n```\n# not a heading\n```\n\n## Evaluation\n1.5\n\n"
        "## Getting started\n\n## Known issues\n",
    )
    assert [readme.topic(t) is not None for t in ("problem", "data", "approach")] == [True] * 3
    assert [readme.topic(t) is not None for t in ("results", "run", "limitations")] == [True] * 3
    assert all(s.title != "not a heading" for s in readme.sections)


def test_business_checks_want_numbers_in_money_or_time(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "README.md": """\
                # Churn model

                ## Problem and business impact

                Customers leave without warning and the retention team calls them too late;
                every month about 300 subscribers cancel, and each one is worth a year of fees
                to the company, so finding them a few weeks earlier matters a lot to revenue.

                ## Results

                | model | ROC AUC |
                |---|---|
                | gradient boosting | 0.87 |

                Calling the top 10% of scores reaches 60% of churners, which saves about $42,000
                a month and 30 hours of calls a week.
            """
        },
    )
    report = audit_repository(tmp_path)
    assert report.check("business_problem").status == "pass"
    assert report.check("business_metric").status == "pass"
    assert report.check("business_value").status == "pass"


def test_secrets_prefilter_keeps_every_line_detect_secrets_reports(tmp_path: Path) -> None:
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    key_id, secret = fake_aws_key()
    header = "-----BEGIN RSA " + "PRIVATE KEY-----"
    samples = [
        f'aws_id = "{key_id}"',
        f"secret_access = '{secret}'",
        header,
        'db_password = "correct-horse-battery"',  # pragma: allowlist secret
        "url = 'https://admin:" + "hunter22hunter@db.example.com/prod'",
        "token: " + "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",  # pragma: allowlist secret
        'hex = "' + "9f86d081884c7d65" + '"',  # pragma: allowlist secret
        "server = 93.184.216." + "34",
        "plain = compute_total(values, weights)",
        "from sklearn.model_selection import train_test_split",
    ]
    path = tmp_path / "sample.py"
    path.write_text("\n".join(samples) + "\n", encoding="utf-8")
    with default_settings():
        reported = {s.line_number for s in scan_file(str(path))}
    assert reported, "detect-secrets found nothing in the samples"
    for number in reported:
        assert could_hold_secret(samples[number - 1]), samples[number - 1]
    assert not could_hold_secret(samples[-1])
    assert not could_hold_secret(samples[-2])
    assert not could_hold_secret("see https://docs.python.org/3/library/asyncio-task.html")


def test_walker_skips_tool_folders_and_caps_files(tmp_path: Path) -> None:
    write(tmp_path, {f"src/m{i}.py": "x = 1\n" for i in range(30)})
    write(tmp_path, {".venv/lib/big.py": "x = 1\n", "node_modules/a.js": "x\n"})
    from aipath.portfolio.audit.walker import Limits

    files = walk(tmp_path, Limits(max_files=10))
    assert files.truncated
    assert len(files.entries) == 10
    assert all(".venv" not in e.rel and "node_modules" not in e.rel for e in walk(tmp_path).entries)


def test_files_managed_by_git_lfs_are_not_flagged(tmp_path: Path) -> None:
    write(tmp_path, {".gitattributes": "*.csv filter=lfs diff=lfs merge=lfs -text\n"})
    (tmp_path / "big.csv").write_text("a,b\n" + "1,2\n" * 400_000, encoding="utf-8")
    (tmp_path / "other.parquet").write_bytes(b"\0" * 1_200_000)
    commit_all(tmp_path, "Add data tracked with Git LFS and one file that is not")
    report = audit_repository(tmp_path)
    for check_id in ("large_files", "data_files"):
        files = {ev.file for ev in report.check(check_id).evidence}
        assert "big.csv" not in files
        assert "other.parquet" in files


def test_day_one_audit_messages_say_what_was_found(tmp_path: Path) -> None:
    """The audit slips a new learner met: each message now matches its evidence."""
    write(
        tmp_path,
        {
            "README.md": """\
                # House prices

                ## Results

                The goal is accuracy in dollars for buyers.
                Test MAE is 23,400 and RMSE is 35,100 on 586 held-out houses.
            """,
            "train.py": "import json\n\n\ndef main() -> None:\n    print(json.dumps({}))\n\n\nmain()\n",
            "tests/test_train.py": "def test_it():\n    assert True\n",
            "deploy/Dockerfile.tmpl": "FROM python:latest\nRUN pip install x\n",
        },
    )
    (tmp_path / "data.csv").write_text("a,b\n" + "1,2\n" * 700_000, encoding="utf-8")
    report = audit_repository(tmp_path)
    metric = report.check("business_metric")
    assert metric.status == "pass" and metric.summary.startswith("MAE, RMSE"), metric.summary
    entry = report.check("entry_point")
    assert "nothing to run" not in entry.summary and "train.py" in str(entry.model_dump())
    assert "Dockerfile.tmpl" not in str(report.check("dockerfile").model_dump())
    large = report.check("large_files")
    assert "no file over 1 MB" not in large.summary and "data.csv" in large.summary


def test_rag_checks_want_tested_citations_a_token_budget_and_an_offline_test(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "rag.py": """\
                import openai

                CONTEXT_BUDGET = 512


                def answer(question: str) -> dict[str, object]:
                    sources = {1: "doc-a"}
                    return {"text": question, "sources": sources}
            """,
            "tests/test_rag.py": """\
                from rag import answer


                def test_answer_cites() -> None:
                    assert answer("q")["sources"]
            """,
        },
    )
    report = audit_repository(tmp_path, kind="rag")
    assert report.check("citations").status == "pass"
    budget = report.check("context_budget")
    assert budget.status == "warn" and "no count of the model's tokens" in budget.summary
    offline = report.check("offline_pipeline_test")
    assert offline.status == "warn" and "hosted service" in offline.summary
    assert any(e.detail == "imports openai" for e in offline.evidence)


def test_rag_checks_ignore_template_code_the_learner_has_not_changed(tmp_path: Path) -> None:
    from aipath.portfolio.fingerprint import write_fingerprint

    write(tmp_path, {"cite.py": "def cite(sources):\n    return sources\n"})
    write_fingerprint(tmp_path, "rag")
    report = audit_repository(tmp_path, kind="rag")
    assert report.check("citations").status == "fail"
    (tmp_path / "cite.py").write_text("def cite(sources):\n    return sorted(sources)\n")
    assert audit_repository(tmp_path, kind="rag").check("citations").status == "warn"
