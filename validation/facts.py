"""Facts: plain records of what the loaders found, the only input rules get.

Every record here is built from plain values (str, int, bool, None, lists and dicts of
them), so it can cross a process boundary and be stored as JSON. Rules never see an
Airflow object, a YAML node or an open file: only these records.

Positions are 1-based; 0 means unknown.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

# -- every path ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PathFacts:
    """A path named on the command line (or found by ``--all``) and where it is routed.

    Built by validation.loaders.paths.resolve. A path whose real location is outside the
    repository has inside_root=False, the path as the user typed it and Kind.UNKNOWN.
    """

    path: str  # repo-relative, "/"-separated, as named (symlinks inside the repo kept)
    route: Route
    exists: bool  # symlinks followed: a broken symlink does not exist
    is_dir: bool
    inside_root: bool = True


# -- where a path belongs (the table that decides is routes.py) -----------------------


class Kind(str, enum.Enum):
    DAG = "dag"  # environments/<env>/dags/<project>/<dag>.py
    README = "readme"  # environments/<env>/dags/<project>/README.md
    ROLE = "role"  # environments/<env>/roles/<role>.yaml
    IMPORTS_INIT = "imports-init"  # imports/__init__.py
    IMPORTS_MODULE = "imports-module"  # imports/<project>_<name>.py
    MISPLACED_DAG = "misplaced-dag"  # a .py directly in dags/ or nested deeper (STR003)
    ROLE_EXTENSION = "role-extension"  # a role file not ending .yaml (STR005)
    UNKNOWN = "unknown"  # anything else under environments/ or imports/ (STR001)
    UNCHECKED = "unchecked"  # outside environments/ and imports/: not ours to check


@dataclass(frozen=True)
class Route:
    """Where a path sits in the repository layout."""

    kind: Kind
    env: str | None = None
    project: str | None = None
    name: str | None = None  # file stem for DAGs, roles and imports modules

    @property
    def checked(self) -> bool:
        return self.kind is not Kind.UNCHECKED


@dataclass(frozen=True)
class RuleSettings:
    """The parts of the configuration ([validation] in setup.cfg) that rules read."""

    imports_allowlist: frozenset[str] = frozenset()  # platform modules exempt from IMP001
    # Buckets (fnmatch patterns) shared by everyone: writing to the whole bucket is SEC003.
    shared_buckets: tuple[str, ...] = (
        "alpha-everyone", "mojap-athena-query-dump", "moj-analytics-lookup-tables",
        "aws-athena-query-results-*",
    )
    # Buckets Airflow itself reads DAG code, requirements and kube config from (SEC004).
    control_plane_buckets: tuple[str, ...] = ("mojap-airflow-dev", "mojap-airflow-prod")
    cadet_roles: frozenset[str] = frozenset()  # role file stems allowed is_cadet_deployer
    # Registries pod images may come from (DAG017): the platform's ECR.
    image_registries: tuple[str, ...] = ("189157455002.dkr.ecr.eu-west-1.amazonaws.com",)
    slow_import_seconds: float = 15.0  # DAG020: half Airflow's 30 s dagbag_import_timeout


@dataclass(frozen=True)
class LoadSettings:
    """The parts of the configuration that change what loading a DAG file or imports
    module produces: built from Config (Config.load_settings), handed to the DAG loader
    and its workers, and encoded whole into the cache's context, so a changed setting
    never reuses facts loaded under another."""

    timeout: float = 30.0  # seconds per file, Airflow's dagbag_import_timeout default
    memory_limit_mb: int = 4096  # address space of a DAG worker (RLIMIT_AS); 0: no limit
    cpu_limit_seconds: float = 60.0  # CPU time per DAG file (RLIMIT_CPU); 0: no limit
    env_allowlist: tuple[str, ...] = ()  # environment variables DAG workers keep (or globs)
    environments: tuple[str, ...] = ("dev", "prod")


@dataclass(frozen=True)
class WriteGrant:
    """An S3 path a role file grants write access to (SEC001 compares them across envs)."""

    role_path: str  # the role file, repo-relative
    access: str  # write_only | read_write
    s3_path: str  # as written in the file
    line: int = 0  # where, 1-based (0: unknown)


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
    imports_has_init: bool
    settings: RuleSettings = field(default_factory=RuleSettings)
    # env -> names of the files in roles/ that end .yml or .json (STR005's), which no
    # role is made from: DAG007 names the one a missing role was written in
    role_other_files: dict[str, frozenset[str]] = field(default_factory=dict)
    # Read only when role files are checked (validation.loaders.repo.with_role_context);
    # None: not read, and the cross-file role rules (ROL016, SEC001) stay quiet.
    # env -> bucket -> the write grants in that bucket; a grant whose bucket part has a
    # wildcard is filed under "*" (SEC001 compares a path with its bucket's and those)
    role_writes: dict[str, dict[str, tuple[WriteGrant, ...]]] | None = None
    # env -> the role stems its DAG files use (validation.loaders.role_users), and the
    # DAG files whose roles cannot be decided (ROL016 then cannot prove a role unused).
    role_users: dict[str, frozenset[str]] | None = None
    role_undecided: dict[str, tuple[str, ...]] | None = None


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
    # made by mojap-airflow-tools' BasicKubernetesPodOperator (the call at ``call_line`` is
    # it), which names the pod after the task_id
    mojap: bool = False
    # The line of the DAG file nearest module level that led to the task's creation (the
    # helper's call, the class's instantiation, the loop body): where its problems are.
    line: int = 0
    call_line: int = 0  # the call that made it (inside the helper or class, if any)
    from_source: bool = False  # read from the source, the import having failed
    task_id_line: int = 0  # the task_id argument, where the source shows it
    task_id_column: int = 0
    role: str | None = None
    role_source: str | None = None  # "annotation" or "service_account"
    role_line: int = 0
    role_column: int = 0
    # Pod settings as plain data (namespace, image, service_account_name, security
    # context, tolerations, affinity, startup timeout ...), for the pod rules.
    pod: dict[str, Any] = field(default_factory=dict)
    # The role= argument of the call, where the source shows its value: mojap-airflow-tools
    # drops it when service_account_name is set (DAG014).
    role_argument: str | None = None


@dataclass
class DagFacts:
    dag_id: str
    line: int = 0  # the call in the DAG file that created the DAG
    column: int = 0
    dag_id_line: int = 0
    dag_id_column: int = 0
    registered: bool = True  # Airflow's DagBag accepted it
    from_source: bool = False  # read from the source, the import having failed
    start_date: str | None = None  # ISO 8601, from the DAG or its default_args
    start_date_near_import: bool = False  # equal to the clock at import: computed at parse time
    # none | str | timedelta | relativedelta | other; unread: given, not read from the source
    schedule_kind: str = "none"
    schedule_value: str | None = None  # the cron string or preset, or repr() of other kinds
    schedule_line: int = 0
    schedule_column: int = 0
    owner: str | None = None
    tasks: list[TaskFacts] = field(default_factory=list)


@dataclass(frozen=True)
class Span:
    """A stretch of a file's text, for a fix to replace: from (line, column) up to, not
    including, (end_line, end_column). 1-based; columns count characters (not bytes)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass
