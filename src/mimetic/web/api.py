"""The JSON API under ``/api/v1``: photos, video jobs (with progress as server-sent events), files, health.

Every error is JSON (:mod:`mimetic.web.errors`). Ids in URLs are looked up, never used as paths; file names in
URLs are matched against the names the server stored for that id.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse

from mimetic.export import dumps
from mimetic.store import JobRecord
from mimetic.web.errors import ApiError
from mimetic.web.schemas import ErrorResponse, Health, ImageAnalysis, Job
from mimetic.web.services import Services
from mimetic.web.uploads import receive_upload

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX)

_ERRORS = {s: {"model": ErrorResponse} for s in (404, 408, 413, 415, 422, 503, 504)}
#: file suffix -> media type for result downloads
MEDIA_TYPES = {".csv": "text/csv; charset=utf-8", ".jsonl": "application/x-ndjson", ".json": "application/json",
               ".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".html": "text/html; charset=utf-8", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
               ".webm": "video/webm", ".avi": "video/x-msvideo"}
#: a job's HTML report is self-contained (inline styles, data: images, no scripts): it may load nothing at all, and
#: is sandboxed (an opaque origin that cannot call the API)
REPORT_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
              "sandbox")
#: upload suffixes a kept video may get (only ever one of these literals, picked from the sniffed container)
VIDEO_SUFFIX = {"mp4": ".mp4", "matroska": ".mkv", "avi": ".avi", "mpeg": ".mpg", "flv": ".flv", "asf": ".wmv",
                "ogg": ".ogv", "gif": ".gif"}


def _upload_body(kinds: list[str]) -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}},
        **{k: binary for k in kinds}, "application/octet-stream": binary}}}


def services(request: Request) -> Services:
    return request.app.state.services


def viewer_id(request: Request) -> str | None:
    """The logged-in user's id (results they make are theirs: 404 to everyone else), or None (anonymous results
    are capability URLs: whoever has the id may read and delete them)."""
    from mimetic.web.auth import current_user

    user = current_user(request)
    return user.id if user is not None else None


# -- health --------------------------------------------------------------------------------------------------------
@router.get("/health", response_model=Health, tags=["server"], summary="Is the server up; queue and session counts")
def health(request: Request) -> dict[str, Any]:
    from mimetic import __version__

    svc = services(request)
    return {"status": "ok", "version": __version__, "jobs_queued": svc.runner.queued(),
            "job_queue_size": svc.settings.max_queued_jobs, "live_sessions": svc.live_sessions}


@router.get("/info", tags=["server"], summary="Limits, languages and the catalogues the pages show")
def info(request: Request) -> dict[str, Any]:
    from mimetic.facs.catalogue import AU_BY_CODE, MUSCLES
    from mimetic.types import EXPRESSIONS, SCHEMA_VERSION
    from mimetic.web.i18n import LANGUAGES

    s = services(request).settings
    return {
        "schema_version": SCHEMA_VERSION,
        "limits": {"max_image_bytes": s.max_image_bytes, "max_video_bytes": s.max_video_bytes,
                   "max_live_frame_bytes": s.max_live_frame_bytes, "max_image_pixels": s.max_image_pixels,
                   "max_video_seconds": s.max_video_seconds, "request_timeout_s": s.request_timeout,
                   "job_timeout_s": s.job_timeout, "max_queued_jobs": s.max_queued_jobs,
                   "max_live_sessions": s.max_live_sessions, "image_ttl_s": s.image_ttl, "job_ttl_s": s.job_ttl},
        "languages": LANGUAGES,
        "expressions": list(EXPRESSIONS),
        "aus": {code: {"name": a.name, "plain": a.plain, "muscles": list(a.muscles)} for code, a in AU_BY_CODE.items()},
        "muscles": {m.key: {"latin": m.latin, "plain": m.plain} for m in MUSCLES},
    }


# -- photos --------------------------------------------------------------------------------------------------------
@router.post("/images", response_model=ImageAnalysis, responses=_ERRORS, tags=["photos"],
             summary="Analyse a photo (multipart 'file' or the raw image bytes)",
             openapi_extra=_upload_body(["image/jpeg", "image/png", "image/webp"]))
async def analyze_image(
    request: Request,
    keep: Annotated[bool, Query(description="keep the uploaded photo on the server with the results")] = False,
    min_face: Annotated[int | None, Query(ge=0, le=4096, description="smallest face to search for, pixels (0: no "
                                          "small-face search; default: the server's, 80)")] = None,
    render: Annotated[bool, Query(description="draw the overlay and muscle maps")] = True,
    landmarks: Annotated[bool, Query(description="include the landmark arrays in the result")] = True,
) -> dict[str, Any]:
    """Detects every face and returns the result document with links to the overlay (every face numbered), one
    muscle map per face, and the JSON and CSV files. The content is checked by decoding it: a file that is not an
    image gets 415, a damaged one 422, one over the size limit 413 (checked while it is uploaded)."""
    svc = services(request)
    s = svc.settings
    owner = await run_in_threadpool(viewer_id, request)
    ticket = svc.image_pool.admit()  # 503 before a byte of the body is read when every place is taken
    spool = svc.images.spool()
    try:
        upload = await receive_upload(request, limit=s.max_image_bytes, timeout=s.upload_timeout, what="image",
                                      path=spool)
        out = await svc.image_pool.run(
            partial(svc.images.analyze_file, name=upload.filename, max_pixels=s.max_image_pixels,
                    min_face=s.min_face if min_face is None else min_face, keep=keep, render=render,
                    owner=owner),
            spool, timeout=s.request_timeout, ticket=ticket)
    finally:
        if not ticket.handed:  # the analysis never started: the place and the spooled upload are ours to drop
            ticket.release()
            spool.unlink(missing_ok=True)
    if not landmarks:
        for f in out["result"]["faces"]:
            for k in ("landmarks", "landmarks_norm", "landmarks68", "transform"):
                f.pop(k, None)
    return out


@router.get("/images/{image_id}", response_model=ImageAnalysis, responses=_ERRORS, tags=["photos"],
            summary="A photo analysis again: its metadata, files and result")
def get_image(request: Request, image_id: str) -> dict[str, Any]:
    images = services(request).images
    viewer = viewer_id(request)
    meta = images.get(image_id, viewer)
    out = images.describe(meta)
    try:
        out["result"] = json.loads(images.file(image_id, "result.json", viewer).read_text())
    except (ApiError, FileNotFoundError, ValueError):
        out["result"] = None
    return out


@router.get("/images/{image_id}/files/{name}", responses=_ERRORS, tags=["photos"],
            summary="One file of a photo analysis: overlay.jpg, muscles-N.jpg, result.json, result.csv, source.*")
def get_image_file(request: Request, image_id: str, name: str,
                   download: Annotated[bool, Query(description="as an attachment")] = False) -> FileResponse:
    path = services(request).images.file(image_id, name, viewer_id(request))
    return _file(path, f"mimetic-photo-{image_id[:8]}-{path.name}", download)


@router.delete("/images/{image_id}", status_code=204, responses=_ERRORS, tags=["photos"],
               summary="Delete a photo analysis and all its files now")
def delete_image(request: Request, image_id: str) -> Response:
    if not services(request).images.delete(image_id, viewer_id(request)):
        raise ApiError(404, f"no photo analysis with id {image_id!r}")
    return Response(status_code=204)


# -- video jobs ----------------------------------------------------------------------------------------------------
def job_view(job: JobRecord, svc: Services) -> dict[str, Any]:
    """The API's JSON for a job, with in-memory progress when it is running."""
    base = f"{PREFIX}/jobs/{job.id}"
    live = svc.runner.live(job.id)
    frames, total, progress = job.frames, job.frames_total, job.progress
    if live is not None and job.status in ("queued", "running"):
        frames, total = max(frames, live.frames), live.total or total
        progress = max(progress, live.fraction)

    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "id": job.id, "status": job.status, "progress": round(float(progress), 4), "frames": int(frames),
        "frames_total": total, "error": job.error, "source_name": job.source_name,
        "params": {k: v for k, v in job.params.items() if k != "source"}, "keep_media": job.keep_media,
        "created_at": iso(job.created_at), "updated_at": iso(job.updated_at), "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "stats": job.stats,
        "files": {name: f"{base}/files/{name}" for name in job.files},
        "urls": {"self": base, "events": f"{base}/events", "timeline": f"{base}/timeline",
                 "page": f"/video?job={job.id}"},
    }


