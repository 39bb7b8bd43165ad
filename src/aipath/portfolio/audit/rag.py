"""What the phase-3 capstone adds to a retrieval project: citations, a context budget, a test.

`aipath audit --kind rag` asks for the pieces the phase's labs teach (p3-embeddings-search,
p3-chunking, p3-rag): answers whose numbered citations resolve to retrieved passages, a prompt
kept inside a budget counted in the model's tokens, and a test of the whole pipeline that runs
offline.  The checks read the code statically, and only files the learner wrote or changed: the
scaffold's template code earns nothing on its own.  ``--run-tests`` (tests_pass) is what shows
that the tests found here actually pass.
"""

from __future__ import annotations

import ast
import re

from aipath.portfolio.audit.context import AuditContext, PyModule
from aipath.portfolio.audit.models import Evidence
from aipath.portfolio.audit.registry import Outcome, check, ev

GROUP = "kind"
KINDS = ("rag",)

CITATION = re.compile(r"\bcit(e|es|ed|ing|ation|ations)\b|\bsources?\b", re.I)
BUDGET = re.compile(
    r"(context|prompt|token|input)[_ ]?(budget|limit|window)|max_context|n_ctx|"
    r"max_input_tokens|model_max_length|max_prompt_tokens",
    re.I,
)
TOKEN_COUNT = re.compile(
    r"count_tokens|num_tokens|n_tokens|token_count|\btokeni[sz]e\(|\.encode\(|"
    r"apply_chat_template\(|len\(\s*[\w.]*tok[\w.]*\(",
    re.I,
)
ENTRY_POINT = re.compile(r"^(answer|ask|rag|respond|run_pipeline|pipeline|generate_answer)", re.I)
HOSTED = re.compile(
    r"^(openai|anthropic|cohere|pinecone|weaviate|google\.generativeai|mistralai|groq)\b"
)
NETWORK_URL = re.compile(r"https?://(?!localhost|127\.0\.0\.1|testserver|0\.0\.0\.0)[\w.-]+", re.I)


def _source_lines(mod: PyModule, ctx: AuditContext) -> list[str]:
    text = ctx.files.read_text(mod.rel)
    return [] if text is None else text.splitlines()


