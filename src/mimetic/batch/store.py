"""The one writer of a run's shared outputs under ``--out DIR``: the image table as a partitioned Parquet dataset and
the manifest of every input. It runs in the command's process; the tasks (:mod:`mimetic.batch.tasks`) write only
their own input's files.

- ``DIR/table/part-NNNNN.parquet``: the rows of :data:`mimetic.columns.FACE_TABLE` (one row per face), a few
  thousand per part, every part with the same Arrow schema (the first part's; later parts are cast to it).
  ``pandas.read_parquet("DIR/table")``, ``dask.dataframe.read_parquet``, ``polars.read_parquet("DIR/table/*.parquet")``
  and DuckDB's ``read_parquet('DIR/table/*.parquet')`` read it as one table.
- ``DIR/manifest.csv``: one line per input: ``input, name, kind, status, error, faces, frames, seconds, sha256,
  part, worker, finished``. While a run goes, lines are appended (the last line of an input wins); at its end the
  file is rewritten with one line per input.

**Resuming** (the same ``--out`` again): an input whose last line says ``ok`` with the same SHA-256 of its bytes is
skipped; a failed one is skipped unless ``retry_failed``; a changed file is redone and its old rows are removed
first. An input is written ``ok`` to the manifest only after its rows are in a part on disk (parts are atomic),
and a part that no ``ok`` line names (a run killed between the two) is deleted when the next run opens the store,
so a killed run loses only the inputs it had not yet recorded, and rows are never duplicated.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mimetic.batch.tasks import TaskResult

MANIFEST = "manifest.csv"
TABLE = "table"
FIELDS = ("input", "name", "kind", "status", "error", "faces", "frames", "seconds", "sha256", "part", "worker",
          "finished")
#: Rows per Parquet part; a part is also written after :data:`FLUSH_SECONDS` with rows waiting.
PART_ROWS = 1000
FLUSH_SECONDS = 30.0
_STATS = ("source", "frame", "timestamp", "face_id", "track_id", "success")


@dataclass
class Record:
    """One manifest line."""

    input: str
    name: str
    kind: str
    status: str
    error: str = ""
    faces: int = 0
    frames: int = 0
    seconds: float = 0.0
    sha256: str = ""
    part: str = ""
    worker: str = ""
    finished: str = ""

    @classmethod
    def of(cls, r: TaskResult, part: str = "") -> "Record":
        return cls(input=r.input, name=r.name, kind=r.kind, status=r.status, error=r.error or "", faces=r.faces,
                   frames=r.frames, seconds=round(r.seconds, 4), sha256=r.sha256, part=part, worker=r.worker,
                   finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def read_manifest(path: Path) -> dict[str, Record]:
    """The last line of every input (a torn last line, from a killed run, is ignored)."""
    records: dict[str, Record] = {}
    if not path.exists():
        return records
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if None in row or any(row.get(k) is None for k in FIELDS):
                continue  # torn
            try:
                rec = Record(**{k: row[k] for k in FIELDS})
                rec.faces, rec.frames, rec.seconds = int(rec.faces), int(rec.frames), float(rec.seconds)
            except (TypeError, ValueError):
                continue
            records[rec.input] = rec
    return records


class RunStore:
    """The table dataset and the manifest of one ``--out`` folder (see the module's doc)."""

    def __init__(self, out: Path, *, mesh: bool = False):
        self.out = Path(out)
        self.table_dir = self.out / TABLE
        self.manifest_path = self.out / MANIFEST
        self.mesh = mesh
        self.records = read_manifest(self.manifest_path)
        self._pending: list[TaskResult] = []
        self._pending_rows = 0
        self._last_flush = time.monotonic()
        self._schema = None
        self._next_part = 0
        self.dropped_columns: set[str] = set()
        self._clean_parts()

    # -- opening: orphan parts, the schema, the next part number ------------------------------------------------
    def _parts(self) -> list[Path]:
        return sorted(self.table_dir.glob("part-*.parquet")) if self.table_dir.is_dir() else []

    def _clean_parts(self) -> None:
        import pyarrow.parquet as pq

        named = {r.part for r in self.records.values() if r.status == "ok" and r.part}
        for p in self._parts():
            if p.name not in named:  # written by a run killed before it recorded the part's inputs
                p.unlink()
        parts = self._parts()
        if parts:
            self._schema = pq.read_schema(parts[0])
            self._next_part = max(int(p.stem.split("-")[1]) for p in parts) + 1

    # -- planning a run -----------------------------------------------------------------------------------------
    def done(self, path: str, sha256: str, *, retry_failed: bool) -> Record | None:
        """The earlier record when ``path`` needs no work now (finished with the same bytes, or failed on the same
        bytes and not ``retry_failed``), else ``None``."""
        rec = self.records.get(path)
        if rec is None or not sha256 or rec.sha256 != sha256:
            return None
        if rec.status == "ok" or not retry_failed:
            return rec
        return None

    def forget(self, paths: list[str]) -> None:
        """Remove the rows of inputs about to be redone (a changed file), so that no row is ever duplicated."""
        import pyarrow.parquet as pq
        import pyarrow.compute as pc
        from mimetic.media.atomic import atomic_path

        by_part: dict[str, set[str]] = {}
        for p in paths:
            rec = self.records.get(p)
            if rec is not None and rec.status == "ok" and rec.part:
                by_part.setdefault(rec.part, set()).add(p)
        for part, sources in by_part.items():
            path = self.table_dir / part
            if not path.exists():
                continue
            table = pq.read_table(path)
            import pyarrow as pa

            keep = table.filter(pc.invert(pc.is_in(table["source"], value_set=pa.array(sorted(sources)))))
            with atomic_path(path) as tmp:
                pq.write_table(keep, tmp)

    # -- writing ------------------------------------------------------------------------------------------------
    def add(self, result: TaskResult) -> None:
        """Record one finished task: a failure at once, a success with its rows at the next flush."""
        if not result.ok:
            self._append([Record.of(result)])
            return
        self._pending.append(result)
        self._pending_rows += 0 if result.frame is None else len(result.frame.faces)
        if self._pending_rows >= PART_ROWS or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the waiting rows as one part (atomic), then their inputs' manifest lines."""
        if not self._pending:
            return
        frames = [r.frame for r in self._pending if r.frame is not None and r.frame.faces]
        part = self._write_part(frames) if frames else ""
        self._append([Record.of(r, part if (r.frame is not None and r.frame.faces) else "") for r in self._pending])
        self._pending, self._pending_rows, self._last_flush = [], 0, time.monotonic()

    def _write_part(self, frames) -> str:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from mimetic.media.atomic import atomic_path
        from mimetic.table import frame_from_results

        df = frame_from_results(frames, mesh=self.mesh)
        if self._schema is None:
            self._schema = pa.Table.from_pandas(df, preserve_index=False).schema
        else:
            extra = [c for c in df.columns if c not in self._schema.names]
            self.dropped_columns.update(extra)
            df = df.reindex(columns=self._schema.names)
        table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
        name = f"part-{self._next_part:05d}.parquet"
        self._next_part += 1
        with atomic_path(self.table_dir / name) as tmp:  # statistics for the identity columns only (a smaller footer)
            pq.write_table(table, tmp, write_statistics=[c for c in _STATS if c in self._schema.names])
        return name

    def _append(self, records: list[Record]) -> None:
        import os

        self.out.mkdir(parents=True, exist_ok=True)
        new = not self.manifest_path.exists() or self.manifest_path.stat().st_size == 0
        with open(self.manifest_path, "a", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                w.writeheader()
            for rec in records:
                w.writerow(asdict(rec))
                self.records[rec.input] = rec
            f.flush()
            os.fsync(f.fileno())

    def close(self) -> None:
        """Flush, then rewrite the manifest with one line per input (atomically)."""
        self.flush()
        if not self.records:
            return
        from mimetic.media.atomic import atomic_path

        with atomic_path(self.manifest_path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS)
                w.writeheader()
                for rec in self.records.values():
                    w.writerow(asdict(rec))

    def table(self, order: list[str] | None = None):
        """The whole image table (every part) as one DataFrame, rows in ``order`` of their inputs when given."""
        import pyarrow.parquet as pq

        parts = self._parts()
        if not parts:
            return None
        df = pq.read_table([str(p) for p in parts]).to_pandas()
        if order:
            rank = {p: i for i, p in enumerate(order)}
            key = df["source"].map(lambda s: rank.get(s, len(rank)))
            df = df.iloc[key.argsort(kind="stable")].reset_index(drop=True)
        return df
