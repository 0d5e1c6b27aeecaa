"""Read inline suppressions from the comments of a DAG, imports or role file.

Two spellings, both naming the rules they silence (a bare ``# noqa`` silences nothing):

- ``# noqa: DAG006, DAG017`` on a line (flake8's spelling, for Python files);
- ``# validation: disable=ROL014`` on a line, or ``# validation: disable-file=ROL016``
  anywhere in the file for the whole file (for YAML files, and Python files too).

Codes of other tools in the same comment (``# noqa: E501, DAG006``) are left to them.
Python comments are found with ``tokenize``, so a ``# noqa`` inside a string is not one;
YAML comments are a ``#`` at the start of a line or after a space, as YAML defines them.
"""

from __future__ import annotations

import io
import re
import tokenize

from validation.facts import Suppression
from validation.loaders.files import read_text

FAMILIES = ("STR", "DAG", "ROL", "SEC", "IMP")
_CODE = r"[A-Za-z]{3}\d{3}"
_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Za-z0-9]+(?:[\s,]+[A-Za-z0-9]+)*)", re.I)
_DISABLE = re.compile(r"#\s*validation\s*:\s*(?P<what>disable(?:-file)?)\b\s*(?:=\s*"
                      r"(?P<codes>[A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*))?")
_YAML_COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def read_suppressions(path: str) -> list[Suppression]:
    """The suppressions in the file at ``path`` (nothing when it cannot be read)."""
    text = read_text(path)
    if text is None or "#" not in text:
        return []
    text = text.removeprefix("\ufeff")
    comments = _python_comments(text) if path.endswith(".py") else _yaml_comments(text)
    found = []
    for line, column, comment in comments:
        found.extend(_directives(line, column, comment))
    return found


def _python_comments(text: str) -> list[tuple[int, int, str]]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return _yaml_comments(text)  # not Python: DAG001 says so; read comments by line
    return [(token.start[0], token.start[1] + 1, token.string)
            for token in tokens if token.type == tokenize.COMMENT]


def _yaml_comments(text: str) -> list[tuple[int, int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _YAML_COMMENT.search(line) if "#" in line else None
        if match:
            found.append((number, match.start(1) + 1, match.group(1)))
    return found


def _directives(line: int, column: int, comment: str) -> list[Suppression]:
    found = []
    for match in _NOQA.finditer(comment):
        codes = _ours(match["codes"])
        if codes:
            found.append(Suppression(line, column + match.start(), codes, False,
                                     f"# noqa: {', '.join(codes)}"))
    for match in _DISABLE.finditer(comment):
        codes = tuple(code.upper() for code in re.split(r"[\s,]+", match["codes"] or "") if code)
        text = f"# validation: {match['what']}" + (f"={','.join(codes)}" if codes else "")
        found.append(Suppression(line, column + match.start(), codes,
                                 match["what"] == "disable-file", text))
    return found


def _ours(codes: str) -> tuple[str, ...]:
    """The codes in a noqa list that belong to the validator's families."""
    return tuple(code.upper() for code in re.split(r"[\s,]+", codes)
                 if re.fullmatch(_CODE, code) and code[:3].upper() in FAMILIES)