class LiteralSite:
    """The one string literal that decides a keyword argument's value, where a fix can
    rewrite it: written in the call (``dag_id="x"``, or an f-string of names the module
    binds once), or in the one top-level assignment of a name that only this argument
    reads (``TASK = "x"`` ... ``task_id=TASK``)."""

    span: Span  # the literal, prefix and quotes included
    quote: str  # its opening quote: ' " ''' or """
    variable: str | None = None  # the name the call reads it through, if any
    formatted: bool = False  # an f-string (its value is known after the import only)
    value: str | None = None  # the string, for a plain literal (None for an f-string)


@dataclass
class CallSite:
    """A call in the source with keyword arguments, for locating literals."""

    line: int
    end_line: int
    column: int
    keywords: dict[str, tuple[int, int]]  # keyword name -> (line, column) of its value
    # keyword name -> the literal that alone decides its value, for fixes (DAG005, DAG006)
    literals: dict[str, LiteralSite] = field(default_factory=dict)


@dataclass
class ParseTimeCall:
    """A call like datetime.now() or days_ago() that feeds a start_date (DAG011)."""

    name: str
    line: int
    column: int


@dataclass
class ImportedName:
    """One name an import statement binds: ``import a.b`` gives module "a.b" and name None;
    ``from a.b import c`` gives module "a.b" and name "c". Positioned at the name."""

    module: str
    name: str | None
    line: int
    column: int

    @property
    def qualified(self) -> str:
        """The dotted name imported: "a.b" or "a.b.c"."""
        return self.module if self.name is None else f"{self.module}.{self.name}"


