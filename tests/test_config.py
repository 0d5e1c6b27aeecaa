"""Rule selection and settings: setup.cfg [validation], the command line on top of it,
per-file ignores, and usage errors that name the unknown key or rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from validation.cli import main
from validation.config import Config, ConfigError, enabled_rules, ignored_in, load_config
from validation.registry import all_rules

# A role file with two problems: ROL007 (line 1, an error) and ROL009 (line 2, an error).
ROLE = "environments/dev/roles/airflow_dev_team.yaml"
ROLE_TEXT = "iam_role_name: airflow_dev_other\nsecrets: banana\n"
DEFAULT = frozenset(rule_id for rule_id, rule in all_rules().items() if rule.default)


def make_repo(root: Path, config: str = "") -> Path:
    (root / ROLE).parent.mkdir(parents=True)
    (root / ROLE).write_text(ROLE_TEXT)
    dag = root / "environments/dev/dags/team/dag.py"  # uses the role (else ROL016)
    dag.parent.mkdir(parents=True)
    dag.write_text('ROLE = "airflow_dev_team"\nBasicKubernetesPodOperator(role=ROLE)\n')
    (root / "setup.cfg").write_text(f"[validation]\n{config}")
    return root


def rules_reported(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> list[str]:
    main(["--root", str(root), "--format", "json", *argv, str(root / ROLE)])
    problems = json.loads(capsys.readouterr().out)["problems"]
    return sorted({problem["rule"] for problem in problems})


def test_by_default_every_default_rule_runs(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    make_repo(tmp_path)
    assert enabled_rules(load_config(tmp_path)) == DEFAULT
    assert rules_reported(capsys, tmp_path) == ["ROL007", "ROL009"]


@pytest.mark.parametrize(("config", "argv", "expected"), [
    ("ignore = ROL007", [], ["ROL009"]),
    ("ignore = rol", [], []),  # a family, in any case
    ("select = ROL009", [], ["ROL009"]),
    ("select = ROL009\nextend_select = ROL007", [], ["ROL007", "ROL009"]),
    ("select = ROL\nignore = ROL009", [], ["ROL007"]),
    # the command line wins: --select replaces the file's select and ignore
    ("ignore = ROL007, ROL009", ["--select", "ROL007"], ["ROL007"]),
    ("select = ROL009", ["--select", "ROL007,ROL009"], ["ROL007", "ROL009"]),
    # --extend-select and --ignore add to the file's selection
    ("ignore = ROL007, ROL009", ["--extend-select", "ROL009"], ["ROL009"]),
    ("select = ROL007, ROL009", ["--ignore", "ROL007"], ["ROL009"]),
    ("", ["--select", "DAG"], []),
])
def test_selection_in_setup_cfg_and_on_the_command_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, config: str, argv: list[str],
        expected: list[str]) -> None:
    make_repo(tmp_path, config + "\n")
    assert rules_reported(capsys, tmp_path, *argv) == expected


def test_a_family_selects_its_default_rules_and_an_opt_in_rule_needs_its_id() -> None:
    opt_in = {rule_id for rule_id, rule in all_rules().items() if not rule.default}
    for rule_id in opt_in:
        family = rule_id[:3]
        assert rule_id not in enabled_rules(Config(select=(family,)))
        assert rule_id in enabled_rules(Config(extend_select=(rule_id,)))
        assert rule_id not in enabled_rules(Config(extend_select=(rule_id,), ignore=(family,)))


def test_per_file_ignores_apply_to_matching_paths_only(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    make_repo(tmp_path, "per_file_ignores =\n    environments/dev/roles/*.yaml: ROL009\n"
              "    environments/prod/*: ROL\n")
    config = load_config(tmp_path)
    assert ignored_in(config, ROLE) == {"ROL009"}
    assert "ROL001" in ignored_in(config, "environments/prod/roles/airflow_prod_x.yaml")
    assert ignored_in(config, "imports/a.py") == frozenset()
    assert rules_reported(capsys, tmp_path) == ["ROL007"]
    # --select does not undo a per-file ignore: it is about the file, like a suppression
    assert rules_reported(capsys, tmp_path, "--select", "ROL009") == []


@pytest.mark.parametrize(("config", "message"), [
    ("select = ROL099", "'select = ROL099' is not valid: unknown rule 'ROL099'"),
    ("ignore = DAG006, XYZ", "unknown rule 'XYZ'"),
    ("per_file_ignores = imports/*.py", "is not 'GLOB: RULE, RULE'"),
    ("per_file_ignores = imports/*.py: IMP009", "unknown rule 'IMP009'"),
    ("shared_bucket = alpha-everyone", "unknown key 'shared_bucket'"),
    ("slow_import_seconds = -1", "'slow_import_seconds = -1' is not valid"),
    ("memory_limit_mb = lots", "'memory_limit_mb = lots' is not valid"),
])
def test_a_bad_setting_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path, config: str,
                                                  message: str) -> None:
    make_repo(tmp_path, config + "\n")
    assert main(["--root", str(tmp_path), str(tmp_path / ROLE)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    with pytest.raises(ConfigError):
        load_config(tmp_path)


@pytest.mark.parametrize(("argv", "message"), [
    (["--select", "DAG06"], "'--select DAG06' is not valid: unknown rule 'DAG06'"),
    (["--ignore", "ROL001,ROL100"], "unknown rule 'ROL100'"),
    (["--extend-select", "ROL"], None),
])
def test_an_unknown_rule_on_the_command_line_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str],
        message: str | None) -> None:
    make_repo(tmp_path)
    code = main(["--root", str(tmp_path), *argv, str(tmp_path / ROLE)])
    err = capsys.readouterr().err
    if message is None:
        assert code == 1
    else:
        assert (code, message in err) == (2, True)


def test_allowlists_and_budgets_reach_the_rules(tmp_path: Path) -> None:
    make_repo(tmp_path, "imports_allowlist = high_memory_constants\n"
              "shared_buckets = alpha-everyone, team-share-*\n"
              "control_plane_buckets = mojap-airflow-dev\n"
              "cadet_roles = airflow_prod_cadet\n"
              "image_registries = registry.example.com\n"
              "slow_import_seconds = 5\n"
              "memory_limit_mb = 2048\n")
    config = load_config(tmp_path)
    settings = config.rule_settings()
    assert settings.imports_allowlist == {"high_memory_constants"}
    assert settings.shared_buckets == ("alpha-everyone", "team-share-*")
    assert settings.control_plane_buckets == ("mojap-airflow-dev",)
    assert settings.cadet_roles == {"airflow_prod_cadet"}
    assert settings.image_registries == ("registry.example.com",)
    assert settings.slow_import_seconds == 5.0
    assert config.memory_limit_mb == 2048


def test_list_rules_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(all_rules())
    assert lines[0].split()[:3] == ["STR001", "unknown-location", "error"]
    assert main(["--explain", "dag006"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("DAG006 task-id-chars (error)\n\nA task_id or pod name uses")
    assert "Bad:" in out and "Good:" in out
    assert main(["--explain", "task-id-chars"]) == 0
    assert capsys.readouterr().out == out
    assert main(["--explain", "DAG06"]) == 2
    assert "no such rule; did you mean DAG006?" in capsys.readouterr().err
