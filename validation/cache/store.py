"""The content cache: facts and problems of DAG files, imports modules and role files.

Three levels, each reused only when everything that went into it is unchanged:

- facts of a file (kinds "dag", "imports", "role"), reused when these are unchanged:
  the file itself (SHA-256 of its bytes); for a DAG file, every file of the repository
  its import loaded (recorded by the worker at import time) and the list of Python files
  under imports/ (a module that appeared could change what an import finds); for an
  imports module, every Python file under imports/;
- problems of a file ("dag-problems" ...): the same, plus the repository facts and the
  rules they were found with (checks_digest), since rules are pure functions of these:
  a warm run neither decodes the facts nor runs the rules;
- the whole report of ``--all`` (RunCache): the configuration, the repository layout and
  every file under environments/ and imports/, plus every other repository file a DAG
  imported: an unchanged repository reads one entry.

All three also depend on the context: the validator's version and the SHA-256 of its own
code, the Python version, the lock file (requirements-validation.txt at the root, when
there is one), and the settings that change what loading produces (dag_timeout,
memory_limit_mb, cpu_limit_seconds, env_allowlist, environments).

Not cached, so loaded again on every run: files whose import crashed (DAG002: a timeout,
the memory limit, a killed worker depend on the machine's load), files whose import
failed with ImportError or ModuleNotFoundError (they may depend on a file that does not
exist yet), and files that could not be read; a run with any of them stores no report.
The cache does not see files a DAG reads with open() at import time (a YAML or SQL file,
say), nor modules outside the repository other than through the lock file: use
--no-cache when such a file changes what a DAG creates.

Entries are JSON (validation.cache.codec), never pickle: the folder sits in the user's
repository, where a pull request could add files. Each entry is signed with HMAC-SHA256
under a key kept outside the repository (in the user's cache folder), so only entries
this account wrote are read; anything else (unsigned, corrupt, truncated, another shape)
is ignored and rebuilt, never trusted, never a crash. Entries are written to a temporary
file and renamed into place, so a reader never sees half an entry. One entry per file
and kind: the folder does not grow with each change, and deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from validation import __version__
from validation.cache.codec import decode, encode
from validation.config import Config
from validation.facts import DagFileFacts, ImportsModuleFacts, LoadSettings, RepoFacts, RoleFacts
from validation.loaders.files import Unreadable, read_bytes
from validation.problems import Report
from validation.run.store import CachedProblems, FactKind

FORMAT = 1
DEFAULT_FOLDER = ".validation_cache"
LOCK_FILE = "requirements-validation.txt"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
MAX_HASHED_BYTES = 64 * 1024 * 1024  # larger repository files are never cached
KEY_BYTES = 32
# Import failures that may depend on a file that does not exist yet: never cached.
UNSTABLE_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


FACTS: dict[FactKind, Any] = {FactKind.DAG: DagFileFacts, FactKind.IMPORTS: ImportsModuleFacts,
                              FactKind.ROLE: RoleFacts}
# What an entry holds: the facts of a file, or the problems the rules found in them.
ENTRIES: dict[str, tuple[FactKind, Any]] = {
    **{kind.value: (kind, cls) for kind, cls in FACTS.items()},
    **{f"{kind.value}-problems": (kind, CachedProblems) for kind in FACTS},
}


def _entry(kind: FactKind, problems: bool) -> str:
    return f"{kind.value}-problems" if problems else kind.value


def default_key_file() -> Path:
    """Where the signing key lives: the user's cache folder, outside any repository."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mojap-airflow-validation" / "cache-key"


def read_key(path: Path) -> bytes | None:
    """The signing key, created (readable by the user alone) on first use; None when it
    can be neither read nor created: the run then goes without a cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
            return key if len(key) == KEY_BYTES else None
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            key = secrets.token_bytes(KEY_BYTES)
            stream.write(key.hex())
        return key
    except (OSError, ValueError):
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_digest() -> str:
    """The validator's own code: a changed loader must not reuse old facts."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
    names = []
    for folder, dirs, files in os.walk(package):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        names += [os.path.join(folder, name) for name in files if name.endswith(".py")]
    digest = hashlib.sha256()
    for name in sorted(names):
        with open(name, "rb") as stream:
            digest.update(os.path.relpath(name, package).encode() + b"\0" + stream.read())
    return digest.hexdigest()


