"""Validate a repository of Airflow DAGs and IAM Builder role configs before deploy."""

__version__ = "0.1.0"
