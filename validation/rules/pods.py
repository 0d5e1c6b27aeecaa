"""Pod rules: how the KubernetesPodOperator tasks of a DAG file run (DagFileFacts).

The facts come from the task objects the import created (what the platform will run);
the positions from the source, pointing at the literal that set a value where there is
one, else at the line that led to the task's creation. Every task is checked; the tasks of
a loop or helper with the same problem become one problem (run/checks.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from validation.facts import DagFileFacts, RepoFacts, TaskFacts
from validation.problems import TASK, Finding, Level
from validation.registry import Subject, rule

# The Kubernetes cluster (context) each environment's IRSA pods run on, as
# mojap-airflow-tools sets it from environment="dev"/"prod".
CLUSTER_CONTEXTS = {
    "dev": "analytical-platform-compute-test",
    "prod": "analytical-platform-compute-production",
}
ENVIRONMENT_PATH = re.compile(r"environments/([A-Za-z0-9_.-]+)/")
HIGH_MEMORY = "high-memory"
HIGH_MEMORY_HELP = "see imports/examples_high_memory.py for the toleration and affinity"
MIN_STARTUP_SECONDS = 600
DEFAULT_STARTUP_SECONDS = 120  # Airflow's KubernetesPodOperator default
KUBERNETES_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAMESPACE = "airflow"
LATEST = "latest"

# The cluster's Kyverno policy require-run-as-nonroot (enforced) admits a pod only when
# runAsNonRoot is true for the pod (and no container sets it false) or for every container.
NON_ROOT_POLICY = "the cluster admits a pod only when runAsNonRoot is true (Kyverno policy " \
    "require-run-as-nonroot, enforced)"
# Insecure pod settings: (names the source may use, the values that are insecure, why and
# what to do). Keys are the Kubernetes API names the facts carry.
INSECURE_CONTEXT = {
    "privileged": (("privileged",), (True,),
                   "a privileged container has full access to the node: remove it"),
    "allowPrivilegeEscalation": (
        ("allowPrivilegeEscalation", "allow_privilege_escalation"), (True,),
        "it lets the container's processes gain more privileges than they started with: "
        "set allowPrivilegeEscalation to False"),
    "runAsNonRoot": (("runAsNonRoot", "run_as_non_root"), (False,),
                     f"{NON_ROOT_POLICY}: set it to True"),
    "runAsUser": (("runAsUser", "run_as_user"), (0, "0"),
                  "user 0 is root: with runAsNonRoot true, which the cluster requires, the "
                  "container does not start; use a non-root user id"),
}
SNAKE_CASE = {"allow_privilege_escalation": "allowPrivilegeEscalation",
              "run_as_non_root": "runAsNonRoot", "run_as_user": "runAsUser"}


@rule("DAG010", "cross-env-reference", Level.ERROR, Subject.DAG)
def cross_env_reference(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG references another environment: its cluster, its name or its files.

    Why: the user guide says DAGs and roles of different environments must not reference
    each other; a dev DAG with environment="prod" runs its pods on the production
    cluster, and a path under environments/prod/ is not deployed with a dev DAG.

    Bad:

        # environments/dev/dags/examples/report.py
        BasicKubernetesPodOperator(..., service_account_name="airflow-dev-examples",
                                   environment="prod")

    Good:

        BasicKubernetesPodOperator(..., service_account_name="airflow-dev-examples",
                                   environment="dev")
    """
    others = [env for env in repo.environments if env != facts.env]
    reported: set[tuple[int, str]] = set()  # (line, environment) reported
    for key, value, line, column in _literals(facts):
        other = _other_env(key, value, others)
        if other and (line, other) not in reported:
            reported.add((line, other))
            yield Finding(_cross_env_message(key, value, other, facts.env), line, column)
    for task in _pod_tasks(facts):
        context = task.pod.get("cluster_context")
        other = next((env for env in others if CLUSTER_CONTEXTS.get(env) == context), None)
        if other is None:
            continue
        # The literal that chose the cluster was reported above; else point at the call.
        line, column = _find_literal(facts, task, ("environment",), other) or \
            _find_literal(facts, task, ("cluster_context",), context) or \
            _position(facts, task, ("environment", "cluster_context"))
        if (line, other) not in reported:
            reported.add((line, other))
            yield Finding(_cross_env_message("cluster_context", context, other, facts.env),
                          line, column)


