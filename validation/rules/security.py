"""Security rules: what a role file grants, and to whom (RoleFacts): SEC001-SEC006.

S3 paths are compared as IAM does: `*` matches any run of characters, `/` included, so
`alpha-data/*` covers `alpha-data/out/x.csv`. The buckets these rules know about come
from setup.cfg [validation] (RuleSettings): shared_buckets, control_plane_buckets and
cadet_roles.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator

from validation.facts import RepoFacts, RoleFacts, WriteGrant
from validation.problems import Finding, Level
from validation.registry import Reads, Subject, rule
from validation.rules.role_grants import s3_paths
from validation.rules.role_nodes import has_content, key_position, position, string_entries
from validation.s3 import bucket_of, globs_overlap, has_wildcard, normal_path

WRITE_ACCESS = ("write_only", "read_write")
READ_ACCESS = ("read_only",)
MIN_NAME = 3  # letters and digits before a `*` for a grant to count as named (SEC006)


def _fnmatch_any(bucket: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern the bucket name (itself maybe a glob) can match."""
    for pattern in patterns:
        if has_wildcard(bucket):
            if globs_overlap(bucket, pattern):
                return pattern
        elif fnmatch.fnmatchcase(bucket, pattern):
            return pattern
    return None


# -- SEC001: dev and prod do not write to the same places ---------------------------------


@rule("SEC001", "cross-env-write", Level.ERROR, Subject.ROLE,
      reads=[Reads.ROLE_WRITES])
