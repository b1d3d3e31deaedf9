"""Photo analyses and their files: ``<data>/images/<id>/``.

One analysis writes, all under a server-generated id: ``result.json`` (the JSON contract, landmarks included),
``result.csv`` (one row per face, :mod:`mimetic.table`), ``overlay.jpg`` (every face numbered, :func:`draw_faces`),
``muscles-<n>.jpg`` (the muscle map of face n, cropped to the face) and ``meta.json`` (what the API returns about
it). The uploaded photo itself is only written when the caller asks to keep it (``source.<ext>``). Results are
deleted after ``ttl`` seconds (:meth:`ImageResults.expire`) or on request.
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

    # -- analysis (runs on an AnalyzerPool thread) -------------------------------------------------------------
    def analyze(self, analyzer, data: bytes, *, name: str | None, max_pixels: int, min_face: int | None,
                keep: bool, render: bool) -> dict[str, Any]:
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
            **{k: v for k, v in meta.items() if k != "files"},
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
            self.delete(image_id)
            return None
        return meta

    def get(self, image_id: str) -> dict[str, Any]:
        meta = self.meta(image_id)
        if meta is None:
            raise ApiError(404, f"no photo analysis with id {image_id!r} (unknown, deleted or expired)")
        return meta

    def file(self, image_id: str, name: str) -> Path:
        meta = self.get(image_id)
        if name not in meta["files"]:  # the name is only ever a key: the path is built from stored values
            raise ApiError(404, f"photo analysis {image_id} has no file {name!r}; it has: {', '.join(meta['files'])}")
        return self.root / meta["id"] / meta["files"][meta["files"].index(name)]

    def delete(self, image_id: str) -> bool:
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
