raise KeyboardInterrupt  # expect: DAG002
