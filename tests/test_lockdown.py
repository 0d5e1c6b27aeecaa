"""The kernel lock-down (validation/loaders/dag/lockdown.py), tried by real forked children.

Each test forks a child that locks itself down and then attempts one escape, the way
hostile DAG code would (ctypes included, so no Python-level check is what stops it); the
parent then checks that the effect did not happen: a file that does not exist, a listener
that received nothing, a process still alive. Without kernel containment these tests are
skipped, except under CI=true, where the machine must have it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from validation.loaders.dag import lockdown
from validation.loaders.dag.lockdown import Layers, Limits

LAYERS = lockdown.available()
if not LAYERS.kernel and os.environ.get("CI") != "true":
    pytest.skip(f"{LAYERS.describe()}", allow_module_level=True)

PYTHON_PATHS = sorted({sys.prefix, sys.base_prefix, sys.exec_prefix,
                       os.path.realpath(sys.prefix), "/usr/lib", "/lib", "/usr/lib64",
                       os.path.dirname(os.path.realpath(sys.executable)),
                       str(Path(__file__).resolve().parents[1] / "validation")})
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def test_this_machine_has_both_layers() -> None:
    assert LAYERS.kernel, LAYERS.describe()
    assert LAYERS.landlock_abi >= 1


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    child = tmp_path / "child"
    child.mkdir()
    yield child


def run_locked(folder: Path, attempt: Callable[[], Any], readable: list[str] | None = None,
               limits: Limits = Limits(memory_mb=2048, cpu_seconds=30),
               layers: Layers | None = None) -> dict[str, Any]:
    """Fork, lock down, run ``attempt``; what it returned or raised, as a dict."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            lockdown.lock_down(str(folder), PYTHON_PATHS + (readable or []), limits, write,
                               layers)
            answer: dict[str, Any] = {"returned": repr(attempt())}
        except BaseException as error:  # noqa: B902 - report everything to the parent
            answer = {"raised": type(error).__name__, "errno": getattr(error, "errno", None),
                      "text": str(error)}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as channel:
        data = channel.read()
    _, status = os.waitpid(pid, 0)
    assert data, f"the child said nothing (wait status {status})"
    return json.loads(data)


def refused(answer: dict[str, Any]) -> bool:
    return answer.get("raised") in ("PermissionError", "OSError") and answer.get("errno") in (
        errno.EPERM, errno.EACCES, errno.ENOSYS)


def libc_errno(result: int) -> int:
    """For ctypes calls: raise the errno as an OSError when ``result`` is -1."""
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


# -- what a child may still do ------------------------------------------------------------


def test_a_locked_child_imports_reads_writes_its_folder_and_starts_threads(
        folder: Path) -> None:
    def attempt() -> str:
        import threading
        import xml.dom.minidom  # noqa: F401  (not imported before: a real import)

        (folder / "mine.txt").write_text("ok")
        with tempfile.NamedTemporaryFile(dir=None) as handle:
            handle.write(b"x")
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        with open(os.devnull, "w") as null:
            null.write("noise")
        return (folder / "mine.txt").read_text() + os.getcwd() + os.environ["HOME"]

    answer = run_locked(folder, attempt)
    assert answer == {"returned": repr("ok" + str(folder) + str(folder))}


def test_a_locked_child_has_no_capabilities(folder: Path) -> None:
    def attempt() -> list[str]:
        lines = Path("/proc/self/status").read_text().splitlines()
        return [line.split()[1] for line in lines if line.startswith(("CapEff", "CapPrm"))]

    assert run_locked(folder, attempt) == {"returned": repr(["0" * 16, "0" * 16])}


# -- writing ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["open", "dir_fd", "opener", "mkfifo", "symlink", "libc",
                                 "rename_in"])
