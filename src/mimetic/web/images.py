"""Photo analyses and their files: ``<data>/images/<id>/``.

One analysis writes, all under a server-generated id: ``result.json`` (the JSON contract, landmarks included),
``result.csv`` (one row per face, :mod:`mimetic.table`), ``overlay.jpg`` (every face numbered, :func:`draw_faces`),
``muscles-<n>.jpg`` (the muscle map of face n, cropped to the face) and ``meta.json`` (what the API returns about
it, and its owner). The upload streams to ``<data>/images/.incoming/`` and is deleted after the analysis; it is only
written with the results when the caller asks to keep it (``source.<ext>``). Results are deleted after ``ttl``
seconds (:meth:`ImageResults.expire`) or on request. An analysis made by a logged-in user belongs to them (404 to
everyone else); an anonymous one can be read and deleted by whoever has its id.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mimetic.errors import InputError
from mimetic.export import dumps
from mimetic.store.jobs import is_job_id
from mimetic.web.errors import ApiError, input_error

#: where uploads stream to before their analysis (not an id: never listed, expired or served)
INCOMING = ".incoming"
#: Pillow format -> file extension, for a kept upload (the name is ours, never the client's).
KEEP_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp", "GIF": "gif", "MPO": "jpg"}


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(path)


def _jpeg(rgb: np.ndarray, quality: int = 88) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, optimize=False)
    return buf.getvalue()


class ImageResults:
    def __init__(self, root: Path, *, ttl: float, url_prefix: str = "/api/v1/images"):
        self.root = root
        self.ttl = ttl
        self.url_prefix = url_prefix
        root.mkdir(parents=True, exist_ok=True)
        self.incoming = root / INCOMING
        shutil.rmtree(self.incoming, ignore_errors=True)  # uploads cut off by the last stop
        self.incoming.mkdir()

    def spool(self) -> Path:
        """A new file name for an upload on its way in (the upload streams there, not into memory)."""
        return self.incoming / f"{uuid.uuid4()}.upload"

    # -- analysis (runs on an AnalyzerPool thread) -------------------------------------------------------------
    def analyze_file(self, analyzer, path: Path, **kwargs: Any) -> dict[str, Any]:
        """:meth:`analyze` of a spooled upload, which is deleted afterwards whatever happens."""
        try:
            data = path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
        return self.analyze(analyzer, data, **kwargs)

    def analyze(self, analyzer, data: bytes, *, name: str | None, max_pixels: int, min_face: int | None,
                keep: bool, render: bool, owner: str | None = None) -> dict[str, Any]:
        """Analyse one photo and write its files. ``owner``: the id of the logged-in user who sent it (then only
        they can read or delete it), None for an anonymous request (its id is the capability)."""
        from mimetic.media.images import read_image

        t0 = time.perf_counter()
        label = name or "upload"
        try:
            rgb = read_image(data, max_pixels=max_pixels, name=label)
        except InputError as exc:
            raise input_error(exc, label=label) from None
        t1 = time.perf_counter()
        result = analyzer.analyze_array(rgb, source=label, min_face=min_face)  # per request, not a shared setting
        t2 = time.perf_counter()
        image_id = str(uuid.uuid4())
        folder = self.root / image_id
        folder.mkdir(parents=True)
        try:
            files = self._write_outputs(folder, result, rgb, render=render)
            if keep:
                files.append(self._keep(folder, data))
            t3 = time.perf_counter()
            created = datetime.now(UTC)
            meta = {
                "id": image_id,
                "created_at": created.isoformat(),
                "expires_at": datetime.fromtimestamp(created.timestamp() + self.ttl, UTC).isoformat()
                if self.ttl > 0 else None,
                "source_name": name,
                "width": result.width,
                "height": result.height,
                "faces": len(result.faces),
                "kept": keep,
                "owner": owner,
                "files": files,
                "timings_ms": {"decode": round(1e3 * (t1 - t0), 1), "analysis": round(1e3 * (t2 - t1), 1),
                               "outputs": round(1e3 * (t3 - t2), 1)},
            }
            _write(folder / "meta.json", dumps(meta).encode())
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {**self.describe(meta), "result": result.to_dict()}

    def _write_outputs(self, folder: Path, result, rgb: np.ndarray, *, render: bool) -> list[str]:
        from mimetic.table import frame_from_results

        files = []
        _write(folder / "result.json", dumps(result.to_dict()).encode())
        files.append("result.json")
        _write(folder / "result.csv", frame_from_results([result]).to_csv(index=False).encode())
        files.append("result.csv")
        if render:
            from mimetic.render.musclemap import muscle_map
            from mimetic.render.overlay import draw_faces

            _write(folder / "overlay.jpg", _jpeg(draw_faces(rgb, result.faces)))
            files.append("overlay.jpg")
            for n, face in enumerate(result.faces, start=1):
                try:
                    picture = muscle_map(face, rgb, crop=True)
                except Exception:  # a map that cannot be drawn (e.g. a cut-off face) never fails the request
                    continue
                _write(folder / f"muscles-{n}.jpg", _jpeg(picture, 90))
                files.append(f"muscles-{n}.jpg")
        return files

    @staticmethod
    def _keep(folder: Path, data: bytes) -> str:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            ext = KEEP_EXT.get(im.format or "", "img")
        _write(folder / f"source.{ext}", data)
        return f"source.{ext}"

    # -- lookups -----------------------------------------------------------------------------------------------
    def describe(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The API's view of a stored analysis: metadata plus a URL per file."""
        base = f"{self.url_prefix}/{meta['id']}/files"
        files = meta["files"]
        links = {name: f"{base}/{name}" for name in files}
        return {
            **{k: v for k, v in meta.items() if k not in ("files", "owner")},
            "files": links,
            "overlay_url": links.get("overlay.jpg"),
            "muscle_map_urls": [links.get(f"muscles-{n}.jpg") for n in range(1, meta["faces"] + 1)],
            "json_url": links.get("result.json"),
            "csv_url": links.get("result.csv"),
        }

    def meta(self, image_id: str) -> dict[str, Any] | None:
        if not is_job_id(image_id):
            return None
        path = self.root / image_id / "meta.json"
        try:
            meta = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if self._expired(meta):
            self._remove(image_id)
            return None
        return meta

    def get(self, image_id: str, viewer: str | None) -> dict[str, Any]:
        """The analysis's metadata for ``viewer`` (the logged-in user's id, or None): 404 when it does not exist or
        belongs to someone else (the same answer, so ids of other people's results tell nothing)."""
        meta = self.meta(image_id)
        if meta is None or (meta.get("owner") is not None and meta["owner"] != viewer):
            raise ApiError(404, f"no photo analysis with id {image_id!r} (unknown, deleted or expired)")
        return meta

    def file(self, image_id: str, name: str, viewer: str | None) -> Path:
        meta = self.get(image_id, viewer)
        if name not in meta["files"]:  # the name is only ever a key: the path is built from stored values
            raise ApiError(404, f"photo analysis {image_id} has no file {name!r}; it has: {', '.join(meta['files'])}")
        return self.root / meta["id"] / meta["files"][meta["files"].index(name)]

    def delete(self, image_id: str, viewer: str | None) -> bool:
        """Delete an analysis ``viewer`` may see (:meth:`get`); False when there is none."""
        try:
            self.get(image_id, viewer)
        except ApiError:
            return False
        return self._remove(image_id)

    def delete_owned_by(self, owner: str) -> int:
        """Delete every analysis of one user (their account is being deleted); how many."""
        removed = 0
        for folder in self.root.iterdir():
            if folder.is_dir() and is_job_id(folder.name):
                try:
                    mine = json.loads((folder / "meta.json").read_text()).get("owner") == owner
                except (FileNotFoundError, ValueError):
                    continue
                if mine and self._remove(folder.name):
                    removed += 1
        return removed

    def _remove(self, image_id: str) -> bool:
        if not is_job_id(image_id):
            return False
        folder = self.root / image_id
        if not folder.is_dir():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def _expired(self, meta: dict[str, Any]) -> bool:
        if self.ttl <= 0:
            return False
        try:
            created = datetime.fromisoformat(meta["created_at"]).timestamp()
        except (KeyError, ValueError):
            return True
        return time.time() - created > self.ttl

    def expire(self) -> int:
        """Delete every analysis older than the ttl (and any folder without metadata older than the ttl)."""
        if self.ttl <= 0:
            return 0
        removed = 0
        for folder in self.root.iterdir():
            if not folder.is_dir() or not is_job_id(folder.name):
                continue
            meta_path = folder / "meta.json"
            try:
                meta = json.loads(meta_path.read_text())
                old = self._expired(meta)
            except (FileNotFoundError, ValueError):
                old = time.time() - folder.stat().st_mtime > self.ttl
            if old:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed
