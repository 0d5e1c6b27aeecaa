"""Rules for what a role file grants (RoleFacts): ROL011-ROL016.

iam_builder accepts these configs, but what it builds is not what the file seems to say:
a flag set to false still acts, a path with `s3://` names no real object, a bucket alone
grants nothing on its objects. ROL016 looks across files: is the role used at all?
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from validation.facts import RepoFacts, RoleFacts
from validation.problems import Finding, Level
from validation.registry import Reads, Subject, rule
from validation.rules.role_nodes import has_content, key_position, position, string_entries
from validation.s3 import (
    bucket_name_problem,
    bucket_of,
    has_wildcard,
    normal_path,
    suggested_bucket,
)

S3_ACCESS = ("read_only", "write_only", "read_write", "deny")
PRESENCE_FLAGS = {
    "cloudwatch_athena_query_executions": "still grants read access to the CloudWatch logs "
                                          "of Athena queries",
    "is_cadet_deployer": "still makes the role a CaDeT deployer (full control of Glue and "
                         "Athena), or fails the build on a role without 'cadet' in its name",
}
KMS_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:kms:(?:[a-z]{2}(?:-[a-z]+)+-\d+|\*):(?:\d{12}|\*):"
    r"(?:key/[A-Za-z0-9*-]+|alias/[A-Za-z0-9/_*-]+|\*)")  # a `*` is SEC006's
KEY_ID = re.compile(r"(?:mrk-)?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}|mrk-[0-9a-f]{32}")


def s3_paths(role: RoleFacts, accesses: tuple[str, ...] = S3_ACCESS) -> Iterator[
        tuple[str, str, str]]:
    """(access, pointer, path) of every string under s3.<access> in the role file."""
    if not has_content(role):
        return
    for access in accesses:
        for pointer, path in string_entries(role, f"/s3/{access}"):
            yield access, pointer, path


# -- ROL011, ROL012: flags and empty policies ---------------------------------------------


@rule("ROL011", "presence-flag-false", Level.WARNING, Subject.ROLE)
def presence_flag_false(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """`cloudwatch_athena_query_executions` or `is_cadet_deployer` is set to false.

    Why: iam_builder acts on these keys being present, whatever their value: `false`
    still grants the CloudWatch access, or still makes the role a CaDeT deployer.

    Bad:

        iam_role_name: airflow_dev_example
        cloudwatch_athena_query_executions: false

    Good:

        iam_role_name: airflow_dev_example
        s3:
          read_only:
            - alpha-my-bucket/*
    """
    if not has_content(role):
        return
    for key, effect in PRESENCE_FLAGS.items():
        if role.config.get(key) is False:
            yield Finding(
                f"`{key}: false` {effect}: iam_builder acts on the key being present, "
                "whatever its value. Remove the key", *key_position(role, f"/{key}"))


@rule("ROL012", "empty-policy", Level.WARNING, Subject.ROLE)
def empty_policy(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role file grants nothing: iam_builder builds a policy without statements.

    Why: AWS rejects a policy with an empty Statement list, so the deployment of the role
    fails; a role that needs nothing needs no file.

    Bad:

        iam_role_name: airflow_dev_example
        glue_job: false

    Good:

        iam_role_name: airflow_dev_example
        s3:
          read_only:
            - alpha-my-bucket/*
    """
    if role.policy is not None and not role.policy.get("Statement"):
        yield Finding(
            "the role grants nothing: iam_builder builds a policy with an empty Statement "
            "list, which AWS rejects. Add what the role needs (s3, athena, secrets, ...) or "
            "delete the file", *role.positions.get("", (1, 1)))


# -- ROL013, ROL014: S3 paths -------------------------------------------------------------


@rule("ROL013", "s3-path-format", Level.ERROR, Subject.ROLE)
def s3_path_format(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An S3 path starts with `s3://`, `arn:` or `/`, contains blanks, or has an invalid bucket.

    Why: iam_builder puts `arn:aws:s3:::` in front of each path as it stands, so
    `s3://bucket/x/*` becomes `arn:aws:s3:::s3://bucket/x/*`, which names no bucket at all
    and grants nothing. A bucket name breaking AWS's naming rules (capitals, `_`) cannot
    exist either. A `*` in the bucket name is SEC002's business.

    Bad:

        s3:
          read_only:
            - s3://alpha-my-bucket/data/*

    Good:

        s3:
          read_only:
            - alpha-my-bucket/data/*
    """
    for access, pointer, path in s3_paths(role):
        reasons, fixed = _format_problems(path)
        if reasons:
            fix = (f"write `{fixed}`" if fixed and bucket_name_problem(bucket_of(fixed)) is None
                   else "write it as `bucket/prefix/*`")
            yield Finding(f"S3 path {path!r} in s3.{access} {'; '.join(reasons)}: {fix}",
                          *position(role, pointer))


def _format_problems(path: str) -> tuple[list[str], str]:
    """What is wrong with the path's spelling, and the path with it put right."""
    reasons = []
    start = path.lstrip().lower()
    if start.startswith(("s3://", "s3a://", "s3n://")):
        reasons.append("starts with `s3://` (iam_builder wants `bucket/key`)")
    elif start.startswith("arn:"):
        reasons.append("starts with `arn:` (iam_builder adds `arn:aws:s3:::` itself)")
    elif start.startswith("/"):
        reasons.append("starts with `/` (the bucket name comes first)")
    if re.search(r"\s", path):
        reasons.append("contains whitespace")
    fixed = normal_path(path)
    bucket = bucket_of(fixed)
    problem = None if has_wildcard(bucket) else bucket_name_problem(bucket)
    if problem:
        reasons.append(f"has an invalid bucket name: `{bucket}` {problem}")
        fixed = suggested_bucket(bucket) + fixed[len(bucket):]
    return reasons, fixed


@rule("ROL014", "s3-path-no-objects", Level.WARNING, Subject.ROLE)
def s3_path_no_objects(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An S3 path names a bucket alone, or ends with `/`, so it grants nothing on objects.

    Why: iam_builder turns `bucket` into the resource `arn:aws:s3:::bucket`, the bucket
    itself, on which object actions (GetObject, PutObject) do nothing; `bucket/folder/`
    names only the empty "folder" marker object. Each path must name an object
    (`bucket/folder/file.csv`) or end with `/*` for everything under a prefix. A path such
    as `bucket/folder` names the object `folder` and is taken at its word.

    Bad:

        s3:
          read_write:
            - alpha-my-bucket
            - alpha-my-bucket/output/

    Good:

        s3:
          read_write:
            - alpha-my-bucket/*
            - alpha-my-bucket/output/*
    """
    for access, pointer, path in s3_paths(role):
        normal = normal_path(path)
        if has_wildcard(bucket_of(normal)):
            continue  # `*` matches the objects too
        if "/" not in normal:
            fixed, what = f"{normal}/*", "names the bucket alone"
        elif normal.endswith("/"):
            fixed, what = f"{normal}*", "ends with `/`"
        else:
            continue
        verb = "denies" if access == "deny" else "grants"
        yield Finding(
            f"S3 path {path!r} in s3.{access} {what}, so it {verb} nothing on the objects in "
            f"it: write `{fixed}` for every object under it, or name one object",
            *position(role, pointer))


# -- ROL015: KMS keys ---------------------------------------------------------------------


@rule("ROL015", "kms-arn", Level.ERROR, Subject.ROLE)
def kms_arn(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A `kms` entry is not the ARN of a KMS key or alias.

    Why: iam_builder copies each entry into the policy as a resource; anything but a key
    or alias ARN (`arn:aws:kms:<region>:<account>:key/<id>` or `...:alias/<name>`) grants
    nothing, or makes AWS reject the policy. A `*` is SEC006's business.

    Bad:

        kms:
          - 1234abcd-12ab-34cd-56ef-1234567890ab

    Good:

        kms:
          - arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    """
    if not has_content(role):
        return
    for pointer, entry in string_entries(role, "/kms"):
        if KMS_ARN.fullmatch(entry) or entry.strip() == "*":
            continue
        yield Finding(f"kms entry {entry!r} is not a KMS key or alias ARN: {_kms_hint(entry)}",
                      *position(role, pointer))


def _kms_hint(entry: str) -> str:
    form = "arn:aws:kms:<region>:<12-digit account>:key/<key id>"
    text = entry.strip()
    if KEY_ID.fullmatch(text):
        return f"write the whole ARN, `arn:aws:kms:eu-west-1:<account>:key/{text}`"
    if text.startswith("alias/"):
        return f"write the whole ARN, `arn:aws:kms:eu-west-1:<account>:{text}`"
    parts = text.split(":")
    if len(parts) == 6 and parts[:3] == ["arn", "aws", "kms"]:
        return (f"expected {form} (or `:alias/<name>`), with a region such as eu-west-1 and "
                f"a 12-digit account id; found region {parts[3]!r}, account {parts[4]!r} and "
                f"resource {parts[5]!r}")
    return f"expected {form} or arn:aws:kms:<region>:<account>:alias/<name>"


# -- ROL016: is the role used -------------------------------------------------------------


@rule("ROL016", "unused-role", Level.WARNING, Subject.ROLE,
      reads=[Reads.ROLE_USERS])
def unused_role(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """No DAG file of the role's environment uses the role.

    Why: an unused role is standing access nobody reviews; it often means a typo in the
    DAG's role name or a role left behind by a deleted DAG. A DAG file uses the roles its
    tasks run with: from its import when it imports (the role annotation, or the service
    account with "-" for "_"), else from its source, read without running it (string
    literals, f-strings and the module's constants, as the user guide writes
    `ROLE = f"airflow_dev_{username}_example"`, and those of the imports/ modules it
    imports). When some DAG file's roles cannot be decided either way (a role computed
    by a function call, say), the rule cannot prove a role unused and stays silent.

    Bad:

        # environments/dev/roles/airflow_dev_example.yaml; no task uses airflow_dev_example
        iam_role_name: airflow_dev_example

    Good:

        # environments/dev/roles/airflow_dev_example.yaml
        # environments/dev/dags/example/run.py has: ROLE = "airflow_dev_example"
        iam_role_name: airflow_dev_example
    """
    users, undecided = repo.role_users, repo.role_undecided
    if users is None or role.env not in repo.environments:
        return
    if role.name in users.get(role.env, frozenset()) or (undecided or {}).get(role.env):
        return
    where = position(role, "/iam_role_name") if has_content(role) else (1, 1)
    yield Finding(
        f"no task of a DAG in environments/{role.env}/dags/ uses `{role.name}`: use it in "
        f"a task (role=\"{role.name}\") or delete the file", *where)
