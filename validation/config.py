"""Configuration: the [validation] section of setup.cfg at the repository root.

Options given on the command line win over the file. A key the validator does not know
is an error that names it, so a typo never silently changes nothing.
"""

from __future__ import annotations

import configparser
import dataclasses
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validation.facts import LoadSettings, RuleSettings

SECTION = "validation"
COMMAND_LINE = "command line"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Config:
    # Loading settings (validation.facts.LoadSettings has the defaults and the meaning).
    environments: tuple[str, ...] = LoadSettings.environments
    dag_timeout: float = LoadSettings.timeout
    jobs: int = 0  # worker processes importing DAG files; 0: one per CPU core
    memory_limit_mb: int = LoadSettings.memory_limit_mb
    cpu_limit_seconds: float = LoadSettings.cpu_limit_seconds
    env_allowlist: tuple[str, ...] = LoadSettings.env_allowlist
    # Which rules run: rule ids or families (DAG, SEC ...). select replaces the default
    # set, extend_select adds to it, ignore removes from it.
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (glob, rule ids or families)
    # Settings the rules read (validation.facts.RuleSettings has the defaults).
    imports_allowlist: frozenset[str] = frozenset()
    shared_buckets: tuple[str, ...] = RuleSettings.shared_buckets
    control_plane_buckets: tuple[str, ...] = RuleSettings.control_plane_buckets
    cadet_roles: frozenset[str] = frozenset()
    image_registries: tuple[str, ...] = RuleSettings.image_registries
    slow_import_seconds: float = RuleSettings.slow_import_seconds

    def load_settings(self) -> LoadSettings:
        return LoadSettings(timeout=self.dag_timeout, memory_limit_mb=self.memory_limit_mb,
                            cpu_limit_seconds=self.cpu_limit_seconds,
                            env_allowlist=self.env_allowlist, environments=self.environments)

    def rule_settings(self) -> RuleSettings:
        return RuleSettings(
            imports_allowlist=self.imports_allowlist,
            shared_buckets=self.shared_buckets,
            control_plane_buckets=self.control_plane_buckets,
            cadet_roles=self.cadet_roles,
            image_registries=self.image_registries,
            slow_import_seconds=self.slow_import_seconds,
        )


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", text) if word]


def _environments(text: str) -> tuple[str, ...]:
    names = tuple(_words(text))
    if not names or not all(re.fullmatch(r"[a-z0-9_]+", name) for name in names):
        raise ValueError("a list of lowercase names such as 'dev, prod'")
    return names


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("a number of seconds above 0")
    return value


def _seconds_or_zero(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("a number of seconds, 0 (no limit) or more")
    return value


def _whole(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("a whole number, 0 or more")
    return value


def _rule_codes(text: str) -> tuple[str, ...]:
    """Rule ids (DAG006) or families (DAG); an unknown one is an error naming it."""
    from validation.registry import all_rules

    rules = all_rules()
    families = {rule.family for rule in rules.values()}
    codes = tuple(word.upper() for word in _words(text))
    for code in codes:
        if code not in rules and code not in families:
            raise ValueError(f"unknown rule '{code}' (see python -m validation --list-rules)")
    return codes


def _per_file_ignores(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Lines of ``glob: RULE, RULE``, as flake8's per-file-ignores."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        pattern, colon, codes = line.strip().rpartition(":")
        if not colon or not pattern.strip() or not codes.strip():
            raise ValueError(f"'{line.strip()}' is not 'GLOB: RULE, RULE'")
        entries.append((pattern.strip(), _rule_codes(codes)))
    return tuple(entries)


PARSERS: dict[str, Any] = {
    "environments": _environments,
    "dag_timeout": _positive_float,
    "jobs": _whole,
    "memory_limit_mb": _whole,
    "cpu_limit_seconds": _seconds_or_zero,
    "env_allowlist": lambda text: tuple(_words(text)),
    "select": _rule_codes,
    "extend_select": _rule_codes,
    "ignore": _rule_codes,
    "per_file_ignores": _per_file_ignores,
    "imports_allowlist": lambda text: frozenset(_words(text)),
    "shared_buckets": lambda text: tuple(_words(text)),
    "control_plane_buckets": lambda text: tuple(_words(text)),
    "cadet_roles": lambda text: frozenset(_words(text)),
    "image_registries": lambda text: tuple(_words(text)),
    "slow_import_seconds": _positive_float,
}


def load_config(root: Path) -> Config:
    """The configuration in ``root/setup.cfg``, or the defaults where it says nothing."""
    parser = configparser.ConfigParser(interpolation=None)
    path = root / "setup.cfg"
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(f"{path.name}: cannot be read: {error}") from None
    if not parser.has_section(SECTION):
        return Config()
    return with_values(Config(), dict(parser.items(SECTION)), f"{path.name} [{SECTION}]")


def with_values(config: Config, values: dict[str, str], origin: str) -> Config:
    """``config`` with the given raw values parsed and applied."""
    changes = {}
    for key, raw in values.items():
        if key not in PARSERS:
            known = ", ".join(sorted(PARSERS))
            raise ConfigError(f"{origin}: unknown key '{key}' (known keys: {known})")
        try:
            changes[key] = PARSERS[key](raw)
        except ValueError as error:
            given = f"--{key.replace('_', '-')} {raw}" if origin == COMMAND_LINE else \
                f"{key} = {raw}"
            raise ConfigError(f"{origin}: '{given}' is not valid: {error}") from None
    return dataclasses.replace(config, **changes)


def enabled_rules(config: Config) -> frozenset[str]:
    """The ids of the rules that run: the defaults, or ``select``, plus ``extend_select``,
    minus ``ignore``. A family (``DAG``) selects its default rules; opt-in rules such as
    DAG022 are selected by id. A family in ``ignore`` removes all of its rules."""
    from validation.registry import all_rules

    rules = all_rules()

    def expand(codes: tuple[str, ...], opt_in: bool) -> set[str]:
        return {rule_id for rule_id, rule in rules.items()
                if rule_id in codes or (rule.family in codes and (rule.default or opt_in))}

    start = {rule_id for rule_id, rule in rules.items() if rule.default}
    if config.select is not None:
        start = expand(config.select, False)
    return frozenset((start | expand(config.extend_select, False)) - expand(config.ignore, True))


def with_command_line_selection(config: Config, select: str | None, extend_select: str | None,
                                ignore: str | None) -> Config:
    """The file's selection with the command line's on top: ``--select`` replaces what the
    file selected and ignored, ``--extend-select`` and ``--ignore`` add to it."""
    if select is None and extend_select is None and ignore is None:
        return config
    base = dataclasses.replace(config, select=tuple(sorted(enabled_rules(config))),
                               extend_select=(), ignore=())
    values = {key: value for key, value in (("select", select), ("extend_select", extend_select),
                                            ("ignore", ignore)) if value is not None}
    return with_values(base, values, COMMAND_LINE)


def ignored_in(config: Config, path: str) -> frozenset[str]:
    """Rule ids that ``per_file_ignores`` turns off for the repo-relative ``path``."""
    from validation.registry import all_rules

    codes = {code for pattern, codes in config.per_file_ignores
             if fnmatch.fnmatchcase(path, pattern) for code in codes}
    return frozenset(rule_id for rule_id, rule in all_rules().items()
                     if rule_id in codes or rule.family in codes)
