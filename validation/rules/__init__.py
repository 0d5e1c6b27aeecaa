"""The rules, one module per family. Importing this package registers every rule."""

from validation.rules import dags, imports, pods, roles, structure  # noqa: F401
