"""Plain facts from the objects an import produced: DAGs, tasks, exceptions, warnings.

Runs inside DAG workers, on real Airflow objects; everything it returns is plain data.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
import traceback
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

from validation.facts import DagFacts, ErrorFacts, TaskFacts
from validation.loaders.source import argument_value, called_functions, parse_quietly

ROLE_ANNOTATION = "iam.amazonaws.com/role"
MAX_MESSAGE = 400  # characters of an exception message kept in a problem
MAX_WARNINGS = 50


def describe_dags(created: list[tuple[Any, int]], found: list[Any],
                  task_lines: dict[int, tuple[int, int]], clock: datetime) -> list[DagFacts]:
    """Facts of each DAG the import created (with the line that created it), marking those
    Airflow's DagBag accepted (``found``); ``task_lines`` maps id(task) to the outermost
    and innermost lines of the file that made it."""
    registered = {id(dag) for dag in found}
    seen: set[int] = set()
    described = []
    sources: dict[str, _Source] = {}
    for dag, line in created:
        if id(dag) in seen or getattr(dag, "parent_dag", None) is not None:
            continue
        seen.add(id(dag))
        facts = _dag_facts(dag, line, id(dag) in registered, task_lines, clock)
        path = str(getattr(dag, "fileloc", "") or "")
        if path not in sources:
            sources[path] = _Source(path)
        sources[path].annotate(facts.tasks)
        described.append(facts)
    return described


class _Source:
    """The source of the file that created a DAG, read once per file, for the arguments
    the task objects do not keep."""

    def __init__(self, path: str) -> None:
        self.tree: ast.Module | None = None
        self.namespace: dict[str, Any] = {}
        self.roles: dict[int, str | None] = {}
        self.mojap: dict[int, bool] = {}
        try:
            with open(path, encoding="utf-8-sig") as handle:
                self.tree = parse_quietly(handle.read())
        except (OSError, UnicodeDecodeError):
            return
        # The module as the import left it (DagBag names it unusual_prefix_..._<name>);
        # looked up by that name first: scanning thousands of modules for each file cost
        # a tenth of the import time of a small DAG.
        module = sys.modules.get(_dagbag_module_name(path))
        if getattr(module, "__file__", None) == path:
            self.namespace = dict(vars(module))
            return
        for module in list(sys.modules.values()):
            if getattr(module, "__file__", None) == path:
                self.namespace = dict(vars(module))
                break

    def annotate(self, tasks: list[TaskFacts]) -> None:
        if self.tree is None:
            return
        for task in tasks:
            if task.is_pod and task.call_line:
                task.role_argument = self.role_argument(task.call_line)
                task.mojap = self.calls_mojap(task.call_line)

    def calls_mojap(self, line: int) -> bool:
        """Whether the call at ``line`` is mojap-airflow-tools' BasicKubernetesPodOperator,
        under whatever name the module bound it to (once per line: tasks made in a loop
        share one, and each look walks the whole tree)."""
        if line not in self.mojap:
            from mojap_airflow_tools.operators import basic_kubernetes_pod_operator

            assert self.tree is not None
            self.mojap[line] = any(
                _resolve(function, self.namespace) is basic_kubernetes_pod_operator
                for function in called_functions(self.tree, line))
        return self.mojap[line]

    def role_argument(self, line: int) -> str | None:
        """The role= of the call at ``line`` (tasks made in a loop share one)."""
        if line not in self.roles:
            assert self.tree is not None
            role = argument_value(self.tree, line, "role", self.namespace)
            self.roles[line] = role if isinstance(role, str) else None
        return self.roles[line]


def _resolve(expression: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object a name or dotted name refers to in ``namespace``; None if unknown."""
    if isinstance(expression, ast.Name):
        return namespace.get(expression.id)
    if isinstance(expression, ast.Attribute):
        base = _resolve(expression.value, namespace)
        return getattr(base, expression.attr, None) if base is not None else None
    return None


def _dagbag_module_name(path: str) -> str:
    """The name DagBag.process_file gives the module of the file at ``path``."""
    digest = hashlib.sha1(path.encode("utf-8")).hexdigest()  # noqa: S324 - Airflow's name
    return f"unusual_prefix_{digest}_{os.path.splitext(os.path.split(path)[-1])[0]}"


def _dag_facts(dag: Any, line: int, registered: bool,
               task_lines: dict[int, tuple[int, int]], clock: datetime) -> DagFacts:
    start = dag.start_date or (dag.default_args or {}).get("start_date")
    kind, value = _schedule(dag)
    facts = DagFacts(
        dag_id=str(dag.dag_id),
        line=line,
        registered=registered,
        start_date=start.isoformat() if isinstance(start, datetime) else None,
        start_date_near_import=_near(start, clock),
        schedule_kind=kind,
        schedule_value=value,
        owner=_plain((dag.default_args or {}).get("owner")),
    )
    facts.tasks = [_task_facts(task, *task_lines.get(id(task), (0, 0))) for task in dag.tasks]
    return facts