def test_a_locked_child_writes_nothing_outside_its_folder(folder: Path, tmp_path: Path,
                                                          how: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "planted"

    def attempt() -> object:
        if how == "open":
            return open(target, "w").write("x")
        if how == "dir_fd":
            fd = os.open(str(outside), os.O_RDONLY)
            return os.open("planted", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        if how == "opener":
            return open("planted", "w", opener=lambda p, f: os.open(str(outside / p), f))
        if how == "mkfifo":
            return os.mkfifo(target)
        if how == "symlink":
            return os.symlink("/etc/passwd", target)
        if how == "libc":
            return libc_errno(LIBC.open(str(target).encode(), os.O_WRONLY | os.O_CREAT, 0o644))
        (folder / "made").write_text("x")
        return os.rename(folder / "made", target)

    answer = run_locked(folder, attempt, readable=[str(outside)])
    assert refused(answer), answer
    assert not os.path.lexists(target)


def test_a_locked_child_cannot_change_a_readable_files_mode(folder: Path,
                                                            tmp_path: Path) -> None:
    readable = tmp_path / "repo.py"
    readable.write_text("x = 1\n")
    readable.chmod(0o644)
    answer = run_locked(folder, lambda: os.chmod(readable, 0o777), readable=[str(readable)])
    assert refused(answer), answer
    assert readable.stat().st_mode & 0o777 == 0o644


def test_a_locked_child_cannot_write_a_huge_file(folder: Path) -> None:
    def attempt() -> int:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        with open(folder / "big", "wb") as handle:
            return handle.write(b"\0" * (2 * 1024 * 1024))

    answer = run_locked(folder, attempt, limits=Limits(file_mb=1))
    assert answer.get("raised") == "OSError" and answer["errno"] == errno.EFBIG, answer
    assert (folder / "big").stat().st_size <= 1024 * 1024


# -- processes ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["os.fork", "libc.fork", "subprocess", "exec", "libc.execve",
                                 "posix_spawn"])
def test_a_locked_child_starts_no_process(folder: Path, tmp_path: Path, how: str) -> None:
    marker = folder / "ran"
    script = ["/bin/sh", "-c", f"echo ran > {marker}"]

    def attempt() -> object:
        if how == "os.fork":
            if os.fork() == 0:
                marker.write_text("ran")
                os._exit(0)
            return "forked"
        if how == "libc.fork":
            child = libc_errno(LIBC.fork())
            if child == 0:
                marker.write_text("ran")
                os._exit(0)
            return "forked"
        if how == "subprocess":
            return subprocess.run(script, check=False)
        if how == "exec":
            return os.execv(script[0], script)
        if how == "libc.execve":
            argv = (ctypes.c_char_p * 4)(*[part.encode() for part in script], None)
            return libc_errno(LIBC.execve(script[0].encode(), argv, None))
        return os.posix_spawn(script[0], script, {})

    answer = run_locked(folder, attempt)
    assert refused(answer), answer
    assert not marker.exists()


def test_a_locked_child_cannot_leave_its_process_group(folder: Path) -> None:
    """Joining the parent's group (allowed in the same session) is refused: the child's
    group is what the parent kills."""
    group = os.getpgrp()
    answer = run_locked(folder, lambda: os.setpgid(0, group))
    assert refused(answer), answer


def test_a_locked_child_dies_with_its_parent(folder: Path) -> None:
    """The middle process locks its child down and is SIGKILLed: the child, which would
    sleep for ever, dies too (its pipe's write end closes)."""
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read)
        if os.fork() == 0:
            lockdown.lock_down(str(folder), PYTHON_PATHS, Limits(), write)
            os.write(write, b"locked")
            signal.pause()
            os._exit(0)
        os.close(write)
        signal.pause()
        os._exit(0)
    os.close(write)
    assert os.read(read, 6) == b"locked"
    os.kill(middle, signal.SIGKILL)
    os.waitpid(middle, 0)
    ready, _, _ = select.select([read], [], [], 60)  # a bound for a broken lock-down only
    assert ready and os.read(read, 1) == b"", "the child outlived its parent"
    os.close(read)


# -- reading ------------------------------------------------------------------------------


def test_a_locked_child_reads_no_credentials_outside_the_readable_set(folder: Path,
                                                                      tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = CANARY13\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dag.py").write_text("x = 1\n")

    def attempt() -> str:
        assert (repo / "dag.py").read_text() == "x = 1\n"
        fd = libc_errno(LIBC.open(str(home / ".aws" / "credentials").encode(), os.O_RDONLY))
        return os.read(fd, 100).decode()

    answer = run_locked(folder, attempt, readable=[str(repo)])
    assert refused(answer), answer
    assert "CANARY13" not in json.dumps(answer)


@pytest.mark.parametrize("entry", ["environ", "mem", "cmdline"])
def test_a_locked_child_reads_nothing_of_its_parent(folder: Path, entry: str) -> None:
    parent = os.getpid()
    answer = run_locked(folder, lambda: open(f"/proc/{parent}/{entry}", "rb").read(64))
    assert refused(answer), answer


# -- network ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["tcp", "libc.socket", "udp", "unix"])
def test_a_locked_child_reaches_no_listener(folder: Path, tmp_path: Path, how: str) -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    path = str(tmp_path / "listener.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(path)
    unix.listen()
    tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]

    def attempt() -> object:
        if how == "tcp":
            return socket.create_connection(("127.0.0.1", tcp_port)).sendall(b"CANARY")
        if how == "libc.socket":
            return libc_errno(LIBC.socket(socket.AF_INET, socket.SOCK_STREAM, 0))
        if how == "udp":
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
                b"CANARY", ("127.0.0.1", udp_port))
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        return client.connect(path)

    try:
        answer = run_locked(folder, attempt, readable=[str(tmp_path)])
        assert refused(answer), answer
        # The child has exited: a connection or datagram it made would be queued now.
        for listener in (tcp, udp, unix):
            listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(100)
        with pytest.raises(BlockingIOError):
            unix.accept()
    finally:
        for listener in (tcp, udp, unix):
            listener.close()


