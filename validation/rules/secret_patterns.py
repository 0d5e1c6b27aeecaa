"""Heuristics that tell a hard-coded secret from an ordinary string (for DAG019).

Pure text functions, no Airflow. A string is a secret when:

- it contains an AWS access key id: AKIA or ASIA followed by 16 upper-case letters or
  digits (AWS's documentation key AKIAIOSFODNN7EXAMPLE, anything containing EXAMPLE, is
  not one);
- it contains a private key block (-----BEGIN ... PRIVATE KEY-----);
- it is bound to a password-like name (a variable, keyword argument, dict key or env
  var whose name, lower-cased and without separators, ends with password, passwd,
  passphrase, secret, token, apikey, secretkey, privatekey or secretaccesskey: DB_PASSWORD,
  apiKey, aws_secret_access_key; not secret_name, token_url or max_tokens) and is not a
  placeholder or a reference.

Placeholders and references are not secrets: an empty or blank string; a mask
("****", "xxxx"); a template ("{{ var.value.db_password }}", "${DB_PASSWORD}",
"<password>"); a value containing changeme, placeholder, example, dummy, redacted,
your_ or your-; a bare word such as "none", "null", "todo", "password" or the name
itself; an ARN, a path or a URL (they name where the secret is kept).
"""

from __future__ import annotations

import functools
import re

AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----")
SECRET_NAME_ENDINGS = ("password", "passwd", "passphrase", "secret", "token", "apikey",
                       "secretkey", "privatekey", "secretaccesskey")
PLACEHOLDER_PARTS = ("changeme", "change_me", "change-me", "placeholder", "example", "dummy",
                     "redacted", "your_", "your-", "{{", "${", "xxxx", "****")
PLACEHOLDER_WORDS = frozenset({"none", "null", "todo", "tbd", "n/a", "secret", "password",
                               "passwd", "token", "apikey"})
MASK_CHARACTERS = frozenset("*xX.-_# ")


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9/]", "", text.lower())


def is_secret_name(name: str | None) -> bool:
    """A variable, argument, key or env var name that holds a password-like value."""
    return bool(name) and _compact(name or "").endswith(SECRET_NAME_ENDINGS)


def is_placeholder(value: str, name: str | None = None) -> bool:
    """A value that stands for a secret without being one (see the module docstring)."""
    stripped = value.strip()
    lowered = stripped.lower()
    return (
        not stripped
        or set(stripped) <= MASK_CHARACTERS
        or any(part in lowered for part in PLACEHOLDER_PARTS)
        or (stripped.startswith("<") and stripped.endswith(">"))
        or _compact(stripped) in PLACEHOLDER_WORDS
        or (name is not None and _compact(stripped) == _compact(name))
        or lowered.startswith(("arn:", "/"))
        or "://" in lowered
    )


@functools.lru_cache(maxsize=65536)  # tasks made in a loop repeat the same env vars
def secret_kind(value: str, name: str | None = None) -> str | None:
    """What kind of secret ``value`` (bound to ``name``) looks like, masked, or None.

    The description never contains the secret itself.
    """
    key_id = next((match.group() for match in AWS_KEY_ID.finditer(value)
                   if "EXAMPLE" not in match.group()), None)
    if key_id:
        return f"an AWS access key id ({key_id[:4]}{'*' * 16})"
    if PRIVATE_KEY.search(value):
        return "a private key block"
    if is_secret_name(name) and not is_placeholder(value, name):
        return f"a password-like value for '{name}' ({len(value)} characters, masked)"
    return None
