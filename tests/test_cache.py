"""The content cache (validation.cache.store) with real files, the real Airflow and iam_builder.

Every test works on a copy of a fixture repository in tmp_path, with the cache and its
signing key in tmp_path too: nothing is written into tests/fixtures or the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from validation.cache.store import FactCache, open_cache
from validation.config import Config
from validation.facts import LoadSettings
from validation.problems import Report
from validation.run.runner import run

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DAGREPO = TESTS / "fixtures" / "dagrepo"
# Files that take seconds (a time limit, a memory limit) add nothing the others do not.
SLOW = ("hangs.py", "hangs_ignoring_alarm.py", "eats_memory.py", "maps_memory.py")
CONFIG = Config(dag_timeout=5.0)
USES_IMPORTS = "environments/dev/dags/cases/uses_imports.py"
KILLED = "environments/dev/dags/crashes/kills_itself.py"
WRONG_ID = "environments/dev/dags/cases/wrong_dag_id.py"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(DAGREPO, root, ignore=shutil.ignore_patterns(*SLOW))
    (root / MISSING_MODULE).write_text("from imports.not_yet import OWNER  # noqa: DAG001\n")
    return root


MISSING_MODULE = "environments/dev/dags/cases/missing_module.py"


def _store(root: Path, config: Config, cache: Path | None = None,
           key: Path | None = None) -> Any:
    """The content cache as the CLI opens it (None: no key, or a symlinked folder)."""
    return open_cache(cache or root.parent / "cache", root, config.load_settings(),
                      key or root.parent / "key")


def _run(root: Path, *, jobs: int = 0, cache: bool = True) -> tuple[Report, Any]:
    config = Config(dag_timeout=CONFIG.dag_timeout, jobs=jobs)
    store = _store(root, config) if cache else None
    return run(root, [], everything=True, config=config, cwd=root, store=store), store


def _cached(report: Report) -> dict[str, bool]:
    return {timing.path: timing.cached for timing in report.timings}


def test_results_are_the_same_cold_warm_and_with_any_number_of_workers(repo: Path) -> None:
    cold, loading = _run(repo, jobs=2)
    assert loading.hits == 0 and loading.misses > 50
    warm, loading = _run(repo, jobs=1)
    plain_1, _ = _run(repo, jobs=1, cache=False)
    plain_2, _ = _run(repo, jobs=2, cache=False)
    assert cold.problems == warm.problems == plain_1.problems == plain_2.problems
    # a worker killed mid-run is blamed, and the files after it still checked
    assert [p.rule for p in cold.problems if p.path == KILLED] == ["DAG002"]
    assert "environments/dev/dags/crashes/zz_after_crashes.py" in _cached(warm)
    # crashes and import errors that may depend on a missing file are loaded every time
    loaded_again = sorted(path for path, cached in _cached(warm).items() if not cached)
    assert KILLED in loaded_again
    assert MISSING_MODULE in loaded_again
    assert WRONG_ID not in loaded_again and USES_IMPORTS not in loaded_again
    # each missing file misses twice: its problems, then its facts
    assert loading.hits > 50 and loading.misses == 2 * len(loaded_again)


def test_a_changed_dag_file_is_imported_again(repo: Path) -> None:
    before, _ = _run(repo)
    path = repo / WRONG_ID
    path.write_text(path.read_text().replace('"cases_wrong"', '"cases.wrong_dag_id"'))
    after, _ = _run(repo)
    assert not _cached(after)[WRONG_ID]
    assert [p for p in before.problems if p.path != WRONG_ID] == after.problems
    assert "environments/dev/dags/cases/two_dags.py" in _cached(after)
    assert _cached(after)["environments/dev/dags/cases/two_dags.py"]


def test_a_changed_imports_module_invalidates_the_dags_that_imported_it(repo: Path) -> None:
    _run(repo)
    helpers = repo / "imports" / "cases_helpers.py"
    helpers.write_text(helpers.read_text() + "\nEXTRA = 1\n")
    after, loading = _run(repo)
    cached = _cached(after)
    assert not cached[USES_IMPORTS]
    assert cached[WRONG_ID]  # it imports nothing of the repository


def test_a_new_imports_module_invalidates_every_dag(repo: Path) -> None:
    _run(repo)
    (repo / "imports" / "brand_new.py").write_text("VALUE = 1\n")
    after, _ = _run(repo)
    assert not any(_cached(after).values())


def test_a_changed_lock_file_invalidates_everything(repo: Path) -> None:
    _run(repo)
    (repo / "requirements-validation.txt").write_text("apache-airflow==2.4.3\n")
    after, loading = _run(repo)
    assert not any(_cached(after).values())
    assert loading.hits == 0
    again, loading = _run(repo)
    assert loading.hits > 50 and again.problems == after.problems


def test_problems_follow_the_repository_without_importing_again(repo: Path) -> None:
    """The problems of a file depend on the other files (DAG007 on the role files): a new
    role file changes them, from the cached facts."""
    missing_role = "environments/dev/dags/cases/role_missing.py"
    before, _ = _run(repo)
    assert [p.rule for p in before.problems if p.path == missing_role] == ["DAG007"]
    role = repo / "environments" / "dev" / "roles"
    (role / "airflow_dev_cases_typo.yaml").write_text(
        (role / "airflow_dev_cases.yaml").read_text().replace("airflow_dev_cases",
                                                              "airflow_dev_cases_typo"))
    after, _ = _run(repo)
    assert [p.rule for p in after.problems if p.path == missing_role] == []
    assert _cached(after)[missing_role]  # facts from the cache: not imported again


def test_a_changed_role_file_is_loaded_again(repo: Path) -> None:
    _run(repo)
    _, unchanged = _run(repo)
    role = repo / "environments" / "dev" / "roles" / "airflow_dev_clean.yaml"
    role.write_text(role.read_text() + "\nnot_a_key: 1\n")
    after, changed = _run(repo)
    assert [p.rule for p in after.problems if p.path.endswith("airflow_dev_clean.yaml")]
    assert changed.misses == unchanged.misses + 2  # its problems and facts


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def test_corrupt_or_forged_entries_are_ignored_and_rebuilt(repo: Path) -> None:
    cold, _ = _run(repo)
    entries = _entries(repo.parent / "cache")
    assert len(entries) > 50
    key = bytes.fromhex((repo.parent / "key").read_text())
    signed = FactCache(repo.parent / "cache", repo, LoadSettings(timeout=1.0),
                       key)  # signs, but another context
    by_kind: dict[str, list[tuple[Path, bytes, dict[str, Any]]]] = {}
    for path in entries:
        mac, body = path.read_bytes().split(b"\n", 1)
        entry = json.loads(body)
        by_kind.setdefault(entry["kind"], []).append((path, mac, entry))
    # the problems stored for a file that has some, and the facts of a DAG file
    _, problems_mac, problems = next(found for found in by_kind["dag-problems"]
                                     if found[2]["value"]["problems"])
    _, mac, entry = by_kind["dag"][0]
    forged = dict(entry, value=dict(entry["value"], dags=[]))  # a DAG file with no DAG
    wrong_shape = dict(entry, value=dict(entry["value"], extra=1))
    hidden = dict(problems, value=dict(problems["value"], problems=[]))
    damage = [
        b"",  # empty
        entries[1].read_bytes()[:100],  # truncated
        b"\x00\xff" * 50,  # not text
        b"{}",  # JSON, unsigned
        mac + b"\n" + json.dumps(forged).encode(),  # changed after signing
        problems_mac + b"\n" + json.dumps(hidden).encode(),  # problems hidden
        b"0" * 64 + b"\n" + json.dumps(forged).encode(),  # a made-up signature
        _signed(key, wrong_shape),  # signed with the right key, but not facts
        _signed(key, dict(entry, path="environments/dev/dags/cases/other.py")),
        _signed(key, dict(entry, context=signed.context)),
        _signed(key, b"[" * 100_000 + b"]" * 100_000),  # too deep for the json module
    ]
    # every problems entry is damaged, so that the damaged facts are read too
    targets = [path for path, _, _ in by_kind["dag"]]
    for path, _, _ in by_kind["dag-problems"]:
        path.write_bytes(b"")
    for target, data in zip(targets, damage):
        target.write_bytes(data)
    entries = targets
    entries[len(damage)].unlink()
    entries[len(damage)].mkdir()  # unreadable: a folder where the entry should be
    after, loading = _run(repo)
    assert after.problems == cold.problems
    assert loading.misses >= len(damage)
    again, loading = _run(repo)  # the damaged entries were rewritten
    assert again.problems == cold.problems
    # Each DAG file loaded again misses its problems and its facts, once each: the roles
    # its tasks use (ROL016) are asked of this run's facts, not of the store again.
    assert loading.misses == 2 * sum(not cached for cached in _cached(again).values())


def _signed(key: bytes, entry: object) -> bytes:
    import hashlib
    import hmac

    body = entry if isinstance(entry, bytes) else json.dumps(entry).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body


def test_without_a_signing_key_the_run_goes_without_cache(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = _store(repo, CONFIG, tmp_path / "cache", tmp_path / "file" / "key")
    report = run(repo, [WRONG_ID], everything=False, config=CONFIG, cwd=repo, store=store)
    assert [p.rule for p in report.problems] == ["DAG005"]
    assert store is None and not (tmp_path / "cache").exists()


# -- the command line, in a subprocess ------------------------------------------------------


def _example_repo(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    for name in ("environments", "imports"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "requirements-validation.txt", root)
    return root


def _cli(root: Path, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(REPO)}
    env.pop("VALIDATION_NO_CACHE", None)
    return subprocess.run([sys.executable, *argv], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_warm_run_does_not_import_airflow(tmp_path: Path) -> None:
    root = _example_repo(tmp_path)
    cold = _cli(root, tmp_path, "-W", "ignore", "-m", "validation", "--all", "--timings")
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert "0 from the cache" in cold.stderr
    cache = root / ".validation_cache"
    assert (cache / ".gitignore").read_text() == "*\n" and _entries(cache)
    warm = _cli(root, tmp_path, "-X", "importtime", "-W", "ignore", "-m", "validation",
                "--all", "--format", "json")
    assert warm.returncode == 0
    assert json.loads(warm.stdout)["problems"] == []
    imported = [line.split("|")[-1].strip() for line in warm.stderr.splitlines()
                if line.startswith("import time:")]
    assert "validation.run.runner" in imported
    assert not [name for name in imported if name.split(".")[0] in ("airflow", "iam_builder")]


def test_no_cache_reads_and_writes_nothing(tmp_path: Path) -> None:
    root = _example_repo(tmp_path)
    result = _cli(root, tmp_path, "-W", "ignore", "-m", "validation", "--all", "--no-cache")
    assert result.returncode == 0
    folder = tmp_path / "xdg" / "mojap-airflow-validation"
    assert not (root / ".validation_cache").exists() and not (folder / "cache-key").exists()
    # The metadata database is Airflow's environment, not a cache of results: made anyway.
    assert [path.name.startswith("metadata-") for path in folder.iterdir()] == [True]
    other = tmp_path / "elsewhere"
    result = _cli(root, tmp_path, "-W", "ignore", "-m", "validation",
                  "environments/dev/roles/airflow_dev_examples.yaml", "--cache-dir", str(other))
    assert result.returncode == 0
    assert _entries(other) and not (root / ".validation_cache").exists()


# -- the whole report of --all --------------------------------------------------------------


def _example_run(root: Path) -> tuple[Report, Any]:
    store = _store(root, CONFIG)
    return run(root, [], everything=True, config=CONFIG, cwd=root, store=store), store


def test_an_unchanged_repository_reuses_the_whole_report(tmp_path: Path) -> None:
    root = _example_repo(tmp_path)
    cold, loading = _example_run(root)
    assert loading.hits == 0
    warm, loading = _example_run(root)
    assert warm.problems == cold.problems and warm.files == cold.files
    assert loading.hits == 1 and loading.misses == 0  # one entry read
    assert all(timing.cached for timing in warm.timings) and len(warm.timings) == 8
    # a change anywhere sends the run through the files' entries again
    constants = root / "imports" / "examples_constants.py"
    constants.write_text(constants.read_text().replace('"v0.0.1"', '"latest"'))
    changed, loading = _example_run(root)
    assert loading.misses > 0
    assert {p.rule for p in changed.problems} == {"DAG017"}  # the unpinned image
    again, loading = _example_run(root)
    assert again.problems == changed.problems and loading.hits == 1


def test_named_files_do_not_use_the_whole_report(tmp_path: Path) -> None:
    root = _example_repo(tmp_path)
    _example_run(root)
    named = "environments/dev/dags/examples/use_imports.py"
    loading = _store(root, CONFIG)
    report = run(root, [named], everything=False, config=CONFIG, cwd=root, store=loading)
    assert report.files == 1 and report.problems == []
    assert loading.hits == 1  # the file's problems


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines()
            if line.startswith("import time:")}


def test_a_run_without_python_files_never_imports_airflow(tmp_path: Path) -> None:
    root = _example_repo(tmp_path)
    (root / "environments" / "dev" / "stray.txt").write_text("misplaced\n")  # STR rules
    result = _cli(root, tmp_path, "-X", "importtime", "-W", "ignore", "-m", "validation",
                  "--no-cache", "environments/dev/roles/airflow_dev_examples.yaml",
                  "environments/prod/roles/airflow_prod_examples.yaml",
                  "environments/dev/dags/examples/README.md", "environments/dev/stray.txt")
    imported = _imported(result.stderr)
    assert "validation.loaders.roles" in imported and "iam_builder" in imported
    assert not [name for name in imported if name.split(".")[0] == "airflow"]
    assert "environments/dev/stray.txt" in result.stdout


def test_a_cache_folder_that_is_a_symlink_is_not_used(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache").symlink_to(elsewhere)  # as a pull request could commit it
    store = _store(repo, CONFIG, tmp_path / "cache", tmp_path / "key")
    report = run(repo, [WRONG_ID], everything=False, config=CONFIG, cwd=repo, store=store)
    assert [p.rule for p in report.problems] == ["DAG005"]
    assert store is None and list(elsewhere.iterdir()) == []