@dataclass
class StringLiteral:
    """A string constant in the source, with the name it is bound to where the source
    shows one: the variable (``x = "..."``), keyword argument (``f(x="...")``), dict key
    (``{"x": "..."}``) or subscript (``env["x"] = "..."``)."""

    value: str
    line: int
    column: int
    name: str | None = None


@dataclass
class SourceFacts:
    """What the source text of a Python file shows, without running it."""

    syntax_error: ErrorFacts | None = None
    calls: list[CallSite] = field(default_factory=list)
    parse_time_start_dates: list[ParseTimeCall] = field(default_factory=list)
    imports: list[tuple[str, int]] = field(default_factory=list)  # (module, line)
    imported_names: list[ImportedName] = field(default_factory=list)
    strings: list[StringLiteral] = field(default_factory=list)  # in source order
    # For the pod rules to point at: (key, value, line, column) of each constant given to
    # a pod setting such as namespace= or "privileged", and ("", text, line, column) of
    # each string mentioning environments/ (validation.loaders.source.pod_literals).
    pod_literals: list[tuple[str, Any, int, int]] = field(default_factory=list)
    # ``x = {...},``: a trailing comma that made a dict (or list) a one-item tuple;
    # (name, line, column) of the comma.
    trailing_comma_tuples: list[tuple[str, int, int]] = field(default_factory=list)
    # (variable, line, column) of each environment variable read by a constant name:
    # os.environ["X"], os.environ.get("X"), os.getenv("X").
    env_reads: list[tuple[str, int, int]] = field(default_factory=list)
    # (target, name, line, column) of ``target = name``: a bare name given as a value, as
    # the guide's ``username = <<username>>`` becomes when the quotes are left out.
    bare_names: list[tuple[str, str, int, int]] = field(default_factory=list)
    # The same commas, in the same order, as the text a fix deletes: the comma and any
    # blanks between it and the dict on its line (DAG001).
    trailing_comma_spans: list[Span] = field(default_factory=list)
    digest: str = ""  # of the text these facts came from (loaders.files.text_digest)
    # (first line, last line) of each function, class and lambda: literals inside one
    # belong to whoever calls it, not to the module.
    scopes: list[tuple[int, int]] = field(default_factory=list)

    # -- where things are: the position queries the rules and the loader need ----------

    def locate(self, line: int, keyword: str) -> tuple[int, int] | None:
        """Where the ``keyword`` argument of the call made at ``line`` is, if the source
        shows it. Prefers a call starting on that line; otherwise the innermost call
        spanning it."""
        if line <= 0:
            return None
        spanning = [call for call in self.calls
                    if call.line <= line <= call.end_line and keyword in call.keywords]
        starting = [call for call in spanning if call.line == line]
        candidates = starting or sorted(spanning, key=lambda call: call.end_line - call.line)
        return candidates[0].keywords[keyword] if candidates else None

    def call_at(self, line: int, column: int, keyword: str) -> CallSite | None:
        """The call whose ``keyword`` argument is at (line, column)."""
        return next((call for call in self.calls
                     if call.keywords.get(keyword) == (line, column)), None)

    def in_scope(self, line: int) -> bool:
        """Whether ``line`` is inside a function, class or lambda."""
        return any(first <= line <= last for first, last in self.scopes)

    def call_position(self, line: int) -> tuple[int, int]:
        """The position of the first call starting at ``line`` (column 0 when none)."""
        return line, next((call.column for call in self.calls if call.line == line), 0)


