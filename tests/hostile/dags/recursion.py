def forever(depth):
    return forever(depth + 1)  # expect: DAG001


forever(0)
