"""The routing table: every route, the catch-alls, and the paths that fall between them."""

from __future__ import annotations

import pytest

from validation.routes import Kind, Route, route

D, R, M, U, X = Kind.DAG, Kind.ROLE, Kind.MISPLACED_DAG, Kind.UNKNOWN, Kind.UNCHECKED
E = Kind.ROLE_EXTENSION

ROUTE_TABLE: list[tuple[str, tuple[Kind, str | None, str | None, str | None]]] = [
    # DAG files: environments/<env>/dags/<project>/<dag>.py
    ("environments/dev/dags/project_1/dag.py", (D, "dev", "project_1", "dag")),
    ("environments/prod/dags/alice/copy_file_s3.py", (D, "prod", "alice", "copy_file_s3")),
    ("environments/staging/dags/p/d.py", (D, "staging", "p", "d")),  # env checked by STR002
    ("environments/dev/dags/My-Project/copy file.py", (D, "dev", "My-Project", "copy file")),
    ("environments/dev/dags/p/a.b.py", (D, "dev", "p", "a.b")),
    ("environments/dev/dags/p/café.py", (D, "dev", "p", "café")),
    # READMEs
    ("environments/dev/dags/project_1/README.md", (Kind.README, "dev", "project_1", None)),
    # DAG files nested too deep or directly in dags/
    ("environments/dev/dags/p/helpers/utils.py", (M, "dev", None, "utils")),
    ("environments/dev/dags/p/a/b/c.py", (M, "dev", None, "c")),
    ("environments/dev/dags/copy_file_s3.py", (M, "dev", None, "copy_file_s3")),
    # role files
    ("environments/dev/roles/airflow_dev_x.yaml", (R, "dev", None, "airflow_dev_x")),
    ("environments/prod/roles/airflow_prod_x.yaml", (R, "prod", None, "airflow_prod_x")),
    ("environments/dev/roles/airflow_dev_x.yml", (E, "dev", None, "airflow_dev_x")),
    ("environments/dev/roles/r.json", (E, "dev", None, "r")),
    # imports/
    ("imports/__init__.py", (Kind.IMPORTS_INIT, None, None, None)),
    ("imports/project_3_constants.py", (Kind.IMPORTS_MODULE, None, None, "project_3_constants")),
    # catch-all inside an environment folder
    ("environments/dev/dag/x/a.py", (U, "dev", None, None)),
    ("environments/dev/roles/sub/r.yaml", (U, "dev", None, None)),
    ("environments/dev/roles/r.YAML", (U, "dev", None, None)),
    ("environments/dev/roles/r.txt", (U, "dev", None, None)),
    ("environments/dev/dags/p/notes.txt", (U, "dev", None, None)),
    ("environments/dev/dags/p/dag.PY", (U, "dev", None, None)),
    ("environments/dev/dags/p/sub/README.md", (U, "dev", None, None)),
    ("environments/dev/dags/README.md", (U, "dev", None, None)),
    ("environments/dev/dags/p", (U, "dev", None, None)),
    ("environments/dev/dags", (U, "dev", None, None)),
    ("environments/dev/README.md", (U, "dev", None, None)),
    ("environments/dev", (U, "dev", None, None)),
    # catch-all for environments/ and imports/ themselves
    ("environments", (U, None, None, None)),
    ("imports", (U, None, None, None)),
    ("imports/sub/x.py", (U, None, None, None)),
    ("imports/README.md", (U, None, None, None)),
    ("imports/__pycache__/x.cpython-311.pyc", (U, None, None, None)),
    # everything else is not checked
    ("README.md", (X, None, None, None)),
    ("setup.cfg", (X, None, None, None)),
    ("validation/rules/structure.py", (X, None, None, None)),
    ("tests/test_routes.py", (X, None, None, None)),
    ("environment/dev/dags/p/d.py", (X, None, None, None)),
    ("environmentsx/dev/dags/p/d.py", (X, None, None, None)),
    ("importsx/a.py", (X, None, None, None)),
    (".", (X, None, None, None)),
]


@pytest.mark.parametrize("path, expected", ROUTE_TABLE, ids=[p for p, _ in ROUTE_TABLE])
def test_route(path: str, expected: tuple[Kind, str | None, str | None, str | None]) -> None:
    assert route(path) == Route(*expected)


def test_every_kind_is_in_the_table() -> None:
    assert {expected[0] for _, expected in ROUTE_TABLE} == set(Kind)


@pytest.mark.parametrize(
    "kind, checked", [(Kind.DAG, True), (Kind.UNKNOWN, True), (Kind.UNCHECKED, False)]
)
def test_checked(kind: Kind, checked: bool) -> None:
    assert Route(kind).checked is checked
