"""The validator's side of DAG loading: start the zygote, hand it files, read the results.

The validator's own process never imports Airflow and never runs repository code: the
zygote (``zygote.py``) is a fresh interpreter, exec'd with a credential-free environment
and no inherited descriptors, so it never had the cache's signing key or the user's
credentials; it forks a locked-down child per file. What a child produced comes back as
JSON and is decoded here against the Outcome type (``results.py``): data, never code.
Files are handed over and answers read by a thread of this process (``Exchange``), from
the zygote's start, while the run does the rest; decoding stays in the run's thread.

Stopping: ``stop()`` kills every child (each leads its own process group) and the zygote,
waits for them to be gone, lets the exchange's thread end before the zygote's pipes are
closed, and removes the run's folder; it runs whatever ends the run (an error, SIGINT,
SIGTERM). After a SIGKILL of the validator, the parent-death signal
takes the zygote, and the zygote's takes its children.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from validation.cache import codec
from validation.facts import ErrorFacts, LoadSettings
from validation.loaders.dag import containment, metadata, results
from validation.loaders.dag.errors import LoaderError, WeakContainment
from validation.loaders.dag.worker import Job, Outcome
from validation.loaders.dag.zygote import LOCKDOWN_FAILED, MAX_RESULT_BYTES, Plan

# The zygote's first lines: put the validator's package (through a folder holding only a
# link to it) on sys.path, never the repository root.
BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv[2]); "
             "from validation.loaders.dag.zygote import main; main()")
PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_LINE_BYTES = 1024 * 1024  # a message line from the zygote (a result follows it)
# Results read from the zygote and not yet taken by the run (Exchange); honest ones are
# about 50 KB each, so only a run of files writing huge results ever waits for room.
MAX_BUFFERED_BYTES = 256 * 1024 * 1024
# Told, as files are imported: how many are done, of how many, and one being imported.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Containment:
    """What contained the run's DAG imports, as the zygote found it."""

    landlock_abi: int
    seccomp: bool
    reason: str

    @property
    def kernel(self) -> bool:
        return self.landlock_abi >= 1 and self.seccomp

    def describe(self) -> str:
        if self.kernel:
            return f"with Landlock ABI {self.landlock_abi} and seccomp"
        present = ([f"Landlock ABI {self.landlock_abi}"] if self.landlock_abi else []) + (
            ["seccomp"] if self.seccomp else []) + ["the audit-hook guard"]
        return (f"without kernel containment ({self.reason}): behind "
                f"{' and '.join(present)} only")


