"""Shared modules for the DAGs in environments/*/dags/.

Each module name starts with the name of the project folder that uses it
(e.g. examples_constants.py for the DAGs in dags/examples/). A DAG imports
one with `from imports.examples_constants import REPO_NAME`.
Modules here hold constants and helper functions only: never define a DAG here.
"""