def cross_env_write(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A write path of the role overlaps a write path of a role in another environment.

    Why: dev and prod must not share write access to the same AWS resources: a test run
    in dev would overwrite production data. Paths overlap when some object matches both,
    `alpha-data/out/*` and `alpha-data/*` do, `alpha-data/a/*` and `alpha-data/b/*` do not.
    Both files of an overlap are reported, each naming the other's file and line. A path
    with a wildcard in its bucket name (`alpha-*/x/*`) is SEC002's alone: it is reported
    there, on its own file, and is not blamed on the roles it happens to overlap.

    Bad:

        # environments/dev/roles/airflow_dev_example.yaml, while a prod role writes
        # alpha-my-bucket/*
        s3:
          read_write:
            - alpha-my-bucket/output/*

    Good:

        # environments/dev/roles/airflow_dev_example.yaml
        s3:
          read_write:
            - alpha-my-bucket-dev/output/*
    """
    if repo.role_writes is None:
        return
    others = [repo.role_writes.get(env, {}) for env in repo.environments if env != role.env]
    for access, pointer, path in s3_paths(role, WRITE_ACCESS):
        mine = normal_path(path)
        if has_wildcard(bucket_of(mine)):
            continue  # a wildcard in the bucket name is SEC002's, whatever it overlaps
        clashes = [grant for grant in _named(others, bucket_of(mine))
                   if globs_overlap(mine, normal_path(grant.s3_path))]
        if clashes:
            yield Finding(_clash_message(path, access, clashes), *position(role, pointer))


def _named(others: list[dict[str, tuple[WriteGrant, ...]]], bucket: str,
           ) -> Iterator[WriteGrant]:
    """The other envs' grants in ``bucket``; grants with a wildcard in their bucket name
    (filed under "*") are SEC002's on their own file, not an overlap blamed on this one."""
    for by_bucket in others:
        yield from by_bucket.get(bucket, ())


def _clash_message(path: str, access: str, clashes: list[WriteGrant]) -> str:
    first = clashes[0]
    env = first.role_path.split("/")[1] if first.role_path.count("/") > 1 else "another env"
    where = f"{first.role_path}:{first.line}" if first.line else first.role_path
    more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
    return (f"`{path}` (s3.{access}) overlaps `{first.s3_path}`, which "
            f"{where} (s3.{first.access}) lets {env} write{more}: environments "
            "must not write to the same places; give each its own bucket or prefix")


# -- SEC002 .. SEC004: where a role may write ---------------------------------------------


@rule("SEC002", "bucket-wildcard", Level.ERROR, Subject.ROLE)
def bucket_wildcard(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An S3 path has a wildcard in its bucket name (`*`, `*/*`, `alpha-*/x`).

    Why: iam_builder accepts it and grants access to every bucket whose name matches,
    other teams' and the platform's included. It is an error for write paths and a
    warning for read paths; `deny` paths may be as broad as they like.

    Bad:

        s3:
          read_write:
            - alpha-*/output/*

    Good:

        s3:
          read_write:
            - alpha-my-bucket/output/*
    """
    for access, pointer, path in s3_paths(role, READ_ACCESS + WRITE_ACCESS):
        bucket = bucket_of(normal_path(path))
        if has_wildcard(bucket):
            writes = access in WRITE_ACCESS
            verb = "read and write" if access == "read_write" else access.split("_")[0]
            yield Finding(
                f"`{path}` (s3.{access}) has a wildcard in its bucket name `{bucket}`: it lets "
                f"the role {verb} every bucket matching it, other teams' included. Name the "
                "bucket: `my-bucket/prefix/*`", *position(role, pointer),
                Level.ERROR if writes else Level.WARNING)


@rule("SEC003", "shared-bucket-write", Level.ERROR, Subject.ROLE)
def shared_bucket_write(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A write path covers a whole shared bucket or every user's area in it.

    Why: buckets such as alpha-everyone or mojap-athena-query-dump are shared by
    everyone, each user or team working in a top-level folder of its own
    (`alpha-everyone/<name>/`, `mojap-athena-query-dump/<user id>/`). A write path must stay
    inside one named folder: `alpha-everyone/*`, `alpha-everyone/team*/x/*` or
    `alpha-everyone/*/out/*` reach into other users' folders. Which folder belongs to whom
    cannot be told from the file, so a path under one named folder is trusted. The
    buckets are the `shared_buckets` setting (fnmatch patterns).

    Bad:

        s3:
          read_write:
            - alpha-everyone/*

    Good:

        s3:
          read_write:
            - alpha-everyone/my-project/*
    """
    shared = repo.settings.shared_buckets
    for access, pointer, path in s3_paths(role, WRITE_ACCESS):
        normal = normal_path(path)
        bucket, _, key = normal.partition("/")
        if has_wildcard(bucket) or "/" not in normal:
            continue  # a wildcard bucket is SEC002's, a bucket alone grants nothing (ROL014)
        pattern = _fnmatch_any(bucket, shared)
        top = key.split("/", 1)[0]
        if pattern and (has_wildcard(top) or not top):
            yield Finding(
                f"`{path}` (s3.{access}) writes across the shared bucket `{bucket}` (matches "
                f"shared_buckets `{pattern}`), into every user's folder: write only under a "
                f"folder of your own, e.g. `{bucket}/<your project>/*`", *position(role, pointer))


@rule("SEC004", "control-plane-write", Level.ERROR, Subject.ROLE)
def control_plane_write(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role can write to a bucket Airflow itself runs from.

    Why: the Airflow buckets (`mojap-airflow-dev`, `mojap-airflow-prod`) hold the DAG code,
    requirements and cluster configuration Airflow loads; a pipeline that can write there
    can change what every other pipeline runs. The buckets are the
    `control_plane_buckets` setting (fnmatch patterns). Athena's `dump_bucket` counts: the
    role writes query results there.

    Bad:

        s3:
          write_only:
            - mojap-airflow-dev/dags/*

    Good:

        s3:
          write_only:
            - alpha-my-bucket/dags-output/*
    """
    planes = repo.settings.control_plane_buckets
    for access, pointer, bucket in _written_buckets(role):
        pattern = None if bucket == "*" else _fnmatch_any(bucket, planes)  # `*` is SEC002's
        if pattern:
            yield Finding(
                f"{access} lets the role write to `{bucket}`, a bucket Airflow runs from "
                f"(control_plane_buckets `{pattern}`): pipelines must never write there; "
                "use a bucket of your own", *position(role, pointer))


def _written_buckets(role: RoleFacts) -> Iterator[tuple[str, str, str]]:
    """(where, pointer, bucket) of every bucket the role can write to."""
    for access, pointer, path in s3_paths(role, WRITE_ACCESS):
        if "/" in normal_path(path):
            yield f"`{path}` (s3.{access})", pointer, bucket_of(normal_path(path))
    athena = role.config.get("athena") if has_content(role) else None
    dump = athena.get("dump_bucket") if isinstance(athena, dict) else None
    if isinstance(dump, str):
        yield "athena.dump_bucket", "/athena/dump_bucket", dump.replace("_", "-")
    elif isinstance(dump, list):
        for pointer, bucket in string_entries(role, "/athena/dump_bucket"):
            yield "athena.dump_bucket", pointer, bucket.replace("_", "-")


# -- SEC005, SEC006: powerful grants ------------------------------------------------------


@rule("SEC005", "cadet-deployer", Level.ERROR, Subject.ROLE)
def cadet_deployer(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """`is_cadet_deployer` is set on a role that is not on the `cadet_roles` allowlist.

    Why: the flag gives full control of every Glue and Athena structure in the account;
    iam_builder's only guard is that the role name contains "cadet". Roles allowed it are
    listed by name in setup.cfg [validation] `cadet_roles`, after review.

    Bad:

        iam_role_name: airflow_dev_my_cadet_copy
        is_cadet_deployer: true

    Good:

        iam_role_name: airflow_dev_my_cadet_copy
        athena:
          write: true
    """
    if not has_content(role) or "is_cadet_deployer" not in role.config:
        return
    if role.name not in repo.settings.cadet_roles:
        yield Finding(
            f"`is_cadet_deployer` on `{role.name}`, which is not in cadet_roles (setup.cfg "
            "[validation]): the flag gives full control of Glue and Athena. Remove it, or ask "
            "Data Engineering to add the role to cadet_roles",
            *key_position(role, "/is_cadet_deployer"))


@rule("SEC006", "broad-grant", Level.ERROR, Subject.ROLE)
def broad_grant(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A `kms`, `secretsmanager.read_only` or `allowed_database_names` entry is `*` or nearly.

    Why: these entries are resource names where `*` matches anything: `*` grants every
    key, secret or database (an error). A name of one or two letters or digits before a
    `*` (`a*`, `key/ab*`), or with none at all, is nearly as broad (a warning).
    iam_builder appends `*` to each secret name, so the secret `"a"` grants every secret
    whose name starts with a.

    Bad:

        secretsmanager:
          read_only:
            - a
        allowed_database_names:
          - "*"

    Good:

        secretsmanager:
          read_only:
            - my-project/api-token
        allowed_database_names:
          - my_project_db
    """
    if not has_content(role):
        return
    for pointer, entry, pattern in _named_grants(role):
        if not has_wildcard(pattern):
            continue
        noun, fix = NOUNS[pointer.split("/")[1]]
        literal = re.split(r"[*?]", pattern, maxsplit=1)[0]
        where = f"{pointer.rsplit('/', 1)[0].lstrip('/').replace('/', '.')} entry {entry!r}"
        if not literal:
            yield Finding(f"{where} grants every {noun} in the account: {fix}",
                          *position(role, pointer))
        elif len(re.sub(r"[^A-Za-z0-9]", "", literal)) < MIN_NAME:
            yield Finding(
                f"{where} grants every {noun} whose name starts with {literal!r}: {fix}",
                *position(role, pointer), Level.WARNING)


NOUNS = {  # section -> (what it grants, how to name one)
    "kms": ("KMS key", "name the key by its ARN, ending key/<key id> or alias/<alias name>"),
    "secretsmanager": ("secret", "write the secret's full name (iam_builder appends `*`)"),
    "allowed_database_names": ("Glue database", "write the database's full name, or a "
                                                "prefix of 3 letters or more before `*`"),
}


def _named_grants(role: RoleFacts) -> Iterator[tuple[str, str, str]]:
    """(pointer, entry, the name pattern it grants) for the entries SEC006 looks at."""
    for pointer, entry in string_entries(role, "/kms"):
        name = re.sub(r"^arn:[^:]*:kms:[^:]*:[^:]*:(?:key/|alias/)?", "", entry.strip())
        yield pointer, entry, name
    for pointer, entry in string_entries(role, "/secretsmanager/read_only"):
        yield pointer, entry, entry.strip() + "*"  # iam_builder appends `*`
    for pointer, entry in string_entries(role, "/allowed_database_names"):
        yield pointer, entry, entry.strip()
