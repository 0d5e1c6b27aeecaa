"""The rules, one module per family. Importing this package registers every rule."""

from validation.rules import (  # noqa: F401
    dag_code,
    dags,
    imports,
    pods,
    role_grants,
    roles,
    security,
    structure,
    task_roles,
)
