"""Expected problems written into fixture files, next to the line they flag.

``# expect: DAG005`` on a line expects that rule at that line (add ``warning`` for a
warning); ``# expect-file: DAG004`` expects it with no line (line 0).
"""

from __future__ import annotations

import re
from pathlib import Path

MARKER = re.compile(r"#\s*expect(?P<file>-file)?:\s*(?P<rule>[A-Z]{3}\d{3})(?P<warning> warning)?")


def expected_problems(root: Path) -> set[tuple[str, int, str, str]]:
    """(path, line, rule, level) for every marker in the files under root."""
    expected = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in (".py", ".yaml", ".md"):
            continue
        rel = path.relative_to(root).as_posix()
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in MARKER.finditer(text):
                line = 0 if match["file"] else number
                level = "warning" if match["warning"] else "error"
                expected.add((rel, line, match["rule"], level))
    return expected
