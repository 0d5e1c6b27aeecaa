"""The Airflow metadata database DAG files see while they are imported, like the platform's.

On MWAA a DAG file is parsed next to a metadata database with every table, so code that
reads a pool at parse time (Airflow's own example_subdag_operator.py) works there; with
no tables it fails with raw SQL (``no such table: slot_pool``). The validator gives
Airflow the same tables, made by Airflow's own ``initdb``: the default pool, and no
Variables or Connections (a DAG that reads one at parse time fails, as it should: DAG001
says to read it at run time).

The database is made once per lock and reused by every run: a SQLite file in the user's
cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``mojap-airflow-validation/``),
never in the repository, named after the digest of the validator's lock
(``requirements-validation.txt`` beside the package; the installed Airflow's version
when there is none). A child Python process writes it under a temporary name, then it is
renamed into place, so runs that start together never see half a database. Workers open
it read-only (``mode=ro``): a DAG that writes a Variable at parse time cannot change
what the next run sees.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).resolve().parents[3] / "requirements-validation.txt"
CREATE_TIMEOUT_SECONDS = 300
# Run by the child: Airflow's own table creation (create_all and an alembic stamp on an
# empty database), the default pool included.
CREATE = "from airflow.utils.db import initdb; initdb()"


class MetadataError(Exception):
    """The metadata database could not be made (the message says why)."""


def cache_folder() -> Path:
    """The validator's folder in the user's cache: the signing key lives there too."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mojap-airflow-validation"


def lock_digest() -> str:
    """What the tables depend on: the validator's lock, else the installed Airflow."""
    try:
        data = LOCK.read_bytes()
    except OSError:
        data = f"apache-airflow=={metadata.version('apache-airflow')}".encode()
    return hashlib.sha256(data).hexdigest()


def metadata_db(folder: Path | None = None) -> Path:
    """The metadata database of the current lock in ``folder`` (default: cache_folder()),
    made first if it does not exist. Raises MetadataError when it cannot be made."""
    folder = folder or cache_folder()
    path = folder / f"metadata-{lock_digest()[:16]}.db"
    if path.is_file():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".metadata-") as scratch:
            made = _create(Path(scratch))
            os.chmod(made, 0o444)
            os.replace(made, path)  # atomic: another run's copy, if any, is as good
    except (OSError, subprocess.SubprocessError) as error:
        raise MetadataError(f"cannot create {path}: {error}") from error
    return path


def _create(scratch: Path) -> Path:
    database = scratch / "airflow.db"
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("AIRFLOW") and name != "PYTHONSTARTUP"}
    env.update({
        "AIRFLOW_HOME": str(scratch / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
        "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    result = subprocess.run([sys.executable, "-I", "-c", CREATE], env=env, cwd=scratch,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=CREATE_TIMEOUT_SECONDS, check=False)
    if result.returncode != 0 or not database.is_file():
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise MetadataError(f"Airflow's initdb failed: {lines[-1] if lines else result.returncode}")
    return database


def connection_url(path: Path) -> str:
    """SQLAlchemy's URL for ``path``, opened read-only."""
    return f"sqlite:///file:{path}?mode=ro&uri=true"
