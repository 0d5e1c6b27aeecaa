"""Facts: plain records of what the loaders found, the only input rules get.

Every record here is built from plain values (str, int, bool, None, lists and dicts of
them), so it can cross a process boundary and be stored as JSON. Rules never see an
Airflow object, a YAML node or an open file: only these records.

Positions are 1-based; 0 means unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from validation.routes import Route

# -- every path ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PathFacts:
    """A path named on the command line (or found by ``--all``) and where it is routed."""

    path: str  # repo-relative, "/"-separated
    route: Route
    exists: bool
    is_dir: bool
    inside_root: bool = True


@dataclass(frozen=True)
class RepoFacts:
    """What cross-file rules need to know about the repository, read from disk once.

    Looked up on disk rather than taken from the paths named, so that a file's result
    never depends on which other files were named (pre-commit passes files in batches).
    """

    root: str
    environments: tuple[str, ...]
    roles: dict[str, frozenset[str]]  # env -> role file stems in environments/<env>/roles/
    projects: dict[str, frozenset[str]]  # env -> project folders in environments/<env>/dags/
    readmes: dict[str, frozenset[str]]  # env -> project folders that have a README.md
    imports_modules: frozenset[str]  # module stems in imports/ (without __init__)
    imports_has_init: bool


# -- DAG files ----------------------------------------------------------------------------


@dataclass
class ErrorFacts:
    """An exception raised while importing a file (DAG001, IMP003) or a crash (DAG002)."""

    kind: str  # exception class name, or for crashes: timeout | exit | signal | lost
    message: str
    line: int = 0
    column: int = 0


@dataclass
class TaskFacts:
    task_id: str
    operator: str  # class name of the operator, e.g. KubernetesPodOperator
    is_pod: bool  # a KubernetesPodOperator or subclass (BasicKubernetesPodOperator makes one)
    line: int = 0  # the call in the DAG file that created the task
    task_id_line: int = 0  # the task_id argument, where the source shows it
    task_id_column: int = 0
    role: str | None = None
    role_source: str | None = None  # "annotation" or "service_account"
    role_line: int = 0
    role_column: int = 0
    # Pod settings as plain data (namespace, image, service_account_name, security
    # context, tolerations, affinity, startup timeout ...), for the pod rules.
    pod: dict[str, Any] = field(default_factory=dict)


@dataclass
class DagFacts:
    dag_id: str
    line: int = 0  # the call in the DAG file that created the DAG
    dag_id_line: int = 0
    dag_id_column: int = 0
    registered: bool = True  # Airflow's DagBag accepted it
    start_date: str | None = None  # ISO 8601, from the DAG or its default_args
    start_date_near_import: bool = False  # equal to the clock at import: computed at parse time
    schedule_kind: str = "none"  # none | str | timedelta | relativedelta | other
    schedule_value: str | None = None  # the cron string or preset, or repr() of other kinds
    schedule_line: int = 0
    schedule_column: int = 0
    owner: str | None = None
    tasks: list[TaskFacts] = field(default_factory=list)


@dataclass
class CallSite:
    """A call in the source with keyword arguments, for locating literals."""

    line: int
    end_line: int
    column: int
    keywords: dict[str, tuple[int, int]]  # keyword name -> (line, column) of its value


@dataclass
class ParseTimeCall:
    """A call like datetime.now() or days_ago() that feeds a start_date (DAG011)."""

    name: str
    line: int
    column: int


@dataclass
class SourceFacts:
    """What the source text of a Python file shows, without running it."""

    syntax_error: ErrorFacts | None = None
    calls: list[CallSite] = field(default_factory=list)
    parse_time_start_dates: list[ParseTimeCall] = field(default_factory=list)
    imports: list[tuple[str, int]] = field(default_factory=list)  # (module, line)


@dataclass
class DagFileFacts:
    path: str
    env: str
    project: str
    name: str  # file stem
    source: SourceFacts
    import_error: ErrorFacts | None = None  # DAG001
    crash: ErrorFacts | None = None  # DAG002
    dags: list[DagFacts] = field(default_factory=list)
    import_seconds: float = 0.0


# -- imports modules ----------------------------------------------------------------------


@dataclass
class ImportsModuleFacts:
    path: str
    name: str  # module stem
    import_error: ErrorFacts | None = None  # IMP003
    crash: ErrorFacts | None = None
    defines_dags: list[DagFacts] = field(default_factory=list)


# -- role files ---------------------------------------------------------------------------


@dataclass
class RoleFacts:
    """A role file parsed with positions, checked by iam_builder's schema and builder.

    Positions of YAML nodes are keyed by JSON pointer: "" is the document, "/s3" the
    s3 mapping's value, "/s3/read_only/0" its first entry; "/s3#key" is the key itself.
    """

    path: str
    env: str
    name: str  # file stem
    yaml_error: ErrorFacts | None = None  # ROL001
    config: Any = None  # the parsed document, plain data
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    duplicate_keys: list[tuple[str, int, int]] = field(default_factory=list)  # pointer, line, col
    schema_errors: list[tuple[str, str]] = field(default_factory=list)  # pointer, message
    build_error: ErrorFacts | None = None  # exception from build_iam_policy
    policy: dict[str, Any] | None = None
