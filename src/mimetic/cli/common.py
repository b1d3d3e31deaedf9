"""What every command shares: error lines, exit codes, writing a picture. Only typer and the standard library are
imported here, so ``mimetic --help`` starts fast."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer


#: Exit status: every input worked.
EXIT_OK = 0
#: Exit status: some inputs failed (each is reported on its own ``error:`` line), or an output could not be written.
EXIT_FAILED = 1
#: Exit status: a usage error (Typer's).
EXIT_USAGE = 2
#: Exit status: Mimetic crashed (a bug; the traceback is printed). ``EX_SOFTWARE`` of sysexits.h.
EXIT_CRASH = 70
#: Exit status: interrupted (Ctrl-C).
EXIT_INTERRUPTED = 130


def err(msg: str) -> None:
    """An ``error: …`` line on stderr."""
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)


def note(msg: str) -> None:
    """A status line on stderr (stdout stays for results)."""
    typer.echo(msg, err=True)


@contextmanager
def exit_on_error(*kinds: type[BaseException]) -> Iterator[None]:
    """Report :class:`mimetic.errors.MimeticError` (and ``kinds``) as an ``error:`` line and exit with status 1."""
    from mimetic.errors import MimeticError

    try:
        yield
    except (MimeticError, *kinds) as e:
        err(str(e))
        raise typer.Exit(1)


def save_picture(rgb, path: Path) -> None:
    """Write an RGB uint8 array as PNG, or JPEG for a ``.jpg``/``.jpeg`` name (atomically, short writes
    detected; folders created): :func:`mimetic.media.images.write_image`."""
    from mimetic.media.images import write_image

    write_image(rgb, path, quality=75)  # Pillow's default, as before