@router.post("/jobs", status_code=202, response_model=Job, responses=_ERRORS, tags=["videos"],
             summary="Upload a video and analyse it in the background",
             openapi_extra=_upload_body(["video/mp4", "video/quicktime", "video/webm"]))
async def create_job(
    request: Request,
    fps: Annotated[float | None, Query(gt=0, le=240, description="analyse at most this many frames per second "
                                       "(default: every frame)")] = None,
    stride: Annotated[int, Query(ge=1, le=1000, description="analyse every Nth frame")] = 1,
    start: Annotated[float, Query(ge=0, description="start time, seconds")] = 0.0,
    end: Annotated[float | None, Query(gt=0, description="end time, seconds")] = None,
    annotate: Annotated[bool, Query(description="write annotated.mp4 (mesh, boxes, labels)")] = True,
    jsonl: Annotated[bool, Query(description="write frames.jsonl (one result document per frame, ~35 kB per "
                                 "face per frame)")] = True,
    keep: Annotated[bool, Query(description="keep the uploaded video after the analysis")] = False,
) -> dict[str, Any]:
    """Streams the upload to disk (413 as soon as it passes the size limit), checks it by decoding its first frame
    (415 when it is not a video, 422 when it is truncated or corrupt), queues the job and answers 202 with it. Follow
    its progress at ``urls.events`` (server-sent events) or by polling ``urls.self``; 503 when the queue is full."""
    svc = services(request)
    s = svc.settings
    if end is not None and end <= start:
        raise ApiError(422, f"invalid parameters: end ({end:g}) must be after start ({start:g})")
    if not svc.runner.has_room():
        raise ApiError(503, f"the job queue is full ({s.max_queued_jobs} videos waiting); try again later",
                       headers={"Retry-After": "30"})
    owner = await run_in_threadpool(viewer_id, request)
    job_id = str(uuid.uuid4())
    folder = svc.runner.folder(job_id)
    incoming = folder / ".upload.partial"
    try:
        upload = await receive_upload(request, limit=s.max_video_bytes, timeout=s.upload_timeout, what="video",
                                      path=incoming)
        label = upload.filename or "video"
        from mimetic.web.videocheck import check_video, sniff_container

        info = await run_in_threadpool(check_video, incoming, label=label, max_seconds=s.max_video_seconds)
        with open(incoming, "rb") as fh:
            suffix = VIDEO_SUFFIX.get(sniff_container(fh.read(512)) or "", ".bin")
        source = folder / f"source{suffix}"
        incoming.replace(source)
        params = {"fps": fps, "stride": stride, "start": start, "end": end, "annotate": annotate, "jsonl": jsonl,
                  "source": source.name, "width": info.width, "height": info.height,
                  "duration": info.duration, "video_fps": round(info.fps, 3)}
        job = await run_in_threadpool(partial(svc.store.create, job_id=job_id, source_name=upload.filename,
                                              params=params, keep_media=keep, owner_id=owner))
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    svc.runner.submit(job)
    return job_view(job, svc)


