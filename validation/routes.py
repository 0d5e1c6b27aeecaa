"""Routing is data: one table maps a repo-relative path to the kind of file it is.

Paths are normalised to repo-relative ``/`` form before they are routed. The first
pattern that matches wins, so specific places come before the catch-alls.
"""

from __future__ import annotations

import re

from validation.facts import Kind, Route

__all__ = ["Kind", "Route", "ROUTES", "route"]


_ENV = r"environments/(?P<env>[^/]+)"
ROUTES: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (_ENV + r"/dags/(?P<project>[^/]+)/(?P<name>[^/]+)\.py", Kind.DAG),
        (_ENV + r"/dags/(?P<project>[^/]+)/README\.md", Kind.README),
        (_ENV + r"/dags/(?:[^/]+/){2,}(?P<name>[^/]+)\.py", Kind.MISPLACED_DAG),
        (_ENV + r"/dags/(?P<name>[^/]+)\.py", Kind.MISPLACED_DAG),
        (_ENV + r"/roles/(?P<name>[^/]+)\.yaml", Kind.ROLE),
        (_ENV + r"/roles/(?P<name>[^/]+)\.(?:yml|json)", Kind.ROLE_EXTENSION),
        (r"imports/__init__\.py", Kind.IMPORTS_INIT),
        (r"imports/(?P<name>[^/]+)\.py", Kind.IMPORTS_MODULE),
        (_ENV + r"(?:/.*)?", Kind.UNKNOWN),
        (r"(?:environments|imports)(?:/.*)?", Kind.UNKNOWN),
        (r".*", Kind.UNCHECKED),
    )
)


def route(rel_path: str) -> Route:
    """Route a repo-relative ``/`` path (``environments/dev/dags/x/a.py``)."""
    for pattern, kind in ROUTES:
        match = pattern.fullmatch(rel_path)
        if match:
            groups = match.groupdict()
            return Route(kind, groups.get("env"), groups.get("project"), groups.get("name"))
    raise AssertionError("the last route matches every path")  # pragma: no cover
