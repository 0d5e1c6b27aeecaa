# Airflow imports every module of plugins/ as a plugin; the validator must not.
# expect-file: STR010
with open("{OUTSIDE}/plugin_ran", "w") as handle:
    handle.write("ran")
