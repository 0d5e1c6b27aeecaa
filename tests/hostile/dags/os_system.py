import os

os.system("sleep 600 &")  # expect: DAG001