@dataclass
class DagFileFacts:
    path: str
    env: str
    project: str
    name: str  # file stem
    source: SourceFacts
    import_error: ErrorFacts | None = None  # DAG001
    crash: ErrorFacts | None = None  # DAG002
    dags: list[DagFacts] = field(default_factory=list)  # every DAG the import created
    import_seconds: float = 0.0
    imported_modules: list[str] = field(default_factory=list)  # repo files it imported
    warnings: list[tuple[str, str, int]] = field(default_factory=list)  # category, text, line
    network: list[tuple[str, int]] = field(default_factory=list)  # refused: what, line (DAG023)
    # When the import failed: the DAGs and tasks its source shows (validation.loaders.
    # source_dags), for the rules that literals decide; empty when the import worked.
    source_dags: list[DagFacts] = field(default_factory=list)
    source_tasks: list[TaskFacts] = field(default_factory=list)

    @property
    def registered_dags(self) -> list[DagFacts]:
        """The DAGs Airflow's DagBag found and accepted."""
        return [dag for dag in self.dags if dag.registered]

    @property
    def registered_tasks(self) -> list[TaskFacts]:
        """The tasks of the DAGs Airflow accepted."""
        return [task for dag in self.registered_dags for task in dag.tasks]

    @property
    def imported(self) -> bool:
        """Whether the import ran to its end (its DAGs and tasks are facts)."""
        return self.import_error is None and self.crash is None

    @property
    def read_dags(self) -> list[DagFacts]:
        """The DAGs to check: those Airflow accepted or, when the import failed, those the
        source shows (``from_source``)."""
        return self.registered_dags if self.imported else self.source_dags

    @property
    def read_tasks(self) -> list[TaskFacts]:
        """The tasks to check, likewise: Airflow's, or the source's."""
        return self.registered_tasks if self.imported else self.source_tasks


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
    Keys that are not strings appear as their YAML spelling ("1", "true", "null").

    ``schema_errors`` holds one entry per problem, never just the first:
    ``(pointer, keyword, detail, expected)``, where keyword is the JSON-schema keyword
    (type, additionalProperties, required, pattern, oneOf, ...) or "cadet" for the
    builder's CaDeT-name check. For additionalProperties the pointer names the unexpected
    key, detail is that key and expected the keys allowed beside it; for type, detail
    describes the value found and expected lists the JSON types wanted; for required,
    detail is the missing key. The schema is iam_builder's, tightened where its builder
    would crash on what the schema lets through (athena, s3 and secretsmanager must be
    mappings, secretsmanager needs read_only, database names are checked per entry).
    """

    path: str
    env: str
    name: str  # file stem
    yaml_error: ErrorFacts | None = None  # ROL001: unreadable, not UTF-8, or not YAML
    config: Any = None  # the parsed document, plain data
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    # pointer of the repeated key, its line and column, and the line where it first appeared
    duplicate_keys: list[tuple[str, int, int, int]] = field(default_factory=list)
    schema_errors: list[tuple[str, str, str, list[str]]] = field(default_factory=list)
    # For each unknown top-level key, the schema's sections that have it (s3 for read_only).
    sections_with_key: dict[str, list[str]] = field(default_factory=dict)
    build_error: ErrorFacts | None = None  # exception from build_iam_policy
    policy: dict[str, Any] | None = None
    # Pointer (and pointer + "#key" for keys) -> where a scalar is written, for fixes
    # (ROL003, ROL007): only plain and quoted scalars written once in the file (not
    # through an alias or a merge), and only when the file's line breaks are ones every
    # reader agrees on.
    scalar_spans: dict[str, Span] = field(default_factory=dict)
    scalar_quotes: dict[str, str] = field(default_factory=dict)  # pointer -> ' or " if quoted
    digest: str = ""  # of the text these facts came from (loaders.files.text_digest)


# -- inline suppressions ------------------------------------------------------------------


@dataclass(frozen=True)
class Suppression:
    """A suppression comment (``# noqa: DAG006``, ``# validation: disable=ROL014``)."""

    line: int
    column: int
    codes: tuple[str, ...]  # upper-case rule ids of the validator's families
    whole_file: bool  # ``# validation: disable-file=...``
    text: str  # the directive as written, for messages


@dataclass
class SuppressionFacts:
    """The suppressions of one file that did not earn their keep (STR009).

    Built by the runner after the file's other problems are known: ``unused`` holds each
    (suppression, code, reason) where reason is "unused" (the rule ran and found nothing
    there), "unknown" (no such rule), "unsuppressible" (STR009 itself) or "empty" (the
    directive names no rule).
    """

    path: str
    unused: list[tuple[Suppression, str, str]] = field(default_factory=list)
