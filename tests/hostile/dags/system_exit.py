raise SystemExit(0)  # expect: DAG002