# -- other processes and limits ------------------------------------------------------------


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    # Its own session: were killpg to get through, it must not reach pytest's group.
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                               start_new_session=True)
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize("how", ["os.kill", "libc.kill", "killpg", "tgkill"])
def test_a_locked_child_signals_no_other_process(folder: Path, how: str,
                                                 bystander: subprocess.Popen[bytes]) -> None:
    pid = bystander.pid

    def attempt() -> object:
        if how == "os.kill":
            return os.kill(pid, signal.SIGKILL)
        if how == "libc.kill":
            return libc_errno(LIBC.kill(pid, signal.SIGKILL))
        if how == "killpg":
            return os.killpg(os.getpgid(pid), signal.SIGKILL)
        return libc_errno(LIBC.syscall(ctypes.c_long(_number("tgkill")), pid, pid,
                                       signal.SIGKILL))

    answer = run_locked(folder, attempt)
    assert refused(answer), answer
    assert bystander.poll() is None, "the bystander was killed"


def _number(name: str) -> int:
    import pyseccomp

    return int(pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name))


def test_a_locked_child_traces_no_other_process(folder: Path,
                                                bystander: subprocess.Popen[bytes]) -> None:
    ptrace_attach = 16
    answer = run_locked(folder, lambda: libc_errno(LIBC.ptrace(ptrace_attach, bystander.pid,
                                                               None, None)))
    assert refused(answer), answer
    status = Path(f"/proc/{bystander.pid}/status").read_text()
    assert "TracerPid:\t0" in status


@pytest.mark.parametrize("how", ["setrlimit", "prlimit64"])
def test_a_locked_child_cannot_raise_its_limits(folder: Path, how: str) -> None:
    class Rlimit(ctypes.Structure):
        _fields_ = [("soft", ctypes.c_uint64), ("hard", ctypes.c_uint64)]

    unlimited = Rlimit(resource.RLIM_INFINITY, resource.RLIM_INFINITY)

    def attempt() -> object:
        if how == "setrlimit":
            LIBC.setrlimit.argtypes = (ctypes.c_int, ctypes.c_void_p)
            return libc_errno(LIBC.setrlimit(resource.RLIMIT_AS, ctypes.byref(unlimited)))
        return libc_errno(LIBC.syscall(ctypes.c_long(_number("prlimit64")), 0,
                                       resource.RLIMIT_AS, ctypes.byref(unlimited), None))

    answer = run_locked(folder, attempt)
    assert refused(answer), answer
    after = run_locked(folder, lambda: resource.getrlimit(resource.RLIMIT_AS))
    assert after == {"returned": repr((2048 * 1024 * 1024, 2048 * 1024 * 1024))}


def test_a_locked_child_runs_out_of_memory_at_its_limit(folder: Path) -> None:
    answer = run_locked(folder, lambda: len(bytearray(600 * 1024 * 1024)),
                        limits=Limits(memory_mb=512))
    assert answer.get("raised") == "MemoryError", answer


def test_a_locked_child_makes_no_namespace_and_no_io_uring(folder: Path) -> None:
    clone_newuser = 0x10000000
    for name, args in (("unshare", (clone_newuser,)), ("io_uring_setup", (1, None)),
                       ("bpf", (0, None, 0)), ("userfaultfd", (0,))):
        answer = run_locked(folder, lambda: libc_errno(LIBC.syscall(
            ctypes.c_long(_number(name)), *args)))
        assert refused(answer), (name, answer)


# -- layers -------------------------------------------------------------------------------


