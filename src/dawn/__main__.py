"""``python -m dawn`` runs the command-line interface."""

from dawn.cli import main

raise SystemExit(main())