class FactCache:
    """Facts by (kind, repo-relative path) in ``folder``; see the module docstring."""

    def __init__(self, folder: Path, root: Path, settings: LoadSettings, key: bytes) -> None:
        self.folder, self.root, self.key = folder, root, key
        self._root = os.path.normpath(str(root))
        self._digests: dict[str, str | None] = {}
        self._imports: list[str] | None = None
        self.context = _sha256(json.dumps({
            "format": FORMAT, "validator": __version__, "code": code_digest(),
            "python": sys.version, "lock": self.digest(LOCK_FILE),
            "settings": encode(settings, LoadSettings),
        }, sort_keys=True).encode())
        self.hits = self.misses = 0

    # -- what an entry depends on ----------------------------------------------------------

    def digest(self, rel_path: str) -> str | None:
        """SHA-256 of a repository file's bytes, once per run; None if it cannot be read."""
        if rel_path not in self._digests:
            self._digests[rel_path] = self._read_digest(rel_path)
        return self._digests[rel_path]

    def _read_digest(self, rel_path: str) -> str | None:
        path = os.path.normpath(os.path.join(self._root, rel_path))
        if os.path.isabs(rel_path) or not path.startswith(self._root + os.sep):
            return None
        try:  # never blocks on a FIFO; a file too large to hash is not cached
            data = read_bytes(path, MAX_HASHED_BYTES)
        except Unreadable:
            return None
        return _sha256(data) if len(data) <= MAX_HASHED_BYTES else None

    def imports_files(self) -> list[str]:
        """The Python files under imports/, repo-relative, once per run."""
        if self._imports is None:
            folder = self.root / "imports"
            self._imports = sorted(path.relative_to(self.root).as_posix()
                                   for path in folder.rglob("*.py")) if folder.is_dir() else []
        return self._imports

    def imports_digest(self, contents: bool) -> str:
        """The names of the Python files under imports/, and with ``contents`` their bytes."""
        names = self.imports_files()
        listed = [(name, self.digest(name)) for name in names] if contents else names
        return _sha256(json.dumps(listed).encode())

    def _inputs(self, kind: FactKind, path: str, modules: list[str],
                checks: str | None) -> dict[str, Any] | None:
        """What the entry of ``path`` depends on now; None when it cannot be cached."""
        own = self.digest(path)
        if own is None:
            return None
        inputs: dict[str, Any] = {"file": own}
        if checks is not None:
            inputs["checks"] = checks
        if kind is FactKind.DAG:
            digests = {module: self.digest(module) for module in modules}
            if None in digests.values():
                return None
            inputs.update(modules=digests, imports=self.imports_digest(contents=False))
        elif kind is FactKind.IMPORTS:
            inputs["imports"] = self.imports_digest(contents=True)
        return inputs

    # -- the FactStore protocol (validation.run.store) ---------------------------------------

    def get_facts(self, kind: FactKind, path: str) -> Any:
        return self._get(_entry(kind, False), path, None)

    def put_facts(self, kind: FactKind, path: str, facts: Any) -> bool:
        if not reusable(kind, facts):
            return False
        self._put(_entry(kind, False), path, facts, facts, None)
        return True

    def checks(self, repo: RepoFacts, rule_ids: list[str]) -> str:
        return checks_digest(repo, rule_ids)

    def get_problems(self, kind: FactKind, path: str, checks: str) -> CachedProblems | None:
        found: CachedProblems | None = self._get(_entry(kind, True), path, checks)
        return found

    def put_problems(self, kind: FactKind, path: str, found: CachedProblems, facts: Any,
                     checks: str) -> None:
        if reusable(kind, facts):
            self._put(_entry(kind, True), path, found, facts, checks)

    def get_report(self, config: Config, repo: RepoFacts, listing: list[str]) -> Report | None:
        whole = RunCache.of(self, config, repo, listing)
        return None if whole is None else whole.get()

    def put_report(self, config: Config, repo: RepoFacts, listing: list[str], report: Report,
                   modules: set[str]) -> None:
        whole = RunCache.of(self, config, repo, listing)
        if whole is not None:
            whole.put(report, modules)

    # -- reading and writing -----------------------------------------------------------------

    def _file(self, entry: str, path: str) -> Path:
        return self.folder / f"{entry}-{_sha256(path.encode())[:40]}.json"

    def _get(self, entry: str, path: str, checks: str | None) -> Any:
        """What is stored for ``path`` if every input is unchanged, else None."""
        found = self._read(entry, path, checks)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found

    def _read(self, entry_kind: str, path: str, checks: str | None) -> Any:
        self.digest(path)  # remembered for put(): the file as it was before loading
        kind, cls = ENTRIES[entry_kind]
        try:
            data = self._file(entry_kind, path).read_bytes()
            body = self._verified(data)
            if body is None:
                return None
            entry = json.loads(body, parse_constant=_refuse)
            if not (type(entry) is dict and entry.get("context") == self.context
                    and entry.get("kind") == entry_kind and entry.get("path") == path):
                return None
            modules = entry["inputs"].get("modules", {})
            if type(modules) is not dict:
                return None
            if entry["inputs"] != self._inputs(kind, path, list(modules), checks):
                return None
            value = decode(entry["value"], cls)
            if isinstance(value, CachedProblems):
                return value if all(p.path == path for p in value.problems) else None
            return value if value.path == path else None
        except Exception:  # whatever is wrong with the entry, it is rebuilt
            return None

    def _verified(self, data: bytes) -> bytes | None:
        if len(data) > MAX_ENTRY_BYTES:
            return None
        mac, newline, body = data.partition(b"\n")
        expected = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()
        return body if newline and hmac.compare_digest(mac, expected) else None

    def _put(self, entry_kind: str, path: str, value: Any, facts: Any,
             checks: str | None) -> None:
        """Store ``value`` (facts, or the problems found in ``facts`` with the ``checks``
        digest); failing to write is not an error, the cache is only a shortcut."""
        kind, cls = ENTRIES[entry_kind]
        try:
            modules = facts.imported_modules if isinstance(facts, DagFileFacts) else []
            inputs = self._inputs(kind, path, modules, checks)
            if inputs is None:
                return
            body = json.dumps({
                "context": self.context, "kind": entry_kind, "path": path, "inputs": inputs,
                "value": encode(value, cls),
            }, separators=(",", ":"), allow_nan=False).encode()
            mac = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()
            self._write(self._file(entry_kind, path), mac + b"\n" + body)
        except Exception:
            return

    def _write(self, target: Path, data: bytes) -> None:
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            # The folder ignores itself, whatever the repository's .gitignore says.
            (self.folder / ".gitignore").write_text("*\n", encoding="utf-8")
            (self.folder / "CACHEDIR.TAG").write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# The validator's cache (python -m validation); safe to delete.\n",
                encoding="utf-8")
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".entry-",
                                             suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise


