"""A DAG file cannot write into the descriptors its worker inherited from the parent: the
terminal, pipes and open files (pytest's capture files) are /dev/null in the worker.

tests/hostile/dags/forges_outcome.py writes a pickle to every descriptor it has; before
the fix its bytes reached the terminal of `make test` through pytest's saved descriptor.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pytest

from validation.cli import main

CORPUS = Path(__file__).resolve().parent / "hostile" / "dags"
DAG = "environments/dev/dags/hostile/forges_outcome.py"


def _repo(root: Path) -> Path:
    (root / "outside").mkdir(parents=True)
    (root / "repo" / DAG).parent.mkdir(parents=True)
    (root / "repo" / "setup.cfg").write_text("[validation]\njobs = 1\n")
    text = (CORPUS / "forges_outcome.py").read_text(encoding="utf-8")
    (root / "repo" / DAG).write_text(text.replace("{OUTSIDE}", str(root / "outside")))
    return root / "repo"


def test_a_file_writes_nothing_to_the_parents_terminal_or_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    monkeypatch.chdir(repo)
    master, terminal = os.openpty()
    opened = tempfile.TemporaryFile()  # an open regular file, as pytest's capture has
    read_end, write_end = os.pipe()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = main(["--no-cache", "--select", "DAG002", "--format", "json", DAG])
        os.set_blocking(master, False)
        with pytest.raises(BlockingIOError):
            os.read(master, 1024)
        os.close(write_end)
        assert os.read(read_end, 1024) == b""
        opened.seek(0)
        assert opened.read() == b""
    finally:
        for fd in (master, terminal, read_end):
            os.close(fd)
        opened.close()
    assert status == 1, out.getvalue()
    assert '"rule": "DAG002"' in out.getvalue()
    assert not (tmp_path / "outside" / "pwned").exists()
