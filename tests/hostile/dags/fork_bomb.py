import os

# Bounded, in case the guard ever fails: each fork is refused, the first one fails the import.
for _ in range(4):
    os.fork()  # expect: DAG001