class Zygote:
    """The zygote process, the run's folder, and the children it has started."""

    def __init__(self, root: str, settings: LoadSettings, workers: int) -> None:
        self.run_dir = tempfile.mkdtemp(prefix="validation-run-")
        self.workers = workers  # children at a time
        self.children: dict[int, int] = {}  # job id -> pid, while running
        self.buffer = bytearray()
        # Told once the zygote and its children are dead, before its pipes are closed
        # (the Exchange's thread, which reads them, ends then).
        self.on_stop: list[Callable[[], None]] = []
        self.process: subprocess.Popen[bytes] | None = None
        shim = os.path.join(self.run_dir, "lib")
        os.mkdir(shim)
        os.symlink(PACKAGE, os.path.join(shim, "validation"))
        home = os.path.join(self.run_dir, "home")
        os.mkdir(home)
        environment = containment.worker_environment(dict(os.environ), settings.env_allowlist,
                                                     home)
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOTSTRAP, str(os.getpid()), shim],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True, env=environment, cwd=home, process_group=0)
        plan = Plan(root=root, run_dir=self.run_dir, jobs=workers,
                    settings=codec.encode(settings, LoadSettings), parent=os.getpid(),
                    database=_database())
        self._send(asdict(plan))

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise LoaderError(f"the process importing DAG files is gone ({error})") from error

    def submit(self, job_id: int, job: Job) -> None:
        self._send({"id": job_id, "path": job.path, "kind": job.kind, "module": job.module})

    def close_input(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def receive(self) -> dict[str, Any]:
        """The zygote's next message (waiting for it); a "done" message's ``result`` is
        the bytes the child wrote, or None."""
        while (end := self.buffer.find(b"\n")) < 0:
            self._read(MAX_LINE_BYTES)
        message = json.loads(self.buffer[:end])
        del self.buffer[:end + 1]
        if "done" in message:
            size = message["size"]
            if size is not None and not 0 <= size <= MAX_RESULT_BYTES:
                raise LoaderError("the process importing DAG files sent too much")
            while size is not None and len(self.buffer) < size:
                self._read(size)
            message["result"] = None if size is None else bytes(self.buffer[:size])
            del self.buffer[:size or 0]
        if "fatal" in message:
            raise LoaderError(f"the process importing DAG files failed: {message['fatal']}")
        if "started" in message:
            self.children[message["started"]] = message["pid"]
        elif "done" in message:
            self.children.pop(message["done"], None)
        return dict(message)

    def _read(self, limit: int) -> None:
        """More of what the zygote wrote into the buffer (waiting for it)."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        select.select([fd], [], [])
        chunk = os.read(fd, 1024 * 1024)
        if not chunk:
            raise LoaderError("the process importing DAG files ended unexpectedly "
                              f"(status {self.process.poll()})")
        self.buffer.extend(chunk)
        if len(self.buffer) > limit + 2 * 1024 * 1024:
            raise LoaderError("the process importing DAG files sent too much")

    def stop(self) -> None:
        """Kill every child and the zygote, wait until they are gone, remove the folder
        (once: later calls do nothing but remove it)."""
        for pid in list(self.children.values()):
            _kill_group(pid)
        if self.process is not None:
            _kill_group(self.process.pid)
            self.process.kill()
            self.process.wait()
            for stopped in self.on_stop:
                stopped()
            self.on_stop.clear()
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
        _wait_gone(list(self.children.values()))
        self.children.clear()
        self.process = None  # stopped: a second stop() signals no pid it might reuse
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pids: list[int], seconds: float = 1.0) -> None:
    """Wait (at most ``seconds``) until the processes ``pids`` no longer exist: killed
    children of the zygote, reaped by whoever inherited them."""
    deadline = time.monotonic() + seconds
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:  # pragma: no cover  (a reused pid)
                break
            time.sleep(0.005)


def worker_count(jobs: int) -> int:
    """Children at a time for ``--jobs`` (0: one per CPU core)."""
    return max(1, jobs or os.cpu_count() or 1)


def run_jobs(root: str, jobs: dict[str, Job], settings: LoadSettings, workers: int,
             allow_weak: bool, progress: Progress | None = None,
             on_containment: Callable[[Containment], None] | None = None,
             on_outcome: Callable[[str, Outcome], None] | None = None
             ) -> tuple[dict[str, Outcome], Containment]:
    """An Outcome per path, whatever the files do, and how they were contained;
    ``workers`` children at a time (0: one per CPU core) of a zygote of their own.
    ``on_containment`` is told how the files are contained before any of them is
    imported, ``on_outcome`` of each Outcome as it arrives. (A run hands files over as
    their sources are read: dags.Loading drives an Exchange itself.)"""
    zygote = Zygote(root, settings, worker_count(workers))
    exchange = Exchange(zygote, allow_weak)
    try:
        for path in largest_first({path: job.path for path, job in jobs.items()}):
            exchange.add(path, jobs[path])
        exchange.close()
        return exchange.outcomes(settings.timeout, progress, on_containment, on_outcome)
    finally:
        zygote.stop()


class Exchange:
    """Hands the zygote its files and reads its answers on a thread of its own, from the
    moment it is started: the children start as soon as the zygote has imported Airflow,
    while this process still reads DAG sources and checks role files. Files are added as
    they are ready (``add``, then ``close``); ``outcomes`` gives, in the calling thread,
    how they were contained and what each produced.

    The thread only moves messages: it decodes no result, calls no rule and touches no
    store; whatever it meets (the zygote gone, a message too large) is raised again by
    ``outcomes``. It submits nothing until the zygote has said how it contains the files,
    and nothing at all when that is too weak and weak is not allowed. It keeps a few
    files queued in the zygote and never more (``2 * workers``), so that neither side
    ever waits on a full pipe for the other; and it holds at most MAX_BUFFERED_BYTES of
    results the calling thread has not taken yet (more waits in the zygote and its
    children's pipes: a run of files that each write a 16 MB result does not fill the
    validator's memory while it checks the roles). It ends when the zygote is stopped."""

    def __init__(self, zygote: Zygote, allow_weak: bool) -> None:
        self.zygote, self.allow_weak = zygote, allow_weak
        self.total = 0  # files added
        self.first = ""  # the first of them, the first imported
        self._inbox: queue.SimpleQueue[tuple[str, Job] | None] = queue.SimpleQueue()
        self._outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._budget = Budget(MAX_BUFFERED_BYTES)  # results in the outbox
        self._thread = threading.Thread(target=self._run, name="zygote-exchange", daemon=True)
        zygote.on_stop.append(self._end)
        self._thread.start()

    def add(self, path: str, job: Job) -> None:
        self.total += 1
        self.first = self.first or path
        self._inbox.put((path, job))

    def close(self) -> None:
        """No more files."""
        self._inbox.put(None)

    def _end(self) -> None:
        """The zygote is dead: let the thread go on (it reads the end of the zygote's
        output, or finds it gone when it writes) and wait for it to end."""
        self._budget.open()  # in case it waits for room
        self.close()  # in case it waits for a file
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)

    def outcomes(self, timeout: float, progress: Progress | None = None,
                 on_containment: Callable[[Containment], None] | None = None,
                 on_outcome: Callable[[str, Outcome], None] | None = None
                 ) -> tuple[dict[str, Outcome], Containment]:
        """Wait for every file added (``close`` first); see run_jobs."""
        outcomes: dict[str, Outcome] = {}
        found = Containment(0, False, "the zygote never said")
        while True:
            item = self._outbox.get()
            if item[0] == "error":
                raise item[1]
            if item[0] == "end":
                return outcomes, found
            if item[0] == "hello":
                found = item[1]
                if not found.kernel and not self.allow_weak:
                    raise WeakContainment(
                        f"kernel containment is unavailable here ({found.reason}) and "
                        "CI=true requires it: DAG files would be imported behind the "
                        "audit-hook guard alone; pass --allow-weak-containment to run anyway")
                if on_containment is not None:
                    on_containment(found)
                if progress is not None and self.first:
                    progress(0, self.total, self.first)
                continue
            _, path, message, importing = item
            self._budget.give(len(message["result"] or b""))
            outcomes[path] = _outcome(message, timeout)
            if on_outcome is not None:
                on_outcome(path, outcomes[path])
            if progress is not None:
                progress(len(outcomes), self.total, importing)

    def _run(self) -> None:
        try:
            hello = self.zygote.receive()["hello"]
            found = Containment(hello["landlock"], hello["seccomp"], hello["reason"])
            self._outbox.put(("hello", found))
            if found.kernel or self.allow_weak:
                self._serve()
                self._outbox.put(("end",))
        except BaseException as error:  # noqa: B902 - raised again in the calling thread
            self._outbox.put(("error", error))

    def _serve(self) -> None:
        window = 2 * self.zygote.workers  # a few queued in the zygote
        running: dict[int, str] = {}  # job id -> path
        sent, closed = 0, False
        while running or not closed:
            while not closed and len(running) < window:
                try:  # wait for a file only when the zygote has none
                    item = self._inbox.get(block=not running)
                except queue.Empty:
                    break
                if item is None:
                    closed = True
                    self.zygote.close_input()
                    break
                self.zygote.submit(sent, item[1])
                running[sent] = item[0]
                sent += 1
            if not running:
                break
            message = self.zygote.receive()
            if "done" in message:
                path = running.pop(message["done"])
                self._budget.take(len(message["result"] or b""))
                self._outbox.put(("done", path, message, min(running.values(), default="")))


class Budget:
    """Bytes held between two threads, at most ``limit`` of them (one item alone may be
    larger): ``take`` waits for room, ``give`` makes it, ``open`` lets every wait go."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held, self.opened = limit, 0, False
        self._room = threading.Condition()

    def take(self, size: int) -> None:
        with self._room:
            while self.held and self.held + size > self.limit and not self.opened:
                self._room.wait()
            self.held += size

    def give(self, size: int) -> None:
        with self._room:
            self.held -= size
            self._room.notify_all()

    def open(self) -> None:
        with self._room:
            self.opened = True
            self._room.notify_all()


def largest_first(files: dict[str, str]) -> list[str]:
    """The keys of ``files`` (each to its file on disk) in the order to import them: the
    largest first (by bytes, then by key), so that the run does not end on one long
    import while the other cores wait (a file of 300 tasks takes twenty times a small
    one). The results are the same in any order."""
    def size(key: str) -> int:
        try:
            return os.stat(files[key]).st_size
        except OSError:  # gone meanwhile: its child will say so
            return 0

    return sorted(files, key=lambda key: (-size(key), key))


def _outcome(message: dict[str, Any], timeout: float) -> Outcome:
    """The Outcome a child's message holds, or the crash that explains why there is none."""
    status, result, problem = message["status"], message["result"], message["problem"]
    if problem == "timeout":
        return Outcome(crash=ErrorFacts("timeout", "importing the file did not finish "
                                        f"within {timeout:g} s"))
    if problem is not None:
        return Outcome(crash=ErrorFacts("lost", f"the import's result could not be read: "
                                        f"{problem}"))
    if status == LOCKDOWN_FAILED and isinstance(result, bytes) and b'"lockdown"' in result[:20]:
        text = result[:500].decode("utf-8", "replace")
        raise LoaderError(f"a DAG import could not be locked down: {text}")
    if status != 0:
        return Outcome(crash=exit_facts(status))
    try:
        return results.decode(result)
    except results.ResultError as error:
        return Outcome(crash=ErrorFacts("lost", "the import's result could not be read: "
                                        f"the file wrote to the validator's channel ({error})"
                                        [:300]))


def exit_facts(code: int | None) -> ErrorFacts:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if code == -signal.SIGXCPU:
            name += (": it used up its CPU time (cpu_limit_seconds in setup.cfg "
                     "[validation]); keep the top level of the file fast")
        return ErrorFacts("signal", f"the process importing the file was killed by {name}")
    return ErrorFacts("died", f"the process importing the file exited with status {code}"
                      " (os._exit() or a crash in native code)")


def _database() -> str:
    """The metadata database of the lock (made once, by a subprocess: the validator never
    imports Airflow), or "" when it cannot be made: Airflow then has no tables, as
    before, and a DAG that reads one at parse time gets DAG001."""
    try:
        return str(metadata.metadata_db())
    except metadata.MetadataError:
        return ""
