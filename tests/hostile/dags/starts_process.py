import subprocess

subprocess.Popen(["sleep", "600"])  # expect: DAG001
