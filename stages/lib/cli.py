"""What every stage script shares at its edge: user-facing errors and the exit code they get."""

import logging
import sys


class UserError(Exception):
    """A problem with the user's parameters or inputs: reported in one line, exit code 2."""


def run(main):
    """Run a stage's `main()`, turning a UserError into a clear message and a non-zero exit."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
