"""The environment of the zygote, and the audit-hook guard of a child importing a file.

The wall is the kernel's (validation.loaders.dag.lockdown: Landlock, seccomp, rlimits),
set up before a line of DAG code runs. What is here is Python-level and so no wall: it
gives friendly messages and line numbers where the kernel would only say EPERM, and it
is all there is where the kernel has no Landlock or seccomp (the report says so):

- the zygote's environment keeps only what Airflow needs plus a configured allowlist,
  never credentials-like variables;
- while a file is imported, an audit hook refuses writing, deleting or renaming anything
  outside the child's folder; starting processes; signalling other processes; reading
  other processes' /proc entries and any process's environ; and any network use
  (connect, send, name look-ups), which is also recorded, with the line of the file
  that tried it (DAG023); and at most MAX_THREADS threads are started per file;
- SIGXCPU (the CPU time limit) raises CpuLimitExceeded, so the file gets the line.
"""

from __future__ import annotations

import errno
import fnmatch
import os
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

# Every event hook() looks at. An audit hook sees every event of the process: a pod task
# reads frame.f_code (object.__getattr__) and calls id() (builtins.id) dozens of times, and
# the events it does not look at cost 0.9 us each through hook(), 0.26 us filtered here.
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg"})
HANDLED_EVENTS = frozenset({"open", *PATH_EVENTS, *PROCESS_EVENTS, *SIGNAL_EVENTS,
                            *NETWORK_EVENTS})


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
        hook, handled = self.hook, HANDLED_EVENTS

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event in handled:  # the others, first thing: most events are not its
                hook(event, args)

        sys.addaudithook(audit)
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
        elif event in SIGNAL_EVENTS and not (
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
