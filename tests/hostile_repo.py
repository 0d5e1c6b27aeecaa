"""A throw-away repository made of the hostile corpus (tests/hostile/) and the cases that
cannot be committed (null bytes, non-UTF-8 bytes, a BOM, 50 MB files, FIFOs)."""

from __future__ import annotations

import codecs
import hashlib
import os
import shutil
from pathlib import Path

from expectations import MARKER

CORPUS = Path(__file__).resolve().parent / "hostile"
DAGS = "environments/dev/dags/hostile"
ROLES = "environments/dev/roles"
BIG = 50 * 1024 * 1024
CLEAN_DAG = (CORPUS / "dags" / "z_after_everything.py").read_text(encoding="utf-8")


# Cases that go round the audit-hook guard (ctypes, or the guard switched off): only
# kernel containment stops them, so without it they are left out (and would do harm).
KERNEL_ONLY = frozenset({"kernel_write.py", "kernel_process.py", "kernel_read.py",
                         "kernel_network.py", "kernel_denial.py", "kernel_signals.py",
                         "forges_others.py", "poisons_cache.py"})
CANARY = "CANARY-13-"  # in every secret the kernel cases try to read


def build(base: Path, extra: dict[str, str] | None = None,
          kernel: bool = True) -> dict[str, Path]:
    """The repository under ``base``/repo, with a home, an AIRFLOW_HOME and a folder
    outside the repository for the DAGs to attack. Returns the folders by name.
    ``extra`` fills more placeholders ({TCP_PORT} ...); without ``kernel`` containment
    the KERNEL_ONLY cases are left out."""
    folders = {name: base / name for name in ("repo", "home", "airflow_home", "outside")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["home"] / "notes.txt").write_text("mine")
    (folders["home"] / ".aws").mkdir()
    (folders["home"] / ".aws" / "credentials").write_text(
        f"[default]\naws_secret_access_key = {CANARY}aws\n")
    (folders["repo"] / ".git").mkdir()
    (folders["repo"] / ".git" / "config").write_text(
        f"[http]\n\textraheader = AUTHORIZATION: basic {CANARY}git\n")
    (folders["airflow_home"] / "airflow.cfg").write_text("[core]\n")
    repo = folders["repo"]
    (repo / "setup.cfg").write_text(
        "[validation]\nenvironments = dev, prod\ndag_timeout = 20\njobs = 1\n"
        "env_allowlist = HOSTILE_ALLOWED\n")
    (repo / DAGS).mkdir(parents=True)
    (repo / DAGS / "README.md").write_text("# hostile\n")
    (repo / ROLES).mkdir(parents=True)
    (repo / "imports").mkdir()
    (repo / "imports" / "__init__.py").write_text("")
    values = {"{HOME}": str(folders["home"]), "{AIRFLOW_HOME}": str(folders["airflow_home"]),
              "{OUTSIDE}": str(folders["outside"]), "{REPO}": str(repo),
              "{XDG}": str(base / "xdg"), "{CACHE}": str(base / "cache"), **(extra or {})}
    for source, target in ((CORPUS / "dags", repo / DAGS), (CORPUS / "roles", repo / ROLES),
                           (CORPUS / "root", repo)):
        for path in sorted(path for path in source.rglob("*") if path.is_file()):
            if path.name in KERNEL_ONLY and not kernel:
                continue
            text = path.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(key, value)
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_text(text, encoding="utf-8")
    _generated(repo)
    return folders


