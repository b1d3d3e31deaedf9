"""What every command shares: error lines, exit codes, writing a picture. Only typer and the standard library are
imported here, so ``mimetic --help`` starts fast."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer


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
    """Write an RGB uint8 array as PNG, or JPEG for a ``.jpg``/``.jpeg`` name (atomically; folders created)."""
    from PIL import Image

    from mimetic.media.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format=fmt)
