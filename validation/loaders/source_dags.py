"""The DAGs and tasks a DAG file's source shows, read without running it: what the rules
check when the import failed, so that one run reports every problem literals decide.

Read are the calls at module level (not inside a function, class or lambda) of Airflow's
DAG class and of any operator given a ``task_id=``, with the values their arguments have
when those are string literals, f-strings and ``+`` of them, or names the module binds
once at the top level (or imports from imports/), as validation.loaders.role_users
evaluates them. A value that cannot be evaluated so is left out: its DAG or task is not
read (a dag_id), or read without it (a schedule, a role). Nothing is guessed: what is
read is what the import would have made, had it got that far, for the arguments read.

Only the parent process runs this; it imports nothing of the file. Each DAG and task is
marked ``from_source`` (the rules say so in their messages); their positions are filled
in as for imported ones (validation.loaders.dag.dags).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from validation.facts import DagFacts, TaskFacts
from validation.loaders.role_users import (
    ROLE_ANNOTATION,
    ModuleReader,
    ModuleText,
    Undecided,
    service_account_role,
)
from validation.loaders.source import SCOPES

DAG_CLASSES = frozenset({"airflow.DAG", "airflow.models.DAG", "airflow.models.dag.DAG"})
MOJAP_POD = frozenset({"mojap_airflow_tools.operators.BasicKubernetesPodOperator",
                       "mojap_airflow_tools.operators.basic_kubernetes_pod_operator"})
POD_CLASSES = MOJAP_POD | {
    f"airflow.providers.cncf.kubernetes.operators.{module}.KubernetesPodOperator"
    for module in ("kubernetes_pod", "pod")}
SCHEDULE_KEYWORDS = ("schedule_interval", "schedule")


def source_dags(text: str, module_text: ModuleText) -> tuple[list[DagFacts], list[TaskFacts]]:
    """The DAGs and the tasks the module-level calls of ``text`` make, as far as their
    arguments can be evaluated; ([], []) for a file that does not parse."""
    try:
        reader = ModuleReader(text, module_text, frozenset(), {})
    except Undecided:
        return [], []
    names = _imported_names(reader.tree)
    dags: list[DagFacts] = []
    tasks: list[TaskFacts] = []
    for call in _module_level_calls(reader.tree):
        called = _qualified(call.func, names)
        if called in DAG_CLASSES:
            dag = _dag(reader, call)
            if dag is not None:
                dags.append(dag)
        elif any(keyword.arg == "task_id" for keyword in call.keywords):
            task = _task(reader, call, called)
            if task is not None:
                tasks.append(task)
    return dags, tasks


def _dag(reader: ModuleReader, call: ast.Call) -> DagFacts | None:
    dag_id = _one_value(reader, _argument(call, "dag_id", 0))
    if dag_id is None:
        return None
    dag = DagFacts(dag_id=dag_id, line=call.lineno, from_source=True)
    schedule = next((keyword.value for keyword in call.keywords
                     if keyword.arg in SCHEDULE_KEYWORDS), None)
    value = _one_value(reader, schedule)
    if value is not None:
        dag.schedule_kind, dag.schedule_value = "str", value
    else:  # None, a timedelta, or a value not read: nothing for DAG012 to say
        dag.schedule_kind = "unread" if schedule is not None and not _is_none(schedule) \
            else "none"
    return dag


def _task(reader: ModuleReader, call: ast.Call, called: str | None) -> TaskFacts | None:
    task_id = _one_value(reader, _argument(call, "task_id"))
    if task_id is None:
        return None
    mojap = called in MOJAP_POD
    operator = (called or "").rpartition(".")[2] or _name(call.func)
    task = TaskFacts(task_id=task_id, operator=operator, is_pod=called in POD_CLASSES,
                     mojap=mojap, line=call.lineno, call_line=call.lineno, from_source=True)
    if task.is_pod:
        task.role, task.role_source = _role(reader, call, mojap)
    return task


def _role(reader: ModuleReader, call: ast.Call, mojap: bool) -> tuple[str | None, str | None]:
    """The role the pod would get, as validation.loaders.dag.airflow_facts reads it from
    the task: the role annotation (mojap's role=), else the service account."""
    annotation = _argument(call, "role") if mojap else _annotation(call)
    role = _one_value(reader, annotation)
    if role is not None:
        return role, "annotation"
    if annotation is not None:
        return None, None  # given, not read: the service account does not decide
    account = _one_value(reader, _argument(call, "service_account_name"))
    if account is not None and account != "default":
        return service_account_role(account, "service_account_name"), "service_account"
    return None, None


def _annotation(call: ast.Call) -> ast.expr | None:
    """The role annotation in a literal ``annotations={...}``."""
    annotations = _argument(call, "annotations")
    if not isinstance(annotations, ast.Dict):
        return None
    return next((value for key, value in zip(annotations.keys, annotations.values)
                 if isinstance(key, ast.Constant) and key.value == ROLE_ANNOTATION), None)


def _one_value(reader: ModuleReader, node: ast.expr | None) -> str | None:
    """The one string ``node`` evaluates to, or None (absent, several, or not decided)."""
    if node is None:
        return None
    try:
        values = set(reader.values(node))
    except Undecided:
        return None
    return values.pop() if len(values) == 1 else None


def _argument(call: ast.Call, keyword: str, position: int | None = None) -> ast.expr | None:
    for given in call.keywords:
        if given.arg == keyword:
            return given.value
    if position is not None and len(call.args) > position \
            and not any(isinstance(arg, ast.Starred) for arg in call.args[:position + 1]):
        return call.args[position]
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _module_level_calls(tree: ast.Module) -> Iterator[ast.Call]:
    """The calls outside functions, classes and lambdas, in source order."""
    found: list[ast.Call] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, SCOPES):
            continue
        if isinstance(node, ast.Call):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    yield from sorted(found, key=lambda call: (call.lineno, call.col_offset))


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (``from a.b import C as D``:
    D -> a.b.C; ``import a.b as m``: m -> a.b; ``import a.b``: a -> a)."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                found[local] = alias.name if alias.asname else local
    return found


def _qualified(func: ast.expr, names: dict[str, str]) -> str | None:
    """The dotted name a call's function was imported as, if it was."""
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in names:
        return None
    return ".".join([names[func.id], *reversed(parts)])


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""
