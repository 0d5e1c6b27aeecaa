"""The run: paths -> routes -> facts -> rules -> problems, reaching storage through a
fact store (store.py)."""
