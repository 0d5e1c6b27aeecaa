"""The DAG import machinery: DAG files and imports modules imported with the real
Airflow in contained worker processes, turned into plain facts."""
