"""Rules for role files, environments/<env>/roles/<name>.yaml (RoleFacts).

A role file is an iam_builder config. ROL001/ROL002 say when it is no YAML mapping at all;
the content rules (ROL003, ROL007-ROL010) then stay quiet. ROL004-ROL006 are about the file
name, which becomes the IAM role's name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator

from validation.facts import RepoFacts, RoleFacts
from validation.problems import Finding, Fix, Level
from validation.registry import Reads, Subject, rule
from validation.rules import mends
from validation.rules.role_nodes import (
    dotted,
    has_content,
    key_position,
    position,
    schema_flags,
    segments,
)

AWS_ROLE_NAME_LIMIT = 64
NAME_TAIL = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
SECRETS_VALUES = ("true", "false", "read", "readwrite")
TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "array of string": "a list of strings",
}
TYPE_FIXES = {
    "object": "indent its keys under it, or remove it",
    "array": "write each entry on its own line, starting with `- `",
    "boolean": "write true or false, without quotes",
    "string": "put the value in quotes",
    "integer": "write a whole number, without quotes",
}
YAML_KINDS = frozenset(
    ("ScannerError", "ParserError", "ComposerError", "ConstructorError", "ReaderError",
     "DocumentError", "RecursionError"))
YAML_HINTS = (
    ("'\\t'", "YAML does not allow tabs: indent with spaces"),
    ("expected <block end>", "check this line's indentation against the lines above it"),
    ("could not find expected ':'", "a key lacks its `:`, or a line is indented wrongly"),
    ("mapping values are not allowed", "check the indentation, or quote a value with ': '"),
    ("constructor for the tag", "tags such as !!python/object are not allowed: write plain values"),
    ("single document", "a role file holds one document: remove the extra `---`"),
    ("through aliases", "write the values out instead of using anchors and aliases"),
    ("contains it", "write the values out instead of using anchors and aliases"),
    ("levels deep", "write the lists and mappings as indented blocks"),
)


# -- ROL001, ROL002: is it a YAML mapping at all ------------------------------------------


@rule("ROL001", "yaml-syntax", Level.ERROR, Subject.ROLE)
def yaml_syntax(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role file cannot be read as YAML.

    Why: iam_builder cannot read the file, so the role gets no policy at deploy time.

    Bad:

        s3:
          read_only:
           - alpha-my-bucket/*
           write_only: - alpha-my-bucket/out/*

    Good:

        s3:
          read_only:
            - alpha-my-bucket/*
          write_only:
            - alpha-my-bucket/out/*
    """
    error = role.yaml_error
    if error is None:
        return
    hints = [hint for needle, hint in YAML_HINTS if needle in error.message]
    if error.kind == "UnicodeDecodeError":
        hints = ["save the file as UTF-8"]
    prefix = "invalid YAML: " if error.kind in YAML_KINDS else ""
    message = prefix + error.message + (f" ({hints[0]})" if hints else "")
    yield Finding(message, error.line or 1, error.column or 1)


