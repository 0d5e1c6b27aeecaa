"""Reporters turn a report into text. They return strings; only the CLI prints.

``FORMATS[name](report, options)`` for text, json, github and sarif; ``--format auto``
is resolved by :func:`resolve_format` before a reporter is picked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict

from validation.problems import ChangedLines, Report
from validation.reporters.base import Options, Summary, summarise
from validation.reporters.github import github, step_summary
from validation.reporters.sarif import sarif
from validation.reporters.text import text, use_colour

__all__ = ["FORMATS", "Options", "Summary", "json_report", "options_for", "resolve_format",
           "step_summary", "summarise", "text"]


def json_report(report: Report, options: Options = Options()) -> str:
    """One JSON object: the problems and a summary."""
    document = {"problems": [p.as_dict() for p in report.problems],
                "summary": asdict(summarise(report))}
    return json.dumps(document, indent=2) + "\n"


FORMATS: dict[str, Callable[[Report, Options], str]] = {
    "text": text, "json": json_report, "github": github, "sarif": sarif}


def resolve_format(name: str, env: Mapping[str, str]) -> str:
    """``auto`` is github inside GitHub Actions (GITHUB_ACTIONS=true), else text."""
    if name != "auto":
        return name
    return "github" if env.get("GITHUB_ACTIONS") == "true" else "text"


def options_for(name: str, *, quiet: bool, env: Mapping[str, str], is_terminal: bool,
                changed: ChangedLines | None = None,
                line_texts: Mapping[tuple[str, int], str] | None = None) -> Options:
    """What the format ``name`` needs: colour for a terminal, the lines a pull request
    changed for github, the docs URL and the flagged lines' text for sarif (the CLI reads
    git and the files; reporters only turn data into text)."""
    return Options(colour=name == "text" and use_colour(is_terminal, env), quiet=quiet,
                   changed=changed if name == "github" else None,
                   line_texts=line_texts if name == "sarif" else None, docs_url=docs_url(env))


def docs_url(env: Mapping[str, str]) -> str | None:
    """docs/rules.md at the commit being checked, inside GitHub Actions; None elsewhere."""
    server, repository, sha = (env.get(key) for key in
                               ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if not (server and repository and sha):
        return None
    return f"{server.rstrip('/')}/{repository}/blob/{sha}/docs/rules.md"
