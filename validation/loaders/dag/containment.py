"""Containment of the DAG code a worker runs: environment, limits, folders, guards.

A guard against accidents, not a security sandbox: everything here is done from inside
the same Python process as the DAG code, which could undo most of it with enough effort
(ctypes, for one). What it does, in a worker (a process forked for importing files):

- the environment keeps only what Airflow needs plus a configured allowlist, never
  credentials-like variables;
- limits: address space (RLIMIT_AS), CPU time per file (RLIMIT_CPU, SIGXCPU), no core
  files, at most MAX_THREADS threads per file, processes (RLIMIT_NPROC, not for root);
  the worker is its own process group, which the supervisor kills as a whole;
- the working directory, HOME and TMPDIR are a temporary folder;
- while a file is imported, an audit hook (which Python code cannot remove) refuses:
  writing, deleting or renaming anything outside the temporary folders; starting
  processes; signalling other processes; reading other processes' /proc entries and
  any process's environ; and any network use (connect, send, name look-ups), which is
  also recorded, with the line of the file that tried it (DAG023).
"""

from __future__ import annotations

import errno
import fnmatch
import gc
import os
import resource
import signal
import sys
import threading
from typing import Any

# What Airflow, Python and the C library need; everything else is dropped.
NEEDED_ENV = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "USER", "LOGNAME",
              "PYTHON*", "VIRTUAL_ENV", "AIRFLOW_HOME", "AIRFLOW__*",
              "SQLALCHEMY_SILENCE_UBER_WARNING")
# Never passed on unless named exactly in the allowlist (env_allowlist in setup.cfg).
CREDENTIALS_LIKE = ("AWS_*", "ACTIONS_*", "GITHUB_*", "RUNNER_*", "*TOKEN*", "*SECRET*",
                    "*PASSWORD*", "*PASSWD*", "*KEY*", "*CREDENTIAL*", "*AUTH*", "*SESSION*",
                    "*COOKIE*", "*_CONN*", "AIRFLOW_CONN_*", "AIRFLOW_VAR_*", "*PRIVATE*")
MAX_THREADS = 64  # threads a single file may start while it is imported
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn",
                            "os.spawn", "os.fork", "os.forkpty", "pty.spawn", "os.startfile"})
NETWORK_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg",
                            "socket.getaddrinfo", "socket.gethostbyname",
                            "socket.gethostbyname_ex", "socket.gethostbyaddr",
                            "socket.getnameinfo"})
# Events that change a file, with the positions of their path and dir_fd arguments.
PATH_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),),
    "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),),
    "os.truncate": ((0, None),), "os.chflags": ((0, None),), "os.lchflags": ((0, None),),
    "os.setxattr": ((0, None),), "os.removexattr": ((0, None),),
    "os.rename": ((0, 2), (1, 3)), "os.link": ((0, 2), (1, 3)), "os.symlink": ((1, 2),),
    "shutil.rmtree": ((0, 1),),
}


class CpuLimitExceeded(BaseException):
    """Raised in the worker by SIGXCPU: the file used up its CPU time."""


def worker_environment(environ: dict[str, str], allowlist: tuple[str, ...],
                       folder: str) -> dict[str, str]:
    """The environment of a worker: what Airflow needs, minus anything credentials-like,
    plus the names (or globs) of ``allowlist``; HOME and TMPDIR are ``folder``."""
    def matches(name: str, patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatchcase(name.upper(), pattern.upper()) for pattern in patterns)

    kept = {name: value for name, value in environ.items()
            if (matches(name, NEEDED_ENV) and not matches(name, CREDENTIALS_LIKE))
            or name in allowlist
            or (matches(name, allowlist) and not matches(name, CREDENTIALS_LIKE))}
    kept.update({"HOME": folder, "TMPDIR": folder})
    return kept


def enter(folder: str, allowlist: tuple[str, ...], memory_limit_mb: int) -> None:
    """Set up a freshly forked worker: own process group, environment, folder, limits."""
    try:
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover  (the parent did it first)
        pass
    scrubbed = worker_environment(dict(os.environ), allowlist, folder)
    os.environ.clear()
    os.environ.update(scrubbed)
    import tempfile

    tempfile.tempdir = folder
    os.chdir(folder)
    _limit(resource.RLIMIT_CORE, 0)
    _limit_processes()
    if memory_limit_mb > 0:
        _limit(resource.RLIMIT_AS, memory_limit_mb * 1024 * 1024)


