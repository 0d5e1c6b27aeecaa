"""The DAG loader's own failures, apart from the supervisor: a run that imports no file
(the cache had them all, or only roles were named) catches them without loading it."""

from __future__ import annotations


class LoaderError(Exception):
    """The loading machinery itself failed (not a file): an internal error."""


class WeakContainment(LoaderError):
    """Kernel containment is unavailable where the run requires it (CI=true)."""
