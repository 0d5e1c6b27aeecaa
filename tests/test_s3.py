"""The pure S3 helpers: glob intersection, path normal form, bucket names."""

from __future__ import annotations

import fnmatch
import itertools

import pytest

from validation.s3 import bucket_name_problem, globs_overlap, normal_path, suggested_bucket

OVERLAPS = [
    ("alpha-data/out/*", "alpha-data/*", True),
    ("alpha-data/a/*", "alpha-data/b/*", False),
    ("alpha-data/*", "alpha-data/*", True),
    ("alpha-data/x.csv", "alpha-data/*", True),
    ("alpha-data/x.csv", "alpha-data/y.csv", False),
    ("alpha-data/x.csv", "alpha-data/x.csv", True),
    ("alpha-data", "alpha-data/*", False),  # the bucket itself, no object
    ("alpha-data/out", "alpha-data/out/*", False),  # the object `out`, not what is under it
    ("*", "alpha-data/x", True),
    ("*/*", "alpha-data/x", True),
    ("*/*", "alpha-data", False),
    ("alpha-*/x/*", "alpha-data/x/y", True),
    ("alpha-*/x/*", "mojap-data/x/y", False),
    ("alpha-data/*/out/*", "alpha-data/team/*", True),
    ("alpha-data/*.csv", "alpha-data/*.json", False),
    ("alpha-data/a*", "alpha-data/*b", True),  # "ab"
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("a*", "b*", False),
    ("*a", "*b", False),
    ("*a*", "*b*", True),
    ("", "", True),
    ("", "*", True),
    ("", "a", False),
    ("**", "abc", True),
]


@pytest.mark.parametrize("first, second, expected", OVERLAPS)
def test_globs_overlap(first: str, second: str, expected: bool) -> None:
    assert globs_overlap(first, second) is expected
    assert globs_overlap(second, first) is expected


def test_globs_overlap_agrees_with_brute_force() -> None:
    """Every pattern pair over a small alphabet, against all strings that could witness an
    overlap (one needs no more characters than the two patterns have literals: 6)."""
    alphabet = "a/"
    strings = ["".join(chars) for size in range(7)
               for chars in itertools.product(alphabet, repeat=size)]
    patterns = ["".join(chars) for size in range(4)
                for chars in itertools.product("a/*", repeat=size)]
    for first, second in itertools.product(patterns, repeat=2):
        # fnmatch's `*` matches `/` too, as IAM's does; no character class is used here
        brute = any(fnmatch.fnmatchcase(text, first) and fnmatch.fnmatchcase(text, second)
                    for text in strings)
        assert globs_overlap(first, second) is brute, (first, second)


@pytest.mark.parametrize("path, expected", [
    ("s3://alpha-x/y/*", "alpha-x/y/*"),
    ("S3://alpha-x/y/*", "alpha-x/y/*"),
    ("arn:aws:s3:::alpha-x/*", "alpha-x/*"),
    ("/alpha-x/y", "alpha-x/y"),
    (" alpha-x/y z/* ", "alpha-x/yz/*"),
    ("alpha-x/y/*", "alpha-x/y/*"),
])
def test_normal_path(path: str, expected: str) -> None:
    assert normal_path(path) == expected


@pytest.mark.parametrize("bucket, fragment", [
    ("alpha-x", None),
    ("a.b-c1", None),
    ("ab", "2 characters long"),
    ("a" * 64, "64 characters long"),
    ("test_bucket", "contains '_'"),
    ("Alpha-X", "contains 'A', 'X'"),
    ("-alpha", "start and end"),
    ("alpha.", "start and end"),
    ("a..b", "adjacent periods"),
    ("192.168.1.1", "IP address"),
    ("xn--abc", "reserved prefix"),
    ("abc-s3alias", "reserved suffix"),
])
def test_bucket_name_problem(bucket: str, fragment: str | None) -> None:
    problem = bucket_name_problem(bucket)
    assert (problem is None) if fragment is None else (fragment in (problem or ""))


def test_suggested_bucket() -> None:
    assert suggested_bucket("Test_Bucket__Read") == "test-bucket-read"
    assert bucket_name_problem(suggested_bucket("My_Bucket")) is None