def test_landlock_alone_refuses_writes_and_tcp(folder: Path, tmp_path: Path) -> None:
    """Each layer holds on its own where it can: Landlock without seccomp still refuses
    a write outside the folder and (ABI 4+) a TCP connection."""
    landlock_only = Layers(LAYERS.landlock_abi, False)
    answer = run_locked(folder, lambda: open(tmp_path / "planted", "w"), layers=landlock_only)
    assert refused(answer) and not (tmp_path / "planted").exists(), answer
    if LAYERS.landlock_abi >= 4:
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]
        answer = run_locked(folder, lambda: socket.create_connection(("127.0.0.1", port)),
                            layers=landlock_only)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()
        server.close()
        assert refused(answer), answer


@pytest.fixture
def prepared() -> Iterator[lockdown._Program]:
    """The seccomp program the zygote builds before forking (lockdown.prepare)."""
    lockdown.prepare()
    assert lockdown._prepared, "libseccomp's program could not be patched for a pid"
    yield lockdown._prepared[0]
    lockdown._prepared.clear()


def test_the_prepared_program_is_libseccomps_for_the_childs_pid(
        prepared: lockdown._Program) -> None:
    for pid in (1, 2, 300, 4242, 65_537, os.getpid(), 4_194_303):
        assert prepared.for_pid(pid) == lockdown._export(lockdown.seccomp_filter(pid)), pid


@pytest.mark.parametrize("how", ["fork", "kill", "setpgid", "prlimit", "unshare", "socket"])
def test_seccomp_alone_from_the_prepared_program_refuses(
        folder: Path, how: str, prepared: lockdown._Program,
        bystander: subprocess.Popen[bytes]) -> None:
    """The program a child loads when the zygote prepared it (not built in the child)
    refuses on its own, without Landlock (whose signal scope would also refuse kill)."""
    group, pid = os.getpgrp(), bystander.pid
    attempts: dict[str, Callable[[], object]] = {
        "fork": lambda: libc_errno(LIBC.fork()),
        "kill": lambda: os.kill(pid, signal.SIGKILL),
        "setpgid": lambda: os.setpgid(0, group),
        "prlimit": lambda: resource.prlimit(0, resource.RLIMIT_NOFILE, (64, 64)),
        "unshare": lambda: libc_errno(LIBC.unshare(0x10000000)),
        "socket": lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
    }
    answer = run_locked(folder, attempts[how], layers=Layers(0, True))
    assert refused(answer), answer
    assert bystander.poll() is None, "the bystander was killed"
    assert run_locked(folder, lambda: os.kill(os.getpid(), 0),
                      layers=Layers(0, True)) == {"returned": "None"}


def test_without_libseccomp_the_layer_is_unavailable_not_a_crash() -> None:
    code = ("import sys; sys.modules['pyseccomp'] = None\n"
            "from validation.loaders.dag import lockdown\n"
            "layers = lockdown.available()\n"
            "print(layers.seccomp, layers.kernel, layers.describe())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], check=True)
    assert result.stdout.startswith("False False kernel containment unavailable (no "
                                    "libseccomp"), result.stdout


def test_the_paths_prepared_for_landlock_are_few_and_a_child_closes_them(tmp_path: Path) -> None:
    """lockdown.prepare opens at most MAX_PREOPENED of the readable paths (a repository
    root of thousands of entries must not use up the zygote's descriptors), and a locked
    child has none of them open when its code runs: only its result pipe."""
    for number in range(lockdown.MAX_PREOPENED + 50):
        (tmp_path / f"entry-{number}").write_text("x")
    code = f"""
import json, os, sys
from pathlib import Path
from validation.loaders.dag import lockdown
paths = sorted(str(p) for p in Path({str(tmp_path)!r}).iterdir())
lockdown.prepare(paths)
opened = len(lockdown._opened)
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    folder = {str(tmp_path)!r} + "/child"
    os.mkdir(folder)
    lockdown.lock_down(folder, paths + sys.path[1:], lockdown.Limits(), write)
    fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    os.write(write, json.dumps([write, fds]).encode())
    os._exit(0)
os.close(write)
print(json.dumps([opened, json.loads(os.read(read, 65536))]))
os.waitpid(pid, 0)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1])
    opened, (pipe, fds) = json.loads(result.stdout)
    assert opened == lockdown.MAX_PREOPENED
    assert len(set(fds) - {0, 1, 2, pipe}) <= 1  # listdir's own descriptor of /proc/self/fd