def _limit_processes() -> None:
    """A fork bomb through ctypes (os.fork is refused) meets RLIMIT_NPROC: a few more
    tasks than the whole machine runs now (/proc/loadavg counts threads too, as the
    limit does). The limit counts the user's tasks and does not apply to root, for whom
    the supervisor's process-group kill is what stops it."""
    if os.geteuid() == 0:
        return
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            tasks = int(handle.read().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):  # pragma: no cover  (no /proc)
        return
    _limit(resource.RLIMIT_NPROC, tasks + MAX_THREADS + 64)


def _limit(which: int, wanted: int) -> None:
    """Lower the soft limit ``which`` to ``wanted``; never raises the hard limit."""
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(which, (wanted, hard))


def close_inherited(keep: int) -> None:
    """Point every file descriptor the worker inherited from the parent at /dev/null,
    except its own channel ``keep``: other workers' channels, the terminal, pipes and open
    files (pytest's capture files, say). ``os.write`` on an inherited number needs no
    ``open()``, so the audit hook never sees it: without this a file could write into the
    parent's terminal. ``dup2`` rather than ``close``: a Python object still holding a
    number (``sys.stdout`` under pytest's capture) then writes to /dev/null, never into
    whatever file later reuses the number."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # pragma: no cover  (no /proc)
        fds = [0, 1, 2]
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        if fd in (keep, null):
            continue
        try:
            os.dup2(null, fd)
        except OSError:  # closed since the listing (the listing's own descriptor)
            continue
    os.close(null)


def allow_cpu(seconds: float) -> None:
    """Let the file about to be imported use ``seconds`` of CPU time (0: no limit); past
    it, SIGXCPU raises CpuLimitExceeded in the worker."""
    if seconds <= 0:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _limit(resource.RLIMIT_CPU, int(usage.ru_utime + usage.ru_stime + seconds) + 1)


def _on_cpu_limit(signum: int, frame: Any) -> None:
    raise CpuLimitExceeded()


class Guard:
    """The audit hook that refuses, while armed, what a DAG file must not do at import."""

    def __init__(self, writable: list[str]) -> None:
        self.writable = [os.path.realpath(path) for path in writable]
        self.armed = False
        self.path = ""  # the file being imported
        self.network: list[tuple[str, int]] = []  # (what was tried, line in the file)
        self.threads = 0
        self.pid = os.getpid()

    def install(self) -> None:
        sys.addaudithook(self.hook)
        signal.signal(signal.SIGXCPU, _on_cpu_limit)
        _patch_threads(self)

    def arm(self, path: str) -> None:
        self.path, self.network, self.threads, self.armed = path, [], 0, True

    def disarm(self) -> None:
        self.armed = False

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed:
            return
        if event == "open":
            self._open(args)
        elif event in PATH_EVENTS:
            for index, dir_fd in PATH_EVENTS[event]:
                self._check_write(args[index], args[dir_fd] if dir_fd is not None else None)
        elif event in PROCESS_EVENTS:
            self._refuse(f"starting a process ({event})", "start processes in a task")
        elif event in ("os.kill", "os.killpg") and not (
                event == "os.kill" and args[0] in (0, self.pid)):
            self._refuse(f"signalling another process ({event})", "remove it")
        elif event in NETWORK_EVENTS:
            self._network(event, args)

    def _open(self, args: tuple[Any, ...]) -> None:
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if isinstance(path, int) or path is None:
            return
        name = _name(path)
        if name.startswith("/proc/") and _private_proc(name, self.pid):
            self._refuse(f"reading {name}", "remove it")
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS and not isinstance(mode, str))
        if writes:
            self._check_write(path, None)

    def _check_write(self, path: Any, dir_fd: Any) -> None:
        if path is None:
            return
        if isinstance(path, int):  # os.fchmod(fd), os.utime(fd): the file the fd is open on
            path, dir_fd = f"/proc/self/fd/{path}", None
        name = _name(path)
        if isinstance(dir_fd, int):
            try:
                name = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name)
            except OSError:
                pass
        real = os.path.realpath(name)
        if real == os.devnull or any(real.startswith(base + os.sep) for base in self.writable):
            return
        self._refuse(f"changing {name} (outside the temporary working directory)",
                     "write to a relative path or to tempfile, or do it in a task")

    def _network(self, event: str, args: tuple[Any, ...]) -> None:
        name = event.split(".", 1)[1]
        if name in ("connect", "sendto", "sendmsg"):
            what = f"{'connecting' if name == 'connect' else 'sending'} to {args[1]!r}"
        else:
            what = f"looking up {args[0]!r}"
        what = what[:200]
        self.network.append((what, self.line()))
        raise PermissionError(errno.EACCES, "the validator refuses network access while it "
                              f"imports a DAG file ({what})")

    def _refuse(self, what: str, fix: str) -> None:
        raise PermissionError(errno.EACCES, f"the validator does not allow {what} while it "
                              f"imports a DAG file: {fix}")

    def line(self) -> int:
        """The line of the file being imported innermost on the stack, else 0."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                return frame.f_lineno or 0
            frame = frame.f_back  # type: ignore[assignment]
        return 0


