"""Loaders turn files on disk into facts (validation.facts). Only loaders read files,
and only the DAG loader's workers import Airflow."""
