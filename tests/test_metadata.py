"""The metadata database DAG files see while they are imported: Airflow's own tables, made
once per lock in the user's cache folder, read-only for the workers."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from validation.loaders.dag.metadata import cache_folder, connection_url, metadata_db

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return metadata_db(tmp_path_factory.mktemp("cache"))


def test_it_is_made_once_and_then_reused(made: Path) -> None:
    before = os.stat(made)
    again = metadata_db(made.parent)
    assert again == made
    after = os.stat(again)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(path.name for path in made.parent.iterdir()) == [made.name]  # no scratch left


def test_it_has_the_default_pool_and_no_variables_or_connections(made: Path) -> None:
    with sqlite3.connect(f"file:{made}?mode=ro", uri=True) as database:
        assert database.execute("select pool, slots from slot_pool").fetchall() == [
            ("default_pool", 128)]
        assert database.execute("select count(*) from variable").fetchone() == (0,)
        assert database.execute("select count(*) from connection").fetchone() == (0,)


def test_workers_open_it_read_only(made: Path) -> None:
    url = connection_url(made)
    assert url == f"sqlite:///file:{made}?mode=ro&uri=true"
    with sqlite3.connect(f"file:{made}?mode=ro", uri=True) as database:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            database.execute("insert into variable (key, val) values ('x', 'y')")


def test_it_lives_in_the_users_cache_never_in_the_repository(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "mojap-airflow-validation"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_folder() == Path.home() / ".cache" / "mojap-airflow-validation"
    assert REPO not in cache_folder().parents
