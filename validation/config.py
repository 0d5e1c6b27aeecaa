"""Configuration: the [validation] section of setup.cfg at the repository root.

Options given on the command line win over the file. A key the validator does not know
is an error that names it, so a typo never silently changes nothing.
"""

from __future__ import annotations

import configparser
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTION = "validation"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Config:
    environments: tuple[str, ...] = ("dev", "prod")
    dag_timeout: float = 30.0  # seconds per DAG file, as Airflow's dagbag_import_timeout
    jobs: int = 0  # worker processes importing DAG files; 0: one per CPU core
    imports_allowlist: frozenset[str] = frozenset()  # platform modules exempt from IMP001


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


def _jobs(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("a whole number, 0 for one per CPU core")
    return value


PARSERS: dict[str, Any] = {
    "environments": _environments,
    "dag_timeout": _positive_float,
    "jobs": _jobs,
    "imports_allowlist": lambda text: frozenset(_words(text)),
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
            raise ConfigError(f"{origin}: '{key} = {raw}' is not valid: {error}") from None
    return dataclasses.replace(config, **changes)
