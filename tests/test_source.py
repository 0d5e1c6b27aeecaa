"""Source facts: locating literals and parse-time start dates without running the file."""

from __future__ import annotations

import textwrap

from validation.loaders.source import source_facts

SOURCE = textwrap.dedent('''\
    dag = DAG(
        dag_id="examples.a",
        start_date=datetime.now(),
    )
    for n in range(2):
        Op(dag=dag, task_id=f"t-{n}", role=ROLE)
    ARGS = {"owner": "me", "start_date": days_ago(2)}
    from imports.examples_constants import X
''')


def test_locate_finds_the_keyword_of_the_call_made_at_a_line() -> None:
    facts = source_facts(SOURCE)
    assert facts.locate(1, "dag_id") == (2, 12)
    assert facts.locate(6, "task_id") == (6, 25)
    assert facts.locate(6, "role") == (6, 40)


def test_locate_gives_none_when_the_source_does_not_show_the_keyword() -> None:
    facts = source_facts(SOURCE)
    assert facts.locate(6, "dag_id") is None
    assert facts.locate(0, "dag_id") is None
    assert facts.call_position(1) == (1, 7)
    assert facts.call_position(5) == (5, 10)  # range(2): calls without keywords count too
    assert facts.call_position(4) == (4, 0)  # no call starts on line 4


def test_parse_time_start_dates_in_arguments_and_default_args() -> None:
    found = [(call.name, call.line) for call in source_facts(SOURCE).parse_time_start_dates]
    assert found == [("now", 3), ("days_ago", 7)]


def test_a_fixed_start_date_is_not_flagged() -> None:
    assert source_facts("DAG(start_date=datetime(2022, 1, 1))").parse_time_start_dates == []


def test_imports_are_recorded_with_their_line() -> None:
    assert source_facts(SOURCE).imports == [("imports.examples_constants", 8)]


def test_syntax_errors_and_null_bytes_become_facts() -> None:
    error = source_facts("x = (\n").syntax_error
    assert error is not None and (error.kind, error.line) == ("SyntaxError", 1)
    assert source_facts("x = 1\0\n").syntax_error is not None


def test_parse_time_calls_are_followed_through_a_variable() -> None:
    source = textwrap.dedent('''\
        YESTERDAY = days_ago(1)
        TODAY: datetime = pendulum.today("UTC")
        FIXED = datetime(2022, 1, 1)
        ARGS = {"start_date": YESTERDAY}
        dag = DAG(start_date=TODAY, default_args=ARGS)
        other = DAG(start_date=FIXED)
    ''')
    found = [(call.name, call.line, call.column)
             for call in source_facts(source).parse_time_start_dates]
    assert found == [("days_ago", 1, 13), ("today", 2, 19)]


def test_imported_names_in_every_form_with_their_position() -> None:
    source = "import a.b, c\nfrom d.e import f, g as h\nfrom . import rel\n"
    found = [(n.module, n.name, n.line, n.column, n.qualified)
             for n in source_facts(source).imported_names]
    assert found == [
        ("a.b", None, 1, 8, "a.b"), ("c", None, 1, 13, "c"),
        ("d.e", "f", 2, 17, "d.e.f"), ("d.e", "g", 2, 20, "d.e.g"),
    ]


def test_string_literals_carry_the_name_they_are_bound_to() -> None:
    source = textwrap.dedent('''\
        PASSWORD = "a"
        self.token: str = "b"
        env["API_KEY"] = "c"
        f(secret="d", other=g("e"))
        x = {"password": "f", 1: "g"}
    ''')
    found = [(s.value, s.name, s.line, s.column) for s in source_facts(source).strings]
    assert found == [
        ("a", "PASSWORD", 1, 12), ("b", "token", 2, 19), ("API_KEY", None, 3, 5),
        ("c", "API_KEY", 3, 18), ("d", "secret", 4, 10), ("e", None, 4, 23),
        ("password", None, 5, 6), ("f", "password", 5, 18), ("g", None, 5, 26),
    ]


def test_parse_time_variables_are_followed_through_other_variables() -> None:
    source = textwrap.dedent('''\
        NOW = datetime.now()
        START = NOW - timedelta(days=1)
        START = START.replace(hour=0)
        dag = DAG(start_date=START)
    ''')
    found = [(call.name, call.line) for call in source_facts(source).parse_time_start_dates]
    assert found == [("now", 1)]


def test_a_trailing_comma_that_makes_a_tuple_is_recorded_at_the_comma() -> None:
    source = source_facts(textwrap.dedent("""\
        default_args = {"owner": "x"},
        ANNOTATIONS = {
            "a": "b",
        },
        deliberate = ({"a": 1},)
        pair = {"a": 1}, {"b": 2}
        call(arg={"a": 1},)
        items = [1, 2],
        """))
    assert source.trailing_comma_tuples == [
        ("default_args", 1, 30), ("ANNOTATIONS", 4, 2), ("items", 8, 15)]
