"""Entry point for `python -m validation`."""

from validation.cli import main

raise SystemExit(main())
