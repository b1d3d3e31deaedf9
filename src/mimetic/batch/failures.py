"""How one input's failure is worded: the same line whichever backend ran it (:mod:`mimetic.batch.tasks`) or
where it went wrong (stitching a long video's chunks, :mod:`mimetic.batch.chunks`)."""

from __future__ import annotations


def fail(result, e: Exception) -> None:
    """Mark ``result`` (a :class:`~mimetic.batch.tasks.TaskResult`) failed with the input's one error line, worded
    as the sequential command always worded it."""
    from mimetic.errors import InputError, MimeticError, write_failure

    result.status = "failed"
    if isinstance(e, InputError):
        result.error = str(e)
    elif isinstance(e, MimeticError):
        result.error = f"{result.input}: {e}"
    elif isinstance(e, OSError):  # an output could not be written (a full disk): this input's outputs are gone
        result.error = f"{result.input}: {write_failure(e)}"
    else:  # a bug: the batch goes on, the command exits with EXIT_CRASH
        import traceback

        result.crashed = True
        result.traceback = "".join(traceback.format_exception(e))
        result.error = f"{result.input}: unexpected {type(e).__name__}: {e}"
