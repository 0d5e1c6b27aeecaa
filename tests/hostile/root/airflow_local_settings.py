# Airflow imports this module into each of its processes (cluster policies); the
# validator must neither import it nor let a DAG child do so behind its back.
# expect-file: STR010
with open("{OUTSIDE}/local_settings_ran", "w") as handle:
    handle.write("ran")
