"""Streaming table output: rows go to disk in chunks, so a long video never holds its whole table in memory.

The columns are :data:`mimetic.columns.FACE_TABLE`'s (built by :func:`mimetic.table.frame_from_results`).

Both formats are written atomically: into a temporary file beside the target, moved into place on ``close()``;
``abort()`` (or an exception inside ``with``) removes the temporary file and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from mimetic.types import FrameResult

CHUNK = 256  # frames per write


class TableSink:
    def __init__(self, path: str | Path, *, mesh: bool = False, include_empty: bool = False):
        from mimetic.media.atomic import atomic_path

        self.path = Path(path)
        self.fmt = self.path.suffix.lower().lstrip(".")
        if self.fmt not in ("csv", "parquet"):
            raise ValueError(f"{self.path}: table format must be .csv or .parquet")
        self.mesh, self.include_empty = mesh, include_empty
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._pending: list[FrameResult] = []
        self._face_pending = False
        self._columns: list[str] | None = None
        self._parquet = None
        self.rows = 0

    def add(self, result: FrameResult) -> None:
        self._pending.append(result)
        self._face_pending = self._face_pending or bool(result.faces)
        # The first chunk fixes the layout (the AU, muscle, nerve and symmetry columns of mimetic.columns'
        # FACE_TABLE are those the faces carry): until a face has been seen, face-less frames wait (they are small).
        if len(self._pending) >= CHUNK and (self._columns is not None or self._face_pending):
            self._flush()

    def _flush(self) -> None:
        from mimetic.table import frame_from_results

        if not self._pending:
            return
        df = frame_from_results(self._pending, mesh=self.mesh, include_empty=self.include_empty)
        self._pending = []
        self._face_pending = False
        if df.empty:
            return
        if self._columns is None:
            self._columns = list(df.columns)
        else:
            # Keep the first chunk's layout: a key first seen in a later chunk (an AU a stage adds only sometimes)
            # cannot get a column in a file already begun.
            df = df.reindex(columns=self._columns)
        if self.fmt == "csv":
            df.to_csv(self._tmp, mode="a", header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            if self._parquet is None:
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self._tmp, self._schema)
            self._parquet.write_table(table.cast(self._schema))
        self.rows += len(df)

    def close(self) -> None:
        self._flush()
        if self._parquet is not None:
            self._parquet.close()
        elif self.rows == 0:
            # An empty table still gets its header so that readers do not fail.
            from mimetic.table import frame_from_results

            frame_from_results([], mesh=self.mesh).to_csv(self._tmp, index=False) if self.fmt == "csv" else \
                frame_from_results([], mesh=self.mesh).to_parquet(self._tmp, index=False)
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        try:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass

    def __enter__(self) -> "TableSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
