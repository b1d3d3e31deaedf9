"""The ``mimetic`` command: one Typer app, one module per command group.

- :mod:`mimetic.cli.analyze`: ``analyze``, ``video``;
- :mod:`mimetic.cli.pictures`: ``muscles``, ``explain``, ``evaluate-aus``;
- :mod:`mimetic.cli.train`: the ``train`` group (``fit``, ``prepare``, ``geometric``, ``export``, ``quantize``,
  ``fuse``, ``ship``) and ``evaluate``;
- :mod:`mimetic.cli.synth`: the ``synth`` group (``train``, ``export``, ``sample``, ``evaluate``);
- :mod:`mimetic.cli.server`: ``models``, ``serve``.

Command bodies live here; stage packages keep plain functions that take and return data. Heavy imports happen
inside commands so ``mimetic --help`` starts fast. Exit status: 0 when every input worked, 1 when some failed (each
is reported) or an output could not be written, 2 for usage errors, 70 when Mimetic crashed (a bug; the traceback
is printed), 130 when interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mimetic.cli import analyze, annotate, pictures, server, synth, train
from mimetic.cli.common import EXIT_CRASH, EXIT_INTERRUPTED, err

__all__ = ["app", "main"]

app = typer.Typer(
    name="mimetic",
    help="Measure what a face does: landmarks, head pose, blendshapes (and AUs, muscles, expression) "
    "from photos, folders and videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from mimetic import __version__

        typer.echo(f"mimetic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    pass


app.command()(analyze.analyze)
app.command()(analyze.video)
app.command()(pictures.muscles)
app.command()(pictures.explain)
app.command("evaluate-aus")(pictures.evaluate_aus)
app.add_typer(train.app, name="train")
app.add_typer(annotate.app, name="annotate")
app.add_typer(synth.app, name="synth")
app.command()(train.evaluate)
app.command()(server.models)
app.command()(server.serve)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as e:  # a bug: its own exit status, never the "some inputs failed" 1
        import traceback

        traceback.print_exc()
        err(f"mimetic crashed (a bug; please report it with the traceback above): {type(e).__name__}: {e}")
        sys.exit(EXIT_CRASH)