@rule("ROL002", "not-a-mapping", Level.ERROR, Subject.ROLE)
def not_a_mapping(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role file is empty, or its top level is a list or a single value, not a mapping.

    Why: iam_builder reads a role file as a mapping of settings (iam_role_name, s3, ...);
    anything else fails its schema and the role gets no policy.

    Bad:

        - iam_role_name: airflow_dev_example
        - s3:
            read_only:
              - alpha-my-bucket/*

    Good:

        iam_role_name: airflow_dev_example
        s3:
          read_only:
            - alpha-my-bucket/*
    """
    if role.yaml_error is not None or isinstance(role.config, dict):
        return
    keys = "iam_role_name, s3, athena, ..."
    if role.config is None:
        message = f"the file is empty: a role file is a YAML mapping of settings ({keys})"
    elif isinstance(role.config, list):
        message = (f"the top level is a list, but a role file must be a mapping of settings "
                   f"({keys}): remove the leading `- ` and unindent")
    else:
        message = (f"the top level is a single value ({role.config!r:.60}), but a role file "
                   f"must be a mapping of settings ({keys})")
    yield Finding(message, *role.positions.get("", (1, 1)))


# -- ROL003: what iam_builder rejects -----------------------------------------------------


@rule("ROL003", "iam-builder-rejects", Level.ERROR, Subject.ROLE)
def iam_builder_rejects(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """iam_builder's schema or policy builder rejects the role file.

    Why: iam_builder builds the role's policy at deploy time, so a config it rejects (an
    unknown key, a wrong type, a bad database name, an exception) fails the deployment;
    iam_builder stops at the first problem, this reports each one at its node.

    Fix: `--fix` renames an unknown key that is close to exactly one allowed key
    (`read_wirte` becomes `read_write`) when the mapping does not have that key already.

    Bad:

        iam_role: airflow_dev_example
        athena:
          read: true
        s3:
          read_only: alpha-my-bucket/*

    Good:

        iam_role_name: airflow_dev_example
        athena:
          write: false
        s3:
          read_only:
            - alpha-my-bucket/*
    """
    if not has_content(role):
        return
    for pointer, keyword, detail, expected in _schema_errors(role):
        explain, at_key = SCHEMA_MESSAGES.get(keyword, (_other_message, False))
        line, column = key_position(role, pointer) if at_key else position(role, pointer)
        fix = _key_fix(role, pointer, detail, expected) \
            if keyword == "additionalProperties" else None
        yield Finding(explain(role, pointer, detail, expected), line, column, fix=fix)
    error = role.build_error
    if error is not None:
        yield Finding(
            f"iam_builder cannot build a policy from this file: {error.kind}: {error.message}",
            error.line or 1, error.column or 1)


def _schema_errors(role: RoleFacts) -> list[tuple[str, str, str, list[str]]]:
    """The schema errors, less a missing key where an unknown one stands instead of it."""
    unknown_in = {error[0].rsplit("/", 1)[0] for error in role.schema_errors
                  if error[1] == "additionalProperties"}
    return [error for error in role.schema_errors
            if not (error[1] == "required" and error[0] in unknown_in)]


def _unknown_key(role: RoleFacts, pointer: str, key: str, allowed: list[str]) -> str:
    parent = pointer.rsplit("/", 1)[0]
    place = f"in `{dotted(role, parent)}`" if parent else "at the top level"
    close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
    if close:
        hint = f": did you mean `{close[0]}`?"
    else:
        sections = role.sections_with_key.get(key, []) if not parent else []
        hint = f": it belongs under `{':` or `'.join(sections)}:`" if sections else ""
    return f"unknown key `{key}` {place}{hint} (allowed here: {', '.join(allowed)})"


def _key_fix(role: RoleFacts, pointer: str, key: str, allowed: list[str]) -> Fix | None:
    """Rename the unknown key to the one allowed key close to it."""
    close = difflib.get_close_matches(key.lower(), allowed, n=len(allowed) or 1, cutoff=0.6)
    parent: object = role.config
    for segment in segments(pointer)[:-1]:
        parent = parent.get(segment) if isinstance(parent, dict) else None
    if len(close) != 1 or not isinstance(parent, dict) or close[0] in parent:
        return None
    return mends.fix(f"rename `{key}` to `{close[0]}`",
                     mends.yaml_scalar(role, pointer + "#key", close[0]))


def _wrong_type(role: RoleFacts, pointer: str, found: str, expected: list[str]) -> str:
    wanted = " or ".join(TYPE_WORDS.get(kind, kind) for kind in expected)
    fix = TYPE_FIXES.get(expected[0], "") if expected else ""
    return f"`{dotted(role, pointer)}` must be {wanted}, not {found}" + (f": {fix}" if fix else "")


def _one_of(role: RoleFacts, pointer: str, found: str, expected: list[str]) -> str:
    wanted = " or ".join(TYPE_WORDS.get(shape, shape) for shape in expected)
    return f"`{dotted(role, pointer)}` must be {wanted}, not {found}"


def _missing_key(role: RoleFacts, pointer: str, key: str, expected: list[str]) -> str:
    where = dotted(role, pointer)
    return (f"`{where}` must contain `{key}` (iam_builder supports nothing else here and "
            f"crashes without it): add `{key}:` with a list under `{where}`")


def _bad_pattern(role: RoleFacts, pointer: str, value: str, expected: list[str]) -> str:
    where = dotted(role, pointer)
    if "allowed_database_names" in pointer:
        return (f"database name {value!r} at `{where}` has characters iam_builder rejects: "
                "use only letters, digits, underscores, asterisks and spaces")
    return f"`{where}` ({value!r}) does not match the pattern {expected[0] if expected else ''}"


def _cadet(role: RoleFacts, pointer: str, name: str, expected: list[str]) -> str:
    return (f"`is_cadet_deployer` is only for CaDeT deployment roles and iam_builder refuses "
            f"it on `{name}` (its name does not contain 'cadet'): remove the key")


def _other_message(role: RoleFacts, pointer: str, detail: str, expected: list[str]) -> str:
    return f"`{dotted(role, pointer)}`: {detail}"


Explain = Callable[[RoleFacts, str, str, list[str]], str]
# schema keyword -> (message, whether the finding points at the key rather than its value)
SCHEMA_MESSAGES: dict[str, tuple[Explain, bool]] = {
    "additionalProperties": (_unknown_key, True),
    "type": (_wrong_type, False),
    "oneOf": (_one_of, False),
    "anyOf": (_one_of, False),
    "required": (_missing_key, True),
    "pattern": (_bad_pattern, False),
    "cadet": (_cadet, True),
}


# -- ROL004 .. ROL007: the role's name ----------------------------------------------------


def _prefix(env: str) -> str:
    return f"airflow_{env}_"


def _valid_stem(stem: str, env: str, repo: RepoFacts) -> bool:
    prefix = _prefix(env)
    return (env in repo.environments and stem.startswith(prefix)
            and NAME_TAIL.fullmatch(stem[len(prefix):]) is not None
            and len(stem) <= AWS_ROLE_NAME_LIMIT)


def _suggested_stem(stem: str, env: str, repo: RepoFacts) -> str:
    """The closest valid name: lowercase words joined by "_", behind the env's prefix."""
    tail = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    for prefix in sorted({_prefix(name) for name in (*repo.environments, env)}, key=len)[::-1]:
        if tail.startswith(prefix):
            tail = tail[len(prefix):]
            break
    else:
        tail = tail.removeprefix("airflow_")
    return _prefix(env) + (tail or "role")


@rule("ROL004", "role-file-prefix", Level.ERROR, Subject.ROLE)
def role_file_prefix(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role file's name does not start with `airflow_<env>_` for the env of its folder.

    Why: the file name is the IAM role's name, and the platform expects every Airflow role
    to say which environment it belongs to; a dev role must not be deployed as a prod one.

    Bad:

        # environments/dev/roles/airflow_prod_example.yaml
        iam_role_name: airflow_prod_example

    Good:

        # environments/dev/roles/airflow_dev_example.yaml
        iam_role_name: airflow_dev_example
    """
    if not role.name.startswith(_prefix(role.env)):
        yield Finding(
            f"role file name `{role.name}` must start with `{_prefix(role.env)}` (the "
            f"environment of its folder): rename the file to "
            f"{_suggested_stem(role.name, role.env, repo)}.yaml", 1, 1)


@rule("ROL005", "role-name-format", Level.ERROR, Subject.ROLE)
def role_name_format(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role file's name is not lowercase words of letters and digits joined by `_`.

    Why: the file name becomes the IAM role's name and is matched by the platform's
    tooling as `^airflow_(dev|prod)_[a-z0-9]+(_[a-z0-9]+)*$`.

    Bad:

        # environments/dev/roles/airflow_dev_My-Role.yaml
        iam_role_name: airflow_dev_My-Role

    Good:

        # environments/dev/roles/airflow_dev_my_role.yaml
        iam_role_name: airflow_dev_my_role
    """
    prefix = _prefix(role.env)
    if role.env not in repo.environments or not role.name.startswith(prefix):
        return  # an unknown env is STR002's, a wrong prefix ROL004's
    if NAME_TAIL.fullmatch(role.name[len(prefix):]) is None:
        yield Finding(
            f"role name `{role.name}` must be `{prefix}` followed by lowercase letters and "
            f"digits, in words joined by single underscores: rename the file to "
            f"{_suggested_stem(role.name, role.env, repo)}.yaml", 1, 1)


@rule("ROL006", "role-name-too-long", Level.ERROR, Subject.ROLE)
def role_name_too_long(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The role file's name is longer than 64 characters.

    Why: the file name becomes the IAM role's name, and AWS rejects role names longer
    than 64 characters, so the role cannot be created.

    Bad:

        # airflow_dev_nightly_extract_of_the_case_management_system_to_the_lake.yaml
        iam_role_name: airflow_dev_nightly_extract_of_the_case_management_system_to_the_lake

    Good:

        # airflow_dev_nightly_case_management_extract.yaml
        iam_role_name: airflow_dev_nightly_case_management_extract
    """
    excess = len(role.name) - AWS_ROLE_NAME_LIMIT
    if excess > 0:
        yield Finding(
            f"role name `{role.name}` is {len(role.name)} characters long, over AWS's limit "
            f"of {AWS_ROLE_NAME_LIMIT} for role names: shorten it by {excess}", 1, 1)


@rule("ROL007", "iam-role-name-mismatch", Level.ERROR, Subject.ROLE,
      reads=[Reads.ROLE_USERS])
def iam_role_name_mismatch(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """`iam_role_name` is set and differs from the role file's name.

    Why: the role is created under the file's name; an `iam_role_name` that says otherwise
    names another role in the policy (Glue pass-role, secrets paths), which then fails.

    Fix: when the file's name is a valid role name and the DAGs use it (or
    `iam_role_name` is no valid role name, so no DAG can), `--fix` sets `iam_role_name`
    to the file's name. Renaming the file is left to you.

    Bad:

        # environments/dev/roles/airflow_dev_example.yaml
        iam_role_name: airflow_dev_other

    Good:

        # environments/dev/roles/airflow_dev_example.yaml
        iam_role_name: airflow_dev_example
    """
    name = role.config.get("iam_role_name") if has_content(role) else None
    if not isinstance(name, str) or name == role.name or schema_flags(role, "/iam_role_name"):
        return  # a value of the wrong type is ROL003's
    fix = _name_fix(name, role, repo)
    yield Finding(f"iam_role_name `{name}` does not match the file name `{role.name}`: {fix}",
                  *position(role, "/iam_role_name"), fix=_set_name_fix(name, role, repo))


def _set_name_fix(name: str, role: RoleFacts, repo: RepoFacts) -> Fix | None:
    """Set iam_role_name to the file's name when that is the one right mend: the file's
    name is valid and either the env's code uses it and not the other name, or the other
    name is no valid role name (no DAG can use it). Otherwise renaming the file may be
    the mend, and choosing is the user's."""
    if not _valid_stem(role.name, role.env, repo):
        return None
    users = (repo.role_users or {}).get(role.env)
    undecided = (repo.role_undecided or {}).get(role.env)
    # Proven: a DAG uses the file's name and none can use the other (no file undecided).
    used = users is not None and not undecided and role.name in users and name not in users
    if _valid_stem(name, role.env, repo) and not used:
        return None
    return mends.fix(f"set iam_role_name to `{role.name}`",
                     mends.yaml_scalar(role, "/iam_role_name", role.name))


def _name_fix(name: str, role: RoleFacts, repo: RepoFacts) -> str:
    """How to make iam_role_name and the file name agree, on a name that passes ROL004-6."""
    name_ok = _valid_stem(name, role.env, repo)
    if _valid_stem(role.name, role.env, repo):
        fix = f"set iam_role_name: {role.name}"
        return f"rename the file to {name}.yaml or {fix}" if name_ok else fix
    if name_ok:
        return f"rename the file to {name}.yaml"
    stem = _suggested_stem(role.name, role.env, repo)
    return f"rename the file to {stem}.yaml and set iam_role_name: {stem}"


# -- ROL008 .. ROL010: what iam_builder lets through --------------------------------------


@rule("ROL008", "iam-role-name-required", Level.ERROR, Subject.ROLE)
def iam_role_name_required(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """`glue_job: true`, `secrets` or `is_cadet_deployer` is set without `iam_role_name`.

    Why: iam_builder needs the role's own name for these settings (to let the role pass
    itself to Glue, to scope its secrets) and crashes with a bare KeyError without it.

    Bad:

        glue_job: true

    Good:

        iam_role_name: airflow_dev_example
        glue_job: true
    """
    if not has_content(role) or "iam_role_name" in role.config:
        return
    needing = [key for key, value in role.config.items()
               if _needs_role_name(key, value) and not schema_flags(role, f"/{key}")]
    if needing:
        settings = ", ".join(f"`{key}: {_scalar(role.config[key])}`" for key in needing)
        yield Finding(
            f"{settings} {'need' if len(needing) > 1 else 'needs'} `iam_role_name` "
            "(iam_builder crashes with a KeyError "
            f"without it): add `iam_role_name: {role.name}`",
            *key_position(role, f"/{needing[0]}"))


def _needs_role_name(key: str, value: object) -> bool:
    """What makes build_iam_policy read config["iam_role_name"]."""
    if key == "secrets":
        return value is True or isinstance(value, str)
    return (key == "glue_job" and value is True) or key == "is_cadet_deployer"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@rule("ROL009", "secrets-value", Level.ERROR, Subject.ROLE)
def secrets_value(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """`secrets` is a string other than `read` or `readwrite`.

    Why: iam_builder grants read access to the role's secrets for any string at all, so a
    typo such as `read_write` or a quoted `"false"` silently grants something else.

    Bad:

        iam_role_name: airflow_dev_example
        secrets: read_write

    Good:

        iam_role_name: airflow_dev_example
        secrets: readwrite
    """
    value = role.config.get("secrets") if has_content(role) else None
    if not isinstance(value, str) or value in SECRETS_VALUES[2:] or schema_flags(role, "/secrets"):
        return  # a value of the wrong type is ROL003's
    close = difflib.get_close_matches(value.lower(), SECRETS_VALUES, n=1, cutoff=0.6)
    hint = f" Did you mean `secrets: {close[0]}`?" if close else ""
    yield Finding(
        f"`secrets: {value!r}` is not one of {', '.join(SECRETS_VALUES)}: iam_builder grants "
        f"read access for any string there.{hint} Use true or read for read access, readwrite "
        "for read and write, false for none (true and false without quotes)",
        *position(role, "/secrets"))


@rule("ROL010", "duplicate-key", Level.ERROR, Subject.ROLE)
def duplicate_key(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A key appears twice in the same mapping.

    Why: YAML loaders keep only the last value and drop the first without a word, so half
    of what the file seems to grant is silently ignored.

    Bad:

        s3:
          read_only:
            - alpha-my-bucket/in/*
          read_only:
            - alpha-my-bucket/lookup/*

    Good:

        s3:
          read_only:
            - alpha-my-bucket/in/*
            - alpha-my-bucket/lookup/*
    """
    if not has_content(role):
        return
    for pointer, line, column, first_line in role.duplicate_keys:
        parent, key = pointer.rsplit("/", 1)
        place = f"in `{dotted(role, parent)}`" if parent else "at the top level"
        yield Finding(
            f"duplicate key `{segments('/' + key)[0]}` {place} (first at line {first_line}): "
            "YAML keeps only the last value and drops the first, so merge the two",
            line, column)