class RunCache:
    """The whole report of ``--all``, reused when nothing it was made from changed: the
    configuration, the repository layout, every file under environments/ and imports/
    (a symlink also by where it points), and every other repository file a DAG imported.
    A warm ``--all`` then reads one entry instead of one per file."""

    def __init__(self, cache: FactCache, inputs: dict[str, Any]) -> None:
        self.cache, self.inputs = cache, inputs

    @classmethod
    def of(cls, cache: FactCache, config: Config, repo: RepoFacts, listing: list[str]
           ) -> RunCache | None:
        files = {}
        for rel_path in listing:
            digest = cache.digest(rel_path)
            if digest is None:
                return None
            path = os.path.join(cache._root, rel_path)
            files[rel_path] = f"{digest} {os.path.realpath(path)}" if os.path.islink(path) \
                else digest
        try:
            return cls(cache, {"config": encode(config, Config), "repo": encode(repo, RepoFacts),
                               "files": files})
        except Exception:  # a setting the codec cannot write: no shortcut
            return None

    def get(self) -> Report | None:
        try:
            body = self.cache._verified(self.cache._file("run", "").read_bytes())
            if body is None:
                return None
            entry = json.loads(body, parse_constant=_refuse)
            modules = entry["modules"]
            if not (entry["context"] == self.cache.context and entry["kind"] == "run"
                    and entry["inputs"] == self.inputs and type(modules) is dict
                    and modules == {name: self.cache.digest(name) for name in modules}):
                return None
            report = decode(entry["value"], Report)
        except Exception:
            return None
        for timing in report.timings:
            timing.cached = True
        self.cache.hits += 1
        return report

    def put(self, report: Report, modules: set[str]) -> None:
        digests = {name: self.cache.digest(name) for name in sorted(modules)}
        if None in digests.values():
            return
        try:
            body = json.dumps({"context": self.cache.context, "kind": "run",
                               "inputs": self.inputs, "modules": digests,
                               "value": encode(report, Report)},
                              separators=(",", ":"), allow_nan=False).encode()
            mac = hmac.new(self.cache.key, body, hashlib.sha256).hexdigest().encode()
            self.cache._write(self.cache._file("run", ""), mac + b"\n" + body)
        except Exception:
            return


def checks_digest(repo: RepoFacts, rule_ids: list[str]) -> str:
    """The repository facts and the rules problems were found with: the problems of a file
    are a pure function of its facts and these."""
    return _sha256(json.dumps([encode(repo, RepoFacts), sorted(rule_ids)],
                              sort_keys=True).encode())


def reusable(kind: FactKind, facts: Any) -> bool:
    """Crashes and import failures that may depend on missing files are loaded again."""
    if kind is FactKind.ROLE:
        return True
    if facts.crash is not None:
        return False
    return facts.import_error is None or facts.import_error.kind not in UNSTABLE_ERRORS


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def open_cache(folder: Path, root: Path, settings: LoadSettings,
               key_file: Path | None = None) -> FactCache | None:
    """The cache in ``folder``, or None when no signing key is available or when the
    folder is a symlink: one committed to the repository in its place could point the
    cache's writes anywhere."""
    if folder.is_symlink():
        return None
    key = read_key(key_file or default_key_file())
    return None if key is None else FactCache(folder, root, settings, key)