def _near(start: Any, clock: datetime) -> bool:
    """A start_date equal (within a minute) to the clock at import was computed at parse time."""
    if not isinstance(start, datetime):
        return False
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return abs(start - clock) < timedelta(minutes=1)


def _schedule(dag: Any) -> tuple[str, str | None]:
    if getattr(dag, "dataset_triggers", None):
        return "datasets", repr(dag.dataset_triggers)
    value = dag.schedule_interval
    if value is None:
        return "none", None
    if isinstance(value, str):
        return "str", value
    if isinstance(value, timedelta):
        return "timedelta", str(value)
    return type(value).__name__, repr(value)


def _task_facts(task: Any, line: int, call_line: int) -> TaskFacts:
    from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import KubernetesPodOperator

    is_pod = isinstance(task, KubernetesPodOperator)
    facts = TaskFacts(task_id=str(task.task_id), operator=type(task).__name__, is_pod=is_pod,
                      line=line, call_line=call_line)
    if is_pod:
        facts.role, facts.role_source = _role(task)
        facts.pod = _pod_settings(task)
    return facts


def _role(task: Any) -> tuple[str | None, str | None]:
    annotations = task.annotations or {}
    if annotations.get(ROLE_ANNOTATION):
        return str(annotations[ROLE_ANNOTATION]), "annotation"
    account = task.service_account_name
    if account and account != "default":
        return str(account).replace("-", "_"), "service_account"
    return None, None


POD_SETTINGS = (
    "namespace", "image", "service_account_name", "cluster_context", "in_cluster",
    "security_context", "hostnetwork", "tolerations", "affinity", "startup_timeout_seconds",
    "labels", "annotations", "env_vars", "node_selector", "container_security_context",
    "name", "random_name_suffix", "pod_template_file",
)


def _pod_settings(task: Any) -> dict[str, Any]:
    return {name: _plain(getattr(task, name, None)) for name in POD_SETTINGS}


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any, depth: int = 0) -> Any:
    """Kubernetes models, dicts and lists of them as plain JSON-able data (the API's
    camelCase field names, as ``ApiClient.sanitize_for_serialization`` gives them)."""
    if type(value) in _SCALARS or isinstance(value, (str, int, float, bool)):
        return value
    if depth > 20:
        return repr(value)
    deeper = depth + 1  # below: scalars are kept without a call (most values are)
    if isinstance(value, (list, tuple, set)):
        return [item if type(item) in _SCALARS else _plain(item, deeper) for item in value]
    if isinstance(value, dict):
        return {str(key): item if type(item) in _SCALARS else _plain(item, deeper)
                for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    attribute_map = getattr(value, "attribute_map", None)  # a kubernetes client model
    if isinstance(attribute_map, dict):
        fields = ((api_name, getattr(value, name, None))
                  for name, api_name in attribute_map.items())
        return {api_name: field if type(field) in _SCALARS else _plain(field, deeper)
                for api_name, field in fields if field is not None}
    return repr(value)


def error_facts(error: BaseException, path: str, root: str, kind: str = "") -> ErrorFacts:
    line, column = position(error, path)
    message = _describe(error)
    origin = _origin(error, path, root)
    if origin:
        message += f" (raised at {origin})"
    return ErrorFacts(kind or type(error).__name__, message, line, column)


def position(error: BaseException, path: str) -> tuple[int, int]:
    if isinstance(error, SyntaxError) and error.filename == path:
        return error.lineno or 0, error.offset or 0
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    if not frames:
        return 0, 0
    deepest = frames[-1]
    column = getattr(deepest, "colno", None)
    return deepest.lineno or 0, (column + 1) if column is not None else 0


def _origin(error: BaseException, path: str, root: str) -> str:
    """Where an exception raised outside the file came from, when that is in the repository."""
    if isinstance(error, SyntaxError) and error.filename and error.filename != path:
        return _relative(error.filename, root, error.lineno)
    frames = traceback.extract_tb(error.__traceback__)
    if frames and frames[-1].filename != path and root and frames[-1].filename.startswith(root):
        return _relative(frames[-1].filename, root, frames[-1].lineno)
    return ""


def _relative(filename: str, root: str, line: int | None) -> str:
    rel = os.path.relpath(filename, root) if root else filename
    return f"{rel}:{line or 0}"


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"sys.exit({error.code!r}) was called"
    text = error.msg if isinstance(error, SyntaxError) else str(error)
    text = " ".join(text.split())
    if not text:
        return f"{type(error).__name__} was raised"
    return shorten(f"{type(error).__name__}: {text}")


def shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def warning_facts(caught: list[warnings.WarningMessage], path: str) -> list[tuple[str, str, int]]:
    found = []
    for warning in caught[:MAX_WARNINGS]:
        line = warning.lineno if warning.filename == path else 0
        found.append((warning.category.__name__, shorten(str(warning.message)), line))
    return found