def _name(path: Any) -> str:
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        return str(path)


def _private_proc(name: str, pid: int) -> bool:
    """/proc entries a DAG may not read: another process's, and any environ or mem."""
    parts = os.path.normpath(name).split("/")
    if len(parts) < 3:
        return False
    owner = parts[2]
    if owner.isdigit() and int(owner) != pid:
        return True
    return parts[-1] in ("environ", "mem")


def _patch_threads(guard: Guard) -> None:
    """Refuse to start more than MAX_THREADS threads per file (a thread bomb)."""
    original = threading._start_new_thread  # type: ignore[attr-defined]

    def start(*args: Any, **kwargs: Any) -> Any:
        if guard.armed:
            guard.threads += 1
            if guard.threads > MAX_THREADS:
                raise RuntimeError(f"the validator allows at most {MAX_THREADS} threads per "
                                   "DAG file at import: start threads in a task")
        return original(*args, **kwargs)

    threading._start_new_thread = start  # type: ignore[attr-defined]


# -- the state a file may leave behind ----------------------------------------------------


def other_processes() -> bool:
    """Whether a process other than this one is in this worker's process group: one a
    file started behind the guard's back (ctypes) and left running."""
    group, me = os.getpgrp(), os.getpid()
    try:
        names = [name for name in os.listdir("/proc") if name.isdigit() and int(name) != me]
    except OSError:  # pragma: no cover  (no /proc)
        return False
    for name in names:
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(group):
            return True
    return False


WATCHED_MODULES = ("builtins", "sys", "os", "signal", "socket", "threading", "airflow",
                   "airflow.models", "airflow.models.dag", "airflow.models.baseoperator",
                   "airflow.models.dagbag", "airflow.utils.timeout",
                   "mojap_airflow_tools.operators")


def snapshot() -> dict[str, Any]:
    """What a file could change to affect the files imported after it in the same worker:
    the values of key modules and classes, every loaded module, signal handlers, the
    environment, the import machinery.

    Objects are kept and compared by identity, never through id(): with the guard's audit
    hook installed, every id() call raises a "builtins.id" audit event, and a snapshot
    takes thousands of them.
    """
    state: dict[str, Any] = {
        "modules": dict(sys.modules),
        "signals": {number: _handler(number) for number in _signals()},
        "meta_path": list(sys.meta_path),
        "path_hooks": list(sys.path_hooks),
        "values": [os.environ.copy(), sys.getrecursionlimit(), sys.gettrace(),
                   sys.getprofile(), gc.isenabled(), sys.getswitchinterval(), os.getcwd()],
    }
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            state[name] = dict(vars(module))
    from airflow.models.baseoperator import BaseOperator
    from airflow.models.dag import DAG

    state["DAG"], state["BaseOperator"] = dict(vars(DAG)), dict(vars(BaseOperator))
    return state


def changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether anything of ``before`` is not the same object in ``after`` (new modules and
    names are fine); "values" are compared by value."""
    for key, value in before.items():
        current = after.get(key)
        if key == "values":
            if current != value:
                return True
        elif isinstance(value, dict):
            if not isinstance(current, dict) or any(
                    current.get(name, _GONE) is not old for name, old in value.items()):
                return True
        elif not isinstance(current, list) or len(current) != len(value) or any(
                new is not old for new, old in zip(current, value)):
            return True
    return False


_GONE = object()


def _signals() -> list[int]:
    # SIGALRM is set again by Airflow's own timeout for every file.
    return [number for number in range(1, signal.NSIG)
            if number not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGALRM)]


def _handler(number: int) -> Any:
    try:
        return signal.getsignal(number)
    except (ValueError, OSError):
        return None