@router.get("/jobs/{job_id}", response_model=Job, responses=_ERRORS, tags=["videos"],
            summary="A job's status, progress, statistics and files")
async def get_job(request: Request, job_id: str) -> dict[str, Any]:
    svc = services(request)
    job = await run_in_threadpool(svc.runner.get, job_id, await run_in_threadpool(viewer_id, request))
    return job_view(job, svc)


@router.get("/jobs/{job_id}/events", responses=_ERRORS, tags=["videos"],
            summary="A job's progress as server-sent events, until it is done or failed",
            response_class=StreamingResponse)
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """``text/event-stream``: an ``event: job`` with the job's JSON (as ``GET /jobs/{id}``) whenever it changes,
    a comment every 15 s to keep the connection open, and the stream ends after the final state."""
    svc = services(request)
    viewer = await run_in_threadpool(viewer_id, request)
    await run_in_threadpool(svc.runner.get, job_id, viewer)  # 404 before the stream starts

    async def stream():
        last, quiet_since = None, time.monotonic()
        yield "retry: 2000\n\n"
        while True:
            job = await run_in_threadpool(svc.store.get, job_id)
            if job is None:
                yield f"event: gone\ndata: {dumps({'id': job_id})}\n\n"
                return
            view = job_view(job, svc)
            key = (view["status"], view["frames"], view["progress"])
            if key != last:
                last, quiet_since = key, time.monotonic()
                yield f"event: job\ndata: {dumps(view)}\n\n"
            elif time.monotonic() - quiet_since > 15:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            if job.finished or await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/jobs/{job_id}/timeline", responses=_ERRORS, tags=["videos"],
            summary="A finished job's timeline: per-frame expression scores, AU intensities and pose (thinned), "
                    "the change log and the micro-expression events")