def _lines_matching(
    ctx: AuditContext, modules: list[PyModule], pattern: re.Pattern[str], detail: str
) -> list[Evidence]:
    found = []
    for mod in modules:
        for number, line in enumerate(_source_lines(mod, ctx), start=1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                found.append(ev(detail, mod.rel, number))
                break
    return found


def _tests_about(ctx: AuditContext, pattern: re.Pattern[str]) -> list[Evidence]:
    """Test functions that assert something and whose name or body matches ``pattern``."""
    found = []
    for mod in ctx.learner_modules(tests=True):
        lines = _source_lines(mod, ctx)
        for fn in mod.index.functions:
            if not fn.name.startswith("test"):
                continue
            asserts = any(isinstance(node, ast.Assert) for node in ast.walk(fn))
            end = fn.end_lineno or fn.lineno
            body = "\n".join(lines[fn.lineno - 1 : end])
            if asserts and (pattern.search(fn.name.replace("_", " ")) or pattern.search(body)):
                found.append(ev(f"{fn.name}()", mod.rel, fn.lineno))
    return found


@check(
    "citations", "Citations that resolve to retrieved sources", group=GROUP, weight=8, kinds=KINDS
)
def citations(ctx: AuditContext) -> Outcome:
    code = _lines_matching(
        ctx, ctx.learner_modules(tests=False), CITATION, "answers carry citations/sources"
    )
    tests = _tests_about(ctx, CITATION)
    fix = (
        "Number the passages you put in the prompt ([1], [2] … after removing duplicates), return "
        "the answer with a map from citation to document id, and test that every cited id was "
        "retrieved and given to the model (the p3-rag lab builds this)."
    )
    if code and tests:
        return Outcome("pass", "citations built and tested", [*code[:2], *tests[:2]])
    if code:
        return Outcome(
            "warn", "citations in the code, no test asserts they resolve", code[:2], fix=fix
        )
    if tests:
        return Outcome(
            "warn", "a test mentions citations, the code builds none", tests[:2], fix=fix
        )
    return Outcome("fail", "no citations in code you wrote", fix=fix)


@check("context_budget", "Prompt kept within a token budget", group=GROUP, weight=8, kinds=KINDS)
def context_budget(ctx: AuditContext) -> Outcome:
    sources = ctx.learner_modules(tests=False)
    budget = _lines_matching(ctx, sources, BUDGET, "a context budget")
    counted = _lines_matching(ctx, sources, TOKEN_COUNT, "tokens counted")
    tests = _tests_about(
        ctx, re.compile(r"budget|context window|too long|truncat|over limit", re.I)
    )
    fix = (
        "Count the rendered prompt in the generator's own tokens (tokenizer / chat template), "
        "leave room for the answer (max_new_tokens), drop whole lowest-ranked passages until it "
        "fits, and test it with passages that would overflow."
    )
    if budget and counted and tests:
        return Outcome(
            "pass", "a token budget, counted and tested", [*budget[:1], *counted[:1], *tests[:2]]
        )
    evidence = [*budget[:1], *counted[:1], *tests[:1]]
    if budget and not counted:
        return Outcome(
            "warn", "a budget, but no count of the model's tokens found", evidence, fix=fix
        )
    if budget or counted:
        return Outcome("warn", "a budget without a test that overflows it", evidence, fix=fix)
    return Outcome("fail", "no context budget in code you wrote", evidence, fix=fix)


@check(
    "offline_pipeline_test",
    "An offline test of the whole pipeline",
    group=GROUP,
    weight=8,
    kinds=KINDS,
)
def offline_pipeline_test(ctx: AuditContext) -> Outcome:
    sources = ctx.learner_modules(tests=False)
    entry_names = {
        fn.name for mod in sources for fn in mod.index.functions if ENTRY_POINT.match(fn.name)
    }
    tests = ctx.learner_modules(tests=True)
    calls: list[Evidence] = []
    for mod in tests:
        for name, call in mod.index.calls:
            if name in entry_names:
                calls.append(ev(f"a test calls {name}()", mod.rel, call.lineno))
                break
        else:
            for number, line in enumerate(_source_lines(mod, ctx), start=1):
                if re.search(r"""\.(post|get)\(\s*["']/(answer|ask|query|chat)""", line):
                    calls.append(ev("a test asks the API", mod.rel, number))
                    break
    hosted: list[Evidence] = []
    for mod in [*sources, *tests]:
        hosted += [
            ev(f"imports {name}", mod.rel, line)
            for name, line in mod.index.imports
            if HOSTED.match(name)
        ]
    hosted += _lines_matching(ctx, tests, NETWORK_URL, "a test reaches a URL off this machine")
    fix = (
        "Write one test that asks a question end to end — retrieve, build the prompt, generate "
        "with a local model (or a small deterministic stand-in you inject), return answer and "
        "sources — with no network: the index and model load from files in the repository or "
        "an installed package."
    )
    if calls and not hosted:
        return Outcome("pass", "the pipeline is tested end to end, offline", calls[:2])
    if calls:
        return Outcome(
            "warn",
            "an end-to-end test, but the pipeline reaches a hosted service",
            [*calls[:1], *hosted[:2]],
            fix=fix,
        )
    if not entry_names:
        return Outcome(
            "fail",
            "no pipeline entry point (answer/ask/rag…) in code you wrote",
            hosted[:2],
            fix=fix,
        )
    return Outcome(
        "fail",
        f"no test calls {', '.join(sorted(entry_names)[:3])}() end to end",
        hosted[:2],
        fix=fix,
    )
