"""The database tables (SQLAlchemy 2 declarative models). Schema changes go through a new Alembic revision in
``mimetic/store/migrations/versions`` — never ``create_all``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One background analysis of an uploaded video.

    ``files`` lists the result files by name (server-chosen names such as ``frames.csv``); they live in the job's
    own folder, named by ``id``. ``owner_id`` is a placeholder for accounts (issue 7 and later): null today.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a server-generated UUID4, hex with dashes
    kind: Mapped[str] = mapped_column(String(16), default="video")
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | done | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    frames: Mapped[int] = mapped_column(Integer, default=0)  # frames analysed so far
    frames_total: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the container's estimate
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it failed, for people
    source_name: Mapped[str | None] = mapped_column(String(255), nullable=True)  # display only, never a path
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    keep_media: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