def _other_env(key: str, value: Any, others: list[str]) -> str | None:
    if key == "environment":
        return value if value in others else None
    if key == "cluster_context":
        return next((env for env in others if CLUSTER_CONTEXTS.get(env) == value), None)
    if key == "" and isinstance(value, str):
        named = ENVIRONMENT_PATH.findall(value)
        return next((env for env in named if env in others), None)
    return None


def _cross_env_message(key: str, value: Any, other: str, env: str) -> str:
    where = f"a DAG in environments/{env} must not reference the {other} environment"
    if key == "":
        return (f"'{value}' is a path in environments/{other}/: {where}; keep what this DAG "
                f"needs in environments/{env}/ or imports/")
    fix = f"environment=\"{env}\""
    if env in CLUSTER_CONTEXTS:
        fix += f" (cluster_context '{CLUSTER_CONTEXTS[env]}')"
    return f"{key} '{value}' is the {other} environment's: {where}; use {fix}"


@rule("DAG013", "high-memory-incomplete", Level.ERROR, Subject.DAG)
def high_memory_incomplete(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A high-memory task lacks the toleration, the node affinity or a long startup timeout.

    Why: the user guide asks for all three. Without the toleration the pod cannot be
    scheduled on a high-memory node, without the affinity it may run on a standard node,
    and a node being provisioned takes longer than Airflow's default startup timeout
    (120 s), so the task fails before it starts. A timeout below 600 s is a warning.

    Bad:

        BasicKubernetesPodOperator(..., tolerations=tolerations)

    Good:

        BasicKubernetesPodOperator(
            ...,
            # Increase startup time to give time for node creation
            startup_timeout_seconds=600,
            tolerations=tolerations,
            affinity=affinity,
        )
    """
    for task in _pod_tasks(facts):
        tolerates = _mentions_high_memory(task.pod.get("tolerations"))
        attracted = _mentions_high_memory(task.pod.get("affinity")) or \
            _mentions_high_memory(task.pod.get("node_selector"))
        if not (tolerates or attracted):
            continue
        name = f"high-memory task {TASK}"
        if not attracted:
            yield Finding(f"{name} has the high-memory toleration but no node affinity for it, "
                          "so it may run on a standard node: add affinity=affinity "
                          f"({HIGH_MEMORY_HELP})", *_position(facts, task, ("tolerations",)),
                          task=task.task_id)
        if not tolerates:
            yield Finding(f"{name} has the high-memory node affinity but not the toleration, so it "
                          f"cannot be scheduled: add tolerations=tolerations ({HIGH_MEMORY_HELP})",
                          *_position(facts, task, ("affinity", "node_selector")),
                          task=task.task_id)
        yield from _startup_timeout(facts, task, name)


def _startup_timeout(facts: DagFileFacts, task: TaskFacts, name: str) -> Iterator[Finding]:
    seconds = task.pod.get("startup_timeout_seconds")
    given = facts.source.locate(task.line, "startup_timeout_seconds")
    if given is None and seconds == DEFAULT_STARTUP_SECONDS:
        yield Finding(f"{name} sets no startup_timeout_seconds (Airflow's default is "
                      f"{DEFAULT_STARTUP_SECONDS} s, too short to provision the node): add "
                      f"startup_timeout_seconds={MIN_STARTUP_SECONDS}",
                      *facts.source.call_position(task.line), task=task.task_id)
    elif isinstance(seconds, (int, float)) and seconds < MIN_STARTUP_SECONDS:
        yield Finding(f"{name} has startup_timeout_seconds={seconds}, less than the "
                      f"{MIN_STARTUP_SECONDS} s the user guide asks for while a high-memory node "
                      f"is provisioned: use startup_timeout_seconds={MIN_STARTUP_SECONDS}",
                      *(given or facts.source.call_position(task.line)), level=Level.WARNING,
                      task=task.task_id)


def _mentions_high_memory(value: Any) -> bool:
    """Whether a toleration, affinity or node selector (plain data) names the high-memory
    node label (as {"key": "high-memory", ...} or a "high-memory" key)."""
    if isinstance(value, dict):
        if value.get("key") == HIGH_MEMORY:  # a toleration or a node selector requirement
            return value.get("operator") not in ("NotIn", "DoesNotExist")
        return HIGH_MEMORY in value or any(_mentions_high_memory(item) for item in value.values())
    if isinstance(value, list):
        return any(_mentions_high_memory(item) for item in value)
    return False


@rule("DAG014", "service-account-mismatch", Level.ERROR, Subject.DAG)
def service_account_mismatch(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The service_account_name is not the role in kebab-case, or not on this env's cluster.

    Why: with service_account_name set (IRSA), mojap-airflow-tools runs the pod as that
    Kubernetes service account and ignores role=: the pod gets the IAM role of the
    account, which is the role name with "-" for "_". The account exists only on the
    cluster of its environment (environment="dev" or "prod").

    Bad:

        BasicKubernetesPodOperator(..., role="airflow_dev_examples",
                                   service_account_name="airflow_dev_examples",
                                   environment="dev")

    Good:

        BasicKubernetesPodOperator(..., role="airflow_dev_examples",
                                   service_account_name="airflow-dev-examples",
                                   environment="dev")
    """
    for task in _pod_tasks(facts):
        account = task.pod.get("service_account_name")
        if not isinstance(account, str) or account == "default":
            continue
        where = _position(facts, task, ("service_account_name",))
        problem = _account_problem(account, task.role_argument)
        if problem:
            yield Finding(problem, *where)
        context = task.pod.get("cluster_context")
        own = CLUSTER_CONTEXTS.get(facts.env)
        # Another environment's cluster is a cross-env reference: DAG010 reports it.
        others = {CLUSTER_CONTEXTS.get(env) for env in repo.environments if env != facts.env}
        if own and context != own and context not in others:
            on = f"cluster_context '{context}'" if context else "no cluster_context"
            yield Finding(
                f"task {TASK} uses service account '{account}' with {on}, but "
                f"{facts.env} service accounts exist on '{own}': use environment=\"{facts.env}\" "
                "(BasicKubernetesPodOperator then sets the cluster)",
                *_position(facts, task, ("cluster_context", "environment")), task=task.task_id)


def _account_problem(account: str, role: str | None) -> str | None:
    expected = role.replace("_", "-") if role is not None else \
        re.sub(r"[^a-z0-9-]+", "-", account.lower()).strip("-")
    if not KUBERNETES_NAME.fullmatch(account):
        return (f"service_account_name '{account}' is not a Kubernetes name (no '_' or "
                f"capitals): use \"{expected}\" (the role name with '-' for '_')")
    if account != expected:
        return (f"service_account_name '{account}' does not match role '{role}': the pod "
                f"runs as the service account and role= is ignored; use "
                f"service_account_name=\"{expected}\" (the role with '-' for '_')")
    return None


@rule("DAG015", "insecure-pod", Level.ERROR, Subject.DAG)
def insecure_pod(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A pod the cluster refuses, or one privileged, root, on the host network or namespace.

    Why: the cluster's Kyverno policy require-run-as-nonroot (enforced) admits a pod only
    when runAsNonRoot is true, for the pod (with no container setting it false) or for
    every container; with it, a container whose user is 0 (root) does not start.
    mojap-airflow-tools' BasicKubernetesPodOperator sets runAsNonRoot: true,
    allowPrivilegeEscalation: false, privileged: false and the namespace airflow; a plain
    KubernetesPodOperator sets none of them, so it needs a security_context of its own.
    Privileged containers, privilege escalation and the host's network let a task act on
    the node or on other teams' pods.

    Bad:

        KubernetesPodOperator(..., name="report", namespace="airflow", image=IMAGE)
        BasicKubernetesPodOperator(..., run_as_user=0)

    Good:

        KubernetesPodOperator(..., name="report", namespace="airflow", image=IMAGE,
                              security_context={"runAsNonRoot": True, "runAsUser": 1000})
        BasicKubernetesPodOperator(..., run_as_user=1000)
    """
    for task in _pod_tasks(facts):
        for names, value, fix in _insecure_settings(task):
            line, column = _literal_position(facts, task, names, value)
            setting = f"sets {names[0]}={value!r}" if value is not None else f"sets no {names[0]}"
            yield Finding(f"task {TASK} {setting}: {fix}", line, column, task=task.task_id)


def _insecure_settings(task: TaskFacts) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """(names the source may spell it with, insecure value, fix) for each insecure setting;
    value None for runAsNonRoot missing."""
    pod_context, container_context = (
        value if isinstance(value, dict) else {}
        for value in (task.pod.get("security_context"), task.pod.get("container_security_context")))
    reported = set()
    for context in (pod_context, container_context):
        for key, value in context.items():
            api_name = SNAKE_CASE.get(key, key)
            if api_name not in INSECURE_CONTEXT or api_name in reported:
                continue
            names, bad, fix = INSECURE_CONTEXT[api_name]
            if any(value == insecure and type(value) is type(insecure) for insecure in bad):
                reported.add(api_name)
                yield names, value, _for_operator(api_name, fix, task)
    if "runAsNonRoot" not in reported and not _runs_as_non_root(pod_context, container_context):
        yield ("runAsNonRoot", "run_as_non_root"), None, (
            f"{NON_ROOT_POLICY}; add security_context={{\"runAsNonRoot\": True, "
            "\"runAsUser\": 1000} (a non-root user id the image can run as), or use "
            "BasicKubernetesPodOperator, which sets it")
    if task.pod.get("hostnetwork") is True:
        yield ("hostnetwork", "host_network", "hostNetwork"), True, \
            "pods must not share the node's network: remove it (hostnetwork is False unless set)"
    namespace = task.pod.get("namespace")
    if namespace != NAMESPACE:
        yield ("namespace",), namespace, f"use namespace=\"{NAMESPACE}\" (pods run in the " \
            f"{NAMESPACE} namespace; BasicKubernetesPodOperator sets it)"


def _runs_as_non_root(pod_context: dict[str, Any], container_context: dict[str, Any]) -> bool:
    """What require-run-as-nonroot admits: runAsNonRoot true for the pod and not false for
    the container, or true for the container (the task's pod has one container)."""
    container = container_context.get("runAsNonRoot")
    return (pod_context.get("runAsNonRoot") is True and container is not False) \
        or container is True


def _for_operator(api_name: str, fix: str, task: TaskFacts) -> str:
    """The fix in the operator's own terms."""
    if api_name == "runAsUser":
        return fix + (", such as run_as_user=1000" if task.mojap
                      else ", such as \"runAsUser\": 1000")
    return fix


def _literal_position(facts: DagFileFacts, task: TaskFacts, names: tuple[str, ...],
                      value: Any) -> tuple[int, int]:
    """The literal that set ``value`` under one of ``names``, else the keyword or the call."""
    return _find_literal(facts, task, names, value) or \
        _position(facts, task, names + ("security_context", "container_security_context"))


@rule("DAG017", "unpinned-image", Level.WARNING, Subject.DAG)
def unpinned_image(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A pod image has no tag, the tag "latest", or comes from outside the platform's registry.

    Why: an unpinned image changes under a DAG without a change in this repository, so
    runs cannot be repeated or rolled back; images outside the platform's ECR are not
    scanned or built by the image pipeline. Allowed registries are set with
    image_registries in setup.cfg [validation].

    Bad:

        KubernetesPodOperator(..., image="python:latest")

    Good:

        BasicKubernetesPodOperator(..., repo_name="airflow-examples", release="v1.0.0")
    """
    allowed = repo.settings.image_registries
    for task in _pod_tasks(facts):
        image = task.pod.get("image")
        if not isinstance(image, str) or "{{" in image:
            continue  # a Jinja template is rendered at run time
        if NONE_PART.search(image):
            yield Finding(_unset_image_message(facts, task),
                          *_position(facts, task, ("image", "full_image_name", "account_number",
                                                   "repo_name", "release")),
                          task=task.task_id)
            continue
        registry, tag = _split_image(image)
        problems = []
        keywords: tuple[str, ...] = ("image", "full_image_name", "release", "repo_name")
        if not tag or tag == LATEST:
            what = "is tagged 'latest'" if tag == LATEST else "has no tag (Docker pulls 'latest')"
            problems.append(f"it {what}: pin a release such as ':v1.0.0'")
            keywords = ("release", "image", "full_image_name", "repo_name")
        if registry not in allowed:
            keywords = keywords + ("account_number",) if problems else \
                ("image", "full_image_name", "account_number", "repo_name")
            problems.append(f"its registry '{registry}' is not an allowed one "
                            f"({', '.join(allowed)}): use an image built by the image pipeline")
        if problems:
            yield Finding(f"image '{image}' of task {TASK}: " + "; ".join(problems),
                          *_position(facts, task, keywords), task=task.task_id)


# "None" as a part of an image name: a value formatted in that was None at import.
NONE_PART = re.compile(r"(^|[/:.@])None($|[/:.@-])")


def _unset_image_message(facts: DagFileFacts, task: TaskFacts) -> str:
    """An image name built from a value that was None, most often an environment
    variable the workers do not have; never the name itself (it shows 'None')."""
    variables = sorted({name for name, _, _ in facts.source.env_reads})
    if variables:
        listed = ", ".join(variables)
        source = (f"it is built from the environment variable{'s' if len(variables) > 1 else ''}"
                  f" {listed}, which the validator's workers do not have (they keep only "
                  "Airflow's variables and those named in env_allowlist in setup.cfg "
                  "[validation])")
    else:
        source = "it is built from a value that was None when the file was imported"
    return (f"the image of task {TASK} cannot be checked: {source}; write the "
            "image in the file (repo_name= and release=, or a full image name with a "
            "pinned tag), or list the variable in env_allowlist if the platform sets it")


def _split_image(image: str) -> tuple[str, str | None]:
    """(registry, tag) of an image reference; Docker Hub is 'docker.io', a digest pins."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", image
    if "@" in path:
        return registry, path.split("@", 1)[1]
    name = path.rsplit("/", 1)[-1]
    return registry, name.split(":", 1)[1] if ":" in name else None


# -- helpers ------------------------------------------------------------------------------


def _pod_tasks(facts: DagFileFacts) -> Iterator[TaskFacts]:
    for dag in facts.registered_dags:
        yield from (task for task in dag.tasks if task.is_pod)


def _literals(facts: DagFileFacts) -> list[tuple[str, Any, int, int]]:
    return facts.source.pod_literals


def _find_literal(facts: DagFileFacts, task: TaskFacts, names: tuple[str, ...],
                  value: Any) -> tuple[int, int] | None:
    """The literal that gave ``value`` under one of ``names``: in the call on the task's
    line if there is one, else the first outside functions, classes and calls (a module
    constant such as ``NAMESPACE = "default"``). A literal inside a helper, a class or
    another task's call is not this task's own: the line that made it is where it is."""
    matches = [(line, column) for key, found, line, column in _literals(facts)
               if key in names and found == value and type(found) is type(value)]
    span = next((call for call in facts.source.calls if call.line == task.line), None)
    inside = [match for match in matches if span and span.line <= match[0] <= span.end_line]
    found = inside or [match for match in matches if not facts.source.in_scope(match[0])
                       and not any(call.line <= match[0] <= call.end_line
                                   for call in facts.source.calls)]
    return found[0] if found else None


def _position(facts: DagFileFacts, task: TaskFacts, keywords: tuple[str, ...]) -> tuple[int, int]:
    """The first of ``keywords`` given to the call that made the task, else the call."""
    for keyword in keywords:
        found = facts.source.locate(task.line, keyword)
        if found:
            return found
    return facts.source.call_position(task.line)


@rule("DAG024", "pod-without-role", Level.WARNING, Subject.DAG)
def pod_without_role(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A pod task has no IAM role: no role annotation and no service account.

    Why: the user guide gives every task the role it runs with, defined in the same
    environment's roles/ folder. A pod without one gets no AWS access of its own, and no
    rule can check what it may touch. mojap's BasicKubernetesPodOperator always sets one;
    a plain KubernetesPodOperator needs the `iam.amazonaws.com/role` annotation. A warning,
    not an error: a task that needs no AWS access at all can run without a role.

    Bad:

        KubernetesPodOperator(dag=dag, task_id="copy", name="copy", namespace="airflow",
                              image=IMAGE)

    Good:

        KubernetesPodOperator(dag=dag, task_id="copy", name="copy", namespace="airflow",
                              image=IMAGE,
                              annotations={"iam.amazonaws.com/role": "airflow_dev_example"})
    """
    for task in (task for task in _pod_tasks(facts) if task.role is None):
        line, column = facts.source.call_position(task.line)
        yield Finding(
            f"pod task {TASK} runs with no IAM role: add "
            f"annotations={{\"iam.amazonaws.com/role\": \"airflow_{facts.env}_<name>\"}} with a "
            f"role from environments/{facts.env}/roles/, or use BasicKubernetesPodOperator "
            "with role=", line, column, task=task.task_id)
