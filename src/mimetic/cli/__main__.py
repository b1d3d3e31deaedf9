"""``python -m mimetic.cli``: the same ``mimetic`` command (for environments without the console script)."""

from mimetic.cli import main

main()