async def job_timeline(request: Request, job_id: str) -> Response:
    svc = services(request)
    job = await run_in_threadpool(svc.runner.get, job_id, await run_in_threadpool(viewer_id, request))
    if "timeline.json" not in job.files:
        raise ApiError(404 if job.finished else 409, f"job {job_id} has no timeline "
                       + ("(it failed)" if job.status == "failed" else f"yet (it is {job.status})"))
    return FileResponse(svc.runner.folder(job.id) / "timeline.json", media_type="application/json")


@router.get("/jobs/{job_id}/files/{name}", responses=_ERRORS, tags=["videos"],
            summary="One result file: frames.csv, frames.jsonl, annotated.mp4, timeline.json, timeline.csv, "
                    "windows.csv, changes.csv, events.csv, report.html, source.* (kept)")
async def job_file(request: Request, job_id: str, name: str,
                   download: Annotated[bool, Query(description="as an attachment")] = False) -> FileResponse:
    svc = services(request)
    job = await run_in_threadpool(svc.runner.get, job_id, await run_in_threadpool(viewer_id, request))
    if name not in job.files:
        have = ", ".join(job.files) or "none yet"
        raise ApiError(404, f"job {job_id} has no file {name!r} (files: {have})")
    stored = job.files[job.files.index(name)]  # the stored value, not the request's
    response = _file(svc.runner.folder(job.id) / stored, f"mimetic-video-{job.id[:8]}-{stored}", download)
    if stored.endswith(".html"):
        response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@router.delete("/jobs/{job_id}", status_code=204, responses=_ERRORS, tags=["videos"],
               summary="Delete a job and all its files (a running job is stopped first)")
async def delete_job(request: Request, job_id: str) -> Response:
    svc = services(request)
    await run_in_threadpool(svc.runner.get, job_id, await run_in_threadpool(viewer_id, request))  # 404 unless theirs
    if not await run_in_threadpool(svc.runner.delete, job_id):
        raise ApiError(404, f"no job with id {job_id!r}")
    return Response(status_code=204)


def _file(path, filename: str, download: bool) -> FileResponse:
    if not path.is_file():
        raise ApiError(404, f"file {path.name} is gone")
    media = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, filename=filename if download else None,
                        content_disposition_type="attachment" if download else "inline")
