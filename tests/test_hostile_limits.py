"""The worker's containment one piece at a time: the CPU time limit, the environment it
keeps, processes started behind the guard's back, and the audit hook's rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from validation.facts import LoadSettings
from validation.loaders.dag import containment
from validation.loaders.dag.dags import DagFileRequest, load_python_files

DAGS = "environments/dev/dags/limits"


def _load(root: Path, name: str, text: str, **settings: object) -> object:
    (root / DAGS).mkdir(parents=True, exist_ok=True)
    (root / DAGS / f"{name}.py").write_text(text)
    request = DagFileRequest(f"{DAGS}/{name}.py", "dev", "limits", name)
    options = {"timeout": 60.0, "memory_limit_mb": 0, "cpu_limit_seconds": 0.0, **settings}
    dags, _ = load_python_files(str(root), [request], [], LoadSettings(**options),  # type: ignore
                                1)
    return dags[request.path]


def test_a_file_over_its_cpu_time_is_a_crash_at_its_line(tmp_path: Path) -> None:
    facts = _load(tmp_path, "spins", "x = 0\nwhile True:\n    x += 1\n", cpu_limit_seconds=1.0)
    crash = facts.crash  # type: ignore[attr-defined]
    assert crash is not None and crash.kind == "cpu"
    assert crash.line in (2, 3)
    assert "more than 1 s of CPU time" in crash.message
    assert "cpu_limit_seconds" in crash.message


def test_the_parent_names_sigxcpu_when_the_worker_dies_of_it() -> None:
    import signal

    from validation.loaders.dag.dags import _exit_facts

    assert "CPU time" in _exit_facts(-signal.SIGXCPU).message


def test_processes_started_behind_the_guard_die_with_the_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    text = (f"import ctypes\n"
            f"ctypes.CDLL(None).system(b'sleep 300 & echo $! > {pid_file}')\n"
            "raise SystemExit(1)\n")
    facts = _load(tmp_path, "escapes", text)
    assert facts.crash is not None  # type: ignore[attr-defined]
    pid = int(pid_file.read_text())
    assert _gone_or_zombie(pid)


def _gone_or_zombie(pid: int) -> bool:
    # SIGKILL is delivered before killpg returns; the zombie may wait for its reaper.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_the_environment_keeps_what_airflow_needs_and_no_credentials() -> None:
    environ = {
        "PATH": "/bin", "LANG": "C.UTF-8", "AIRFLOW__CORE__DAGS_FOLDER": "/x",
        "AIRFLOW__CORE__FERNET_KEY": "k", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgres://",
        "AIRFLOW_CONN_S3": "s3://", "AWS_ACCESS_KEY_ID": "a", "AWS_PROFILE": "p",
        "GITHUB_TOKEN": "t", "ACTIONS_ID_TOKEN_REQUEST_URL": "u", "NPM_TOKEN": "t",
        "DB_PASSWORD": "p", "HOME": "/root", "MY_SETTING": "s", "TEAM_NAME": "n",
        "EXACT_TOKEN": "e", "PYTHONHASHSEED": "0",
    }
    kept = containment.worker_environment(environ, ("TEAM_*", "EXACT_TOKEN", "AWS_*"), "/tmp/w")
    assert kept == {
        "PATH": "/bin", "LANG": "C.UTF-8", "AIRFLOW__CORE__DAGS_FOLDER": "/x",
        "PYTHONHASHSEED": "0", "TEAM_NAME": "n", "EXACT_TOKEN": "e",
        "HOME": "/tmp/w", "TMPDIR": "/tmp/w",
    }


@pytest.mark.parametrize(("event", "args"), [
    ("open", ("/etc/x", "w", 0)),
    ("open", ("/etc/x", None, os.O_WRONLY | os.O_CREAT)),
    ("open", (f"/proc/{os.getpid() + 1}/cmdline", "r", 0)),
    ("open", ("/proc/self/environ", "rb", 0)),
    ("os.remove", ("/etc/x", None)),
    ("os.rmdir", ("/w/", None)),  # the temporary folder itself

    ("os.rename", ("/w/a", "/etc/b", None, None)),
    ("os.link", ("/etc/a", "/w/b", None, None)),
    ("os.posix_spawn", ("/bin/true", [], {})),
    ("os.killpg", (1, 9)),
    ("socket.connect", (None, ("10.0.0.1", 80))),
    ("socket.getaddrinfo", ("example.com", 80, 0, 0, 0)),
])
def test_the_guard_refuses(tmp_path: Path, event: str, args: tuple[object, ...]) -> None:
    guard = containment.Guard([str(tmp_path)])
    guard.arm("/nowhere.py")
    with pytest.raises(PermissionError):
        guard.hook(event, tuple(str(tmp_path) + a[2:] if isinstance(a, str) and a.startswith("/w/")
                                else a for a in args))


@pytest.mark.parametrize(("event", "args"), [
    ("open", ("/etc/hostname", "r", 0)),
    ("open", ("{tmp}/x", "w", 0)),
    ("open", ("relative.txt", "w", 0)),
    ("open", (os.devnull, "w", 0)),
    ("open", ("/proc/self/status", "r", 0)),
    ("os.mkdir", ("{tmp}/d", 0o777, None)),
    ("os.kill", (os.getpid(), 0)),
])
def test_the_guard_allows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event: str,
                          args: tuple[object, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    guard = containment.Guard([str(tmp_path)])
    guard.arm("/nowhere.py")
    guard.hook(event, tuple(a.replace("{tmp}", str(tmp_path)) if isinstance(a, str) else a
                            for a in args))


def test_the_guard_resolves_a_file_descriptor(tmp_path: Path) -> None:
    guard = containment.Guard([str(tmp_path)])
    guard.arm("/nowhere.py")
    fd = os.open(__file__, os.O_RDONLY)  # a file outside the temporary folder
    try:
        with pytest.raises(PermissionError):
            guard.hook("os.chmod", (fd, 0o777, None))
    finally:
        os.close(fd)


def test_a_disarmed_guard_allows_everything() -> None:
    guard = containment.Guard([])
    guard.hook("os.system", ("true",))


def test_the_limits_are_configured_in_setup_cfg(tmp_path: Path) -> None:
    from validation.config import ConfigError, load_config

    (tmp_path / "setup.cfg").write_text(
        "[validation]\ncpu_limit_seconds = 5\nenv_allowlist = TEAM_*, MY_SETTING\n")
    config = load_config(tmp_path)
    assert (config.cpu_limit_seconds, config.env_allowlist) == (5.0, ("TEAM_*", "MY_SETTING"))
    (tmp_path / "setup.cfg").write_text("[validation]\ncpu_limit_seconds = -1\n")
    with pytest.raises(ConfigError, match="cpu_limit_seconds = -1"):
        load_config(tmp_path)


def test_a_file_that_leaves_a_process_retires_its_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from validation.loaders.dag import dags as loader

    forked = []
    original = loader._Worker.__init__

    def counting(self: object, *args: object) -> None:
        forked.append(args)
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(loader._Worker, "__init__", counting)
    (tmp_path / DAGS).mkdir(parents=True)
    (tmp_path / DAGS / "a_leaves.py").write_text(
        "import ctypes\nctypes.CDLL(None).system(b'sleep 300 &')\n")
    (tmp_path / DAGS / "b_next.py").write_text("x = 1\n")
    (tmp_path / DAGS / "c_next.py").write_text("x = 1\n")
    requests = [DagFileRequest(f"{DAGS}/{name}.py", "dev", "limits", name)
                for name in ("a_leaves", "b_next", "c_next")]
    load_python_files(str(tmp_path), requests, [], LoadSettings(timeout=60.0), 1)
    assert len(forked) == 2  # a fresh worker after a_leaves; b and c share one
