"""Issue 11's cases, run from outside as a user would: what the validator says of each.

    .venv/bin/python benchmarks/issue11_cases.py            # this checkout's validator
    PYTHONPATH=/path/to/old/checkout .venv/bin/python benchmarks/issue11_cases.py

The second form runs another checkout's ``validation`` package (PYTHONPATH comes before
the editable install), for a before/after comparison. Each case builds its repository in
a temporary folder from tests/fixtures (the user guide's example, pasted as its steps
say; the fixture DAG repository), runs ``python -W ignore -m validation`` in a child
process, and prints the exit status and the problem lines (rule, line, message start).
Nothing is asserted; the tests assert (tests/test_pods.py, test_changes.py,
test_source_dags.py, test_root.py, test_security.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "tests" / "fixtures" / "guide"
DAG = "environments/dev/dags/alice/copy_file_s3.py"
ROLE = "environments/dev/roles/airflow_dev_alice_example.yaml"
ROLE_TEXT = "s3:\n  read_only:\n    - alpha-everyone/*\n"


def validate(root: Path, *argv: str, cwd: Path | None = None) -> str:
    result = subprocess.run([sys.executable, "-W", "ignore", "-m", "validation", *argv],
                            cwd=cwd or root, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "VALIDATION_NO_CACHE": "1", "NO_COLOR": "1"})
    lines = [line[:260] for line in result.stdout.splitlines()]
    if result.returncode not in (0, 1):
        lines.append(f"stderr: {result.stderr.strip()[-300:]}")
    return f"exit {result.returncode}\n  " + "\n  ".join(lines)


def guide(folder: Path, *, comma: bool = False) -> Path:
    """The guide's example as step 3 makes it: <<username>> is "alice"; the trailing
    comma kept or removed; the role file named and its iam_role_name set."""
    root = folder / "guide"
    shutil.copytree(GUIDE, root)
    dag = root / DAG
    text = dag.read_text()
    if not comma:
        text = text.replace("\n},\n", "\n}\n").replace('f"{username}.write_to_s3"',
                                                       'f"{username}.copy_file_s3"')
    dag.write_text(text)
    (dag.parent / "README.md").write_text("# alice\n")
    role = root / ROLE
    role.write_text(role.read_text().replace("{username}", "alice"))
    return root


def git(root: Path, *argv: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *argv], cwd=root,
                   check=True, capture_output=True)


def case_pods(folder: Path) -> str:
    """1. A helper, a loop and a DAG-file operator class making bad pods."""
    root = folder / "dagrepo"
    shutil.copytree(REPO / "tests" / "fixtures" / "dagrepo", root)
    return validate(root, "environments/dev/dags/pods/made_by_helpers.py")


def case_changed_since(folder: Path) -> str:
    """2. The guide's example (f-string role) with its role deleted, renamed, present."""
    root = guide(folder)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "guide")
    out = ["present, --all: " + validate(root, "--all")]
    (root / ROLE).unlink()
    out.append("deleted, --changed-since main: " + validate(root, "--changed-since", "main"))
    (root / ROLE.replace("example", "examples")).write_text(ROLE_TEXT)
    out.append("renamed, --changed-since main: " + validate(root, "--changed-since", "main"))
    return "\n".join(out)


def case_subfolder(folder: Path) -> str:
    """3. Run from the DAG's folder, with a wrong dag_id."""
    root = guide(folder)
    dag = root / DAG
    dag.write_text(dag.read_text().replace('f"{username}.copy_file_s3"', '"copy_file_s3"'))
    return validate(root, "copy_file_s3.py", cwd=dag.parent)


def case_wildcard(folder: Path) -> str:
    """4. A dev role writing a wildcard bucket, and a prod role writing its own bucket."""
    root = folder / "roles"
    (root / "environments/dev/roles").mkdir(parents=True)
    (root / "environments/prod/roles").mkdir(parents=True)
    (root / "environments/dev/roles/airflow_dev_team.yaml").write_text(
        "s3:\n  write_only:\n    - alpha-*/team/*\n")
    (root / "environments/prod/roles/airflow_prod_team.yaml").write_text(
        "s3:\n  write_only:\n    - alpha-team-prod/out/*\n")
    return validate(root, "--all", "--select", "SEC001,SEC002")


def case_one_round(folder: Path) -> str:
    """5. The guide's example before its trailing comma is fixed."""
    return validate(guide(folder, comma=True), DAG)


def case_suggestion(folder: Path) -> str:
    """6. A missing role, with another project's close role, and the file written .yml."""
    root = guide(folder)
    dag = root / DAG
    dag.write_text(dag.read_text().replace('ROLE = f"airflow_dev_{username}_example"',
                                           'ROLE = "airflow_dev_alice_pipeline"'))
    (root / "environments/dev/roles/airflow_dev_bob_pipeline.yaml").write_text(ROLE_TEXT)
    out = ["another project's role: " + validate(root, DAG, "--select", "DAG007")]
    (root / "environments/dev/roles/airflow_dev_alice_pipeline.yml").write_text(ROLE_TEXT)
    out.append("written .yml: " + validate(root, DAG, "--select", "DAG007"))
    return "\n".join(out)


CASES = [case_pods, case_changed_since, case_subfolder, case_wildcard, case_one_round,
         case_suggestion]


def main() -> None:
    import validation

    print(f"validation from {Path(validation.__file__).parent}")
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            print(f"\n## {case.__doc__}\n{case(Path(folder))}")


if __name__ == "__main__":
    main()
