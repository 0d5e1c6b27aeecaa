"""The content cache: a signed, JSON-encoded fact store (store.py, codec.py)."""
