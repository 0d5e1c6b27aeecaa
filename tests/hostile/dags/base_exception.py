class Escape(BaseException):
    pass


raise Escape("not an Exception")  # expect: DAG002