def _generated(repo: Path) -> None:
    dags, roles = repo / DAGS, repo / ROLES
    (dags / "null_bytes.py").write_bytes(b'x = 1\ny = "\0"\n')
    (dags / "not_utf8.py").write_bytes(b'x = 1\ny = "\xff"\n')
    (dags / "bom.py").write_bytes(codecs.BOM_UTF8 + CLEAN_DAG.replace(
        "z_after_everything", "bom").encode())
    _big(dags / "huge.py", b"x = 1\n")
    os.mkfifo(dags / "fifo.py")
    (roles / "airflow_dev_not_utf8.yaml").write_bytes(b"iam_role_name: \xff\n")
    (roles / "airflow_dev_bom.yaml").write_bytes(
        codecs.BOM_UTF8 + b"iam_role_name: airflow_dev_bom\ns3:\n  read_only:\n"
        b"    - mojap-hostile/bom/*\n")
    _big(roles / "airflow_dev_huge.yaml", b"- mojap-hostile/a/*\n")
    (roles / "airflow_dev_deep_flow.yaml").write_text("[" * 100_000 + "]" * 100_000)
    (roles / "airflow_dev_deep_block.yaml").write_text("- " * 100_000 + "x\n")
    (roles / "airflow_dev_deep_indent.yaml").write_text(
        "".join(" " * depth + f"k{depth}:\n" for depth in range(1200)) + " " * 1200 + "x\n")
    os.mkfifo(roles / "airflow_dev_fifo.yaml")
    os.mkfifo(repo / "imports" / "hostile_fifo.py")
    _big(repo / "imports" / "hostile_huge.py", b"x = 1\n")


def _big(path: Path, line: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(line * (BIG // len(line) + 1))


# (path, line, rule) the generated files must yield; the corpus files mark their own.
GENERATED = {
    (f"{DAGS}/null_bytes.py", 2, "DAG001"), (f"{DAGS}/not_utf8.py", 2, "DAG001"),
    (f"{DAGS}/huge.py", 0, "DAG001"), (f"{DAGS}/fifo.py", 0, "DAG001"),
    (f"{ROLES}/airflow_dev_not_utf8.yaml", 1, "ROL001"),
    (f"{ROLES}/airflow_dev_huge.yaml", 1, "ROL001"),
    (f"{ROLES}/airflow_dev_deep_flow.yaml", 1, "ROL001"),
    (f"{ROLES}/airflow_dev_deep_block.yaml", 1, "ROL001"),
    (f"{ROLES}/airflow_dev_fifo.yaml", 1, "ROL001"),
    (f"{ROLES}/airflow_dev_empty.yaml", 1, "ROL002"),
    ("imports/hostile_fifo.py", 0, "IMP003"), ("imports/hostile_huge.py", 0, "IMP003"),
}
# Files that do something odd and then build a valid DAG or role: no problem at all.
HARMLESS = [f"{DAGS}/{name}.py" for name in (
    "signal_handlers", "threads_left", "atexit_handler", "output_flood", "reads_secrets",
    "writes_everywhere", "z_after_everything", "bom")] + [f"{ROLES}/airflow_dev_hostile.yaml"]
# ... and those that try, round the guard, what only the kernel stops (KERNEL_ONLY).
KERNEL_HARMLESS = [f"{DAGS}/{name}.py" for name in (
    "kernel_write", "kernel_process", "kernel_read", "kernel_network", "kernel_denial",
    "kernel_signals", "poisons_cache")]


def marked(repo: Path) -> set[tuple[str, int, str]]:
    """(path, line, rule) of every ``# expect:`` marker in the repository's text files."""
    found = set()
    for path in sorted(repo.rglob("*")):
        if not path.is_file() or path.suffix not in (".py", ".yaml"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) > 1_000_000:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in MARKER.finditer(line):
                found.add((path.relative_to(repo).as_posix(), 0 if match["file"] else number,
                           match["rule"]))
    return found


def tree_hash(folder: Path, skip: tuple[str, ...] = (".validation_cache",)) -> dict[str, str]:
    """Every entry under ``folder``: its kind, mode and content hash (FIFOs not opened)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [name for name in dirnames if name not in skip]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            digest = f"{info.st_mode:o}"
            if path.is_file() and not path.is_symlink():
                digest += hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_symlink():
                digest += os.readlink(path)
            found[path.relative_to(folder).as_posix()] = digest + f" {info.st_mtime_ns}"
    return found


def remove(base: Path) -> None:
    shutil.rmtree(base, ignore_errors=True)
