"""Lab READMEs and solutions as HTML: markdown-it-py for the text, Pygments for the code.

Raw HTML inside Markdown is not passed through, so a README can never inject a script or a
request to another host into the page.
"""

from __future__ import annotations

import functools
from pathlib import Path

from markdown_it import MarkdownIt
from pygments import highlight  # type: ignore[import-untyped]  # (ships with rich, no stubs)
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import PythonLexer, get_lexer_by_name  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang or "text")
    except ClassNotFound:
        return ""  # markdown-it escapes the code itself
    return str(highlight(code, lexer, _FORMATTER))


_MD = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable(
    ["table", "strikethrough"]
)


def render_markdown(text: str) -> str:
    return str(_MD.render(text))


@functools.lru_cache(maxsize=256)
def _render_file(path: Path, _mtime_ns: int) -> str:
    return render_markdown(path.read_text(encoding="utf-8"))


def render_markdown_file(path: Path) -> str:
    """A file's Markdown as HTML, re-rendered only when the file changes."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return "<p><em>This lab has no README.</em></p>"
    return _render_file(path, stamp)


def highlight_python(code: str) -> str:
    return str(highlight(code, PythonLexer(), _FORMATTER))


@functools.cache
def pygments_css() -> str:
    """The colours of highlighted code, for ``/static/pygments.css``."""

    # Keep the token colours; the page's own stylesheet gives code blocks their background.
    def token_rules(style: str) -> str:
        rules = str(HtmlFormatter(style=style).get_style_defs("pre code")).splitlines()
        return "\n".join(r for r in rules if not r.startswith(("pre code {", "pre {")))

    dark = token_rules("monokai")
    return f"{token_rules('friendly')}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
