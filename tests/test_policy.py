"""--show-policy and --policy-diff with the real iam_builder, in real throwaway git
repositories (a copy of the example repository)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from gitrepos import GIT, commit, edit, example_repo, git
from iam_builder.iam_builder import build_iam_policy

from validation.cli import main
from validation.policy import Access, expand

needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")

DEV_ROLE = "environments/dev/roles/airflow_dev_examples.yaml"
PROD_ROLE = "environments/prod/roles/airflow_prod_examples.yaml"
NEW_PATH = "    - alpha-airflow-examples-prod/use_imports/*"
BUCKET = "arn:aws:s3:::alpha-airflow-examples-prod"
WRITE_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:GetObjectAcl",
                 "s3:GetObjectTagging", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl",
                 "s3:PutObjectTagging", "s3:RestoreObject")


def _cli(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--root", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- expanding statements -----------------------------------------------------------------


def test_expand_pairs_effects_and_conditions() -> None:
    policy = {"Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["a", "b"]},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "c"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "r",
         "Condition": {"StringLike": {"iam:PassedToService": ["glue.amazonaws.com"]}}},
        {"Effect": "Allow", "NotAction": ["iam:*", "s3:*"], "Resource": "*"},
    ]}
    assert expand(policy) == {
        Access("Allow", "s3:GetObject", "a"), Access("Allow", "s3:GetObject", "b"),
        Access("Allow", "s3:PutObject", "a"), Access("Allow", "s3:PutObject", "b"),
        Access("Deny", "s3:*", "c"),
        Access("Allow", "iam:PassRole", "r",
               '{"StringLike":{"iam:PassedToService":["glue.amazonaws.com"]}}'),
        Access("Allow", "NotAction iam:*, s3:*", "*"),
    }


def test_what_iam_builder_emits() -> None:
    """Every setting at once: Allow and Deny, Action and Resource, a Condition on some,
    never NotAction or NotResource (which expand would keep whole)."""
    config = {"iam_role_name": "airflow_dev_cadet_x", "athena": {"write": True},
              "glue_job": True, "secrets": "readwrite", "bedrock": True,
              "s3": {"read_only": ["a-b/*"], "write_only": ["c-d/*"], "read_write": ["e-f/*"],
                     "deny": ["e-f/x/*"]},
              "secretsmanager": {"read_only": ["name"]},
              "kms": ["arn:aws:kms:eu-west-1:1:key/x"], "cloudwatch_athena_query_executions": True,
              "is_cadet_deployer": True, "allowed_database_names": ["db"]}
    statements = build_iam_policy(config)["Statement"]
    keys = set().union(*(statement.keys() for statement in statements))
    assert keys == {"Sid", "Effect", "Action", "Resource", "Condition"}
    assert {statement["Effect"] for statement in statements} == {"Allow", "Deny"}
    denied = Access("Deny", "s3:PutObject", "arn:aws:s3:::e-f/x/*")
    assert denied in expand(build_iam_policy(config))


# -- --show-policy ------------------------------------------------------------------------


REPO = Path(__file__).resolve().parent.parent


def test_show_policy_prints_what_iam_builder_builds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, REPO, "--show-policy", str(REPO / PROD_ROLE))
    config = yaml.safe_load((REPO / PROD_ROLE).read_text())
    assert (code, err) == (0, "")
    assert json.loads(out) == build_iam_policy(config)


def test_show_policy_of_a_broken_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roles = tmp_path / "environments" / "dev" / "roles"
    roles.mkdir(parents=True)
    (roles / "airflow_dev_x.yaml").write_text("s3:\n  read_onyl:\n    - a-bucket/*\n")
    code, out, err = _cli(capsys, tmp_path, "--show-policy",
                          str(roles / "airflow_dev_x.yaml"))
    assert (code, out) == (1, "")
    assert "environments/dev/roles/airflow_dev_x.yaml:2:3: ROL003 [iam-builder-rejects]" in err
    assert "unknown key `read_onyl` in `s3`: did you mean `read_only`?" in err
    assert err.endswith("airflow_dev_x.yaml: iam_builder builds no policy from this file\n")
    assert "Traceback" not in err


@pytest.mark.parametrize(("path", "message"), [
    ("environments/dev/roles/airflow_dev_nope.yaml", "no such file in the repository"),
    ("environments/dev/dags/examples/use_imports.py", "not a role file"),
    ("environments/dev/roles", "no such file in the repository"),
])
def test_show_policy_of_something_else(capsys: pytest.CaptureFixture[str], path: str,
                                       message: str) -> None:
    code, out, err = _cli(capsys, REPO, "--show-policy", str(REPO / path))
    assert (code, out) == (2, "")
    assert message in err


# -- --policy-diff ------------------------------------------------------------------------


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = example_repo(tmp_path / "repo")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def _status(root: Path) -> tuple[str, str]:
    return git(root, "status", "--porcelain"), git(root, "rev-parse", "HEAD")


@needs_git
def test_policy_diff_text(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, PROD_ROLE, NEW_PATH, NEW_PATH + "\n    - alpha-airflow-examples-prod/reports/*")
    edit(repo, DEV_ROLE, "multiple_tasks/*", "multiple_tasks/out/*")
    before = _status(repo)
    code, out, err = _cli(capsys, repo, "--policy-diff", "main", "--format", "text")
    assert (code, err) == (0, "")
    assert _status(repo) == before  # the working tree and HEAD are untouched
    dev, prod, summary = out.split("\n\n")
    assert dev.splitlines()[0] == f"{DEV_ROLE} (dev, modified)"
    assert prod.splitlines() == [f"{PROD_ROLE} (prod, modified)  NEW ACCESS IN PROD: review"] + [
        f"  + Allow {action:<22}  {BUCKET}/reports/*" for action in WRITE_ACTIONS]
    assert summary == ("2 role files changed since main: 20 access entries added, 10 removed; "
                       "review new access in prod: airflow_prod_examples.\n")


@needs_git
def test_policy_diff_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / PROD_ROLE).unlink()
    new = repo / "environments/dev/roles/airflow_dev_examples_new.yaml"
    new.write_text("s3:\n  deny:\n    - alpha-airflow-examples-dev/secret/*\n")
    code, out, _ = _cli(capsys, repo, "--policy-diff", "main", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["ref"] == "main"
    assert document["base"] == git(repo, "rev-parse", "main").strip()
    added, removed = document["roles"]
    assert (added["path"], added["env"], added["role"], added["status"], added["review"]) == (
        "environments/dev/roles/airflow_dev_examples_new.yaml", "dev", "airflow_dev_examples_new",
        "added", False)
    assert {"effect": "Deny", "action": "s3:PutObject", "condition": None,
            "resource": "arn:aws:s3:::alpha-airflow-examples-dev/secret/*"} in added["added"]
    assert removed["status"] == "removed" and removed["added"] == []
    assert len(removed["removed"]) == len(expand(build_iam_policy(
        yaml.safe_load(git(repo, "show", f"main:{PROD_ROLE}")))))
    assert removed["review"] is False  # access removed from prod needs no flag


@needs_git
def test_policy_diff_github_appends_to_the_step_summary(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    edit(repo, PROD_ROLE, NEW_PATH, NEW_PATH + "\n    - alpha-airflow-examples-prod/a|b/*")
    code, out, _ = _cli(capsys, repo, "--policy-diff", "main")  # auto is github in Actions
    assert code == 0
    assert out.endswith(f"::warning file={PROD_ROLE},title=new access in prod::"
                        "airflow_prod_examples gains 10 access entries in prod (see the step "
                        "summary): review before merging\n")
    markdown = summary.read_text()
    assert markdown.startswith("earlier step\n\n## What the role changes grant (since `main`)")
    assert (f"### `{PROD_ROLE}` (prod, modified) :warning: **new access in prod: review**"
            in markdown)
    assert f"| added | Allow | `s3:PutObject` | `{BUCKET}/a\\|b/*` |  |" in markdown


@needs_git
def test_a_role_that_no_longer_builds(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, DEV_ROLE, "read_write:", "read_writ:")
    code, out, _ = _cli(capsys, repo, "--policy-diff", "main", "--format", "text")
    assert code == 1
    assert ("  ! builds no policy now: line 10: ROL003 unknown key `read_writ` in `s3`: did you "
            "mean `read_write`?") in out
    assert "+ Allow" not in out and "- Allow" not in out


@needs_git
def test_a_role_that_did_not_build_at_the_ref(repo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, DEV_ROLE, "read_write:", "read_writ:")
    commit(repo, "broken")
    git(repo, "branch", "-q", "-f", "main")
    edit(repo, DEV_ROLE, "read_writ:", "read_write:")
    code, out, _ = _cli(capsys, repo, "--policy-diff", "main", "--format", "text")
    assert code == 0
    assert "  ! built no policy at main: line 10: ROL003 unknown key `read_writ`" in out
    assert "  + Allow s3:PutObject" in out


@needs_git
def test_comment_only_changes_and_no_changes(repo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, repo, "--policy-diff", "main", "--format", "text") == (
        0, "No role file changed since main.\n", "")
    edit(repo, DEV_ROLE, "# Role shared", "# The role shared")
    code, out, _ = _cli(capsys, repo, "--policy-diff", "main", "--format", "text")
    assert out == (f"{DEV_ROLE} (dev, modified)\n  no change in access\n\n"
                   "1 role file changed since main: 0 access entries added, 0 removed.\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["--policy-diff", "nope"], "--policy-diff: unknown git ref 'nope'"),
    (["--policy-diff", "main", "--format", "sarif"], "prints text, json or github, not sarif"),
    (["--policy-diff", "main", DEV_ROLE], "take no PATH"),
    (["--policy-diff", "main", "--show-policy", DEV_ROLE], "not both"),
])
@needs_git
def test_policy_diff_usage_errors(repo: Path, capsys: pytest.CaptureFixture[str],
                                  argv: list[str], message: str) -> None:
    code, out, err = _cli(capsys, repo, *argv)
    assert (code, out) == (2, "")
    assert message in err
