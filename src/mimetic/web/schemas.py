"""Response shapes of the JSON API (for the OpenAPI document at ``/docs``; the routes build plain dicts).

A photo's ``result`` is the result document itself, typed by :class:`mimetic.schema.documents.ResultDocument`
(the types the JSON schema is generated from), so the OpenAPI document and ``result.schema.json`` describe it alike.
A practice session's ``result`` and ``sunnybrook`` are the practice types (:mod:`mimetic.practice.results`), which
``practice.schema.json`` is generated from.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mimetic.practice.results import SessionResult, SunnybrookEstimate
from mimetic.schema.documents import ResultDocument


class ErrorDetail(BaseModel):
    status: int = Field(description="the HTTP status, repeated")
    code: str = Field(description="short machine-readable code: too_large, unsupported_media_type, unprocessable, "
                                  "not_found, busy, timeout, upload_timeout, ...")
    message: str = Field(description="what went wrong, in one line, for people")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ImageAnalysis(BaseModel):
    id: str = Field(description="server-generated id of this analysis (a UUID)")
    created_at: str
    expires_at: str | None = Field(description="when the files below are deleted (null: never)")
    source_name: str | None = Field(description="the uploaded file's name, for display only")
    width: int
    height: int
    faces: int = Field(description="number of faces found")
    kept: bool = Field(description="whether the uploaded photo itself was kept (keep=true)")
    files: dict[str, str] = Field(description="file name -> URL")
    overlay_url: str | None = Field(description="JPEG: the photo with every face numbered, mesh, box and pose axes")
    muscle_map_urls: list[str | None] = Field(description="JPEG per face (in face order): the muscle map")
    json_url: str | None
    csv_url: str | None
    timings_ms: dict[str, float]
    result: ResultDocument | None = Field(None, description="the result document (schema_version 1.0; "
                                                          "mimetic/schema/result.schema.json); see README")


class Job(BaseModel):
    id: str = Field(description="server-generated job id (a UUID)")
    status: str = Field(description="queued | running | done | failed")
    progress: float = Field(description="0..1")
    frames: int = Field(description="frames analysed so far")
    frames_total: int | None = Field(description="frames expected (the container's estimate), if known")
    error: str | None = Field(description="why the job failed")
    source_name: str | None
    params: dict[str, Any]
    keep_media: bool
    created_at: str | None
    updated_at: str | None
    started_at: str | None
    finished_at: str | None
    stats: dict[str, Any] | None = Field(description="statistics of the finished job: frames, faces, expression "
                                                     "share, AU mean/max/present share, pose, segments and "
                                                     "expression changes, micro/macro event counts")
    files: dict[str, str] = Field(description="result file name -> URL (frames.csv, frames.jsonl, annotated.mp4, "
                                              "timeline.json, timeline.csv, windows.csv, changes.csv, events.csv, "
                                              "report.html, source.*)")
    urls: dict[str, str] = Field(description="self, events (SSE), timeline, page")


class Health(BaseModel):
    status: str
    version: str
    jobs_queued: int
    job_queue_size: int
    live_sessions: int


class PracticeExerciseRow(BaseModel):
    """One exercise of a stored session, as the history lists it (the full entry is in the session's result)."""

    exercise: str = Field(description="the exercise id")
    position: int = Field(description="its place in the routine, from 0")
    score: float | None = Field(description="0-100")
    left: float | None = Field(description="movement of the person's left side 0-1")
    right: float | None = Field(description="movement of the person's right side 0-1")
    symmetry: float | None = Field(description="0-1, 1 = equal")
    hold: float | None = Field(description="seconds held (mean over the reps)")
    stability: float | None = Field(description="0-1")
    synkinesis: int = Field(description="number of synkinesis warnings")
    skipped: bool


class PracticeSessionSummary(BaseModel):
    id: str = Field(description="the session id (a UUID)")
    day: str = Field(description="the patient's local date, YYYY-MM-DD")
    started_at: str | None
    finished_at: str | None
    routine: str = Field(description="the routine's name, or the comma-joined exercise ids of a custom list")
    score: float | None = Field(description="the session score 0-100")
    exercises: list[PracticeExerciseRow]
    partial: bool = Field(False, description="stopped before the routine's end (issue 17)")
    affected_side: str | None = Field(None, description="the patient's affected side during the session")
    calibration: dict[str, Any] | None = Field(None, description="the calibration's quality ('good'/'poor'), "
                                               "attempts, warnings and refusal reasons (message keys)")
    sunnybrook: SunnybrookEstimate | None = Field(None, description="the Sunnybrook-shaped estimate (not a "
                                                  "clinical grading; untested items null)")


class PracticeSessionDetail(PracticeSessionSummary):
    """One stored session with its full result, exactly as it was saved at the end of the session."""

    result: SessionResult | None = Field(description="the session result (mimetic/schema/practice.schema.json; "
                                                      "docs/dev/practice-contract.md §3)")
    sunnybrook: SunnybrookEstimate | None = Field(description="the Sunnybrook-shaped estimate of the result "
                                                              "(not a clinical grading)")


class PracticeDay(BaseModel):
    date: str = Field(description="YYYY-MM-DD")
    sessions: list[PracticeSessionSummary] = Field(description="the day's sessions, in the order they were done")
