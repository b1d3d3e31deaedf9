"""The database tables (SQLAlchemy 2 declarative models). Schema changes go through a new Alembic revision in
``mimetic/store/migrations/versions`` — never ``create_all``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One background analysis of an uploaded video.

    ``files`` lists the result files by name (server-chosen names such as ``frames.csv``); they live in the job's
    own folder, named by ``id``. ``owner_id`` is the id of the logged-in user who made the job (only they can see
    it; their account's deletion deletes it), null for an anonymous job (its id is the capability).
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


# -- accounts and practice (issue 7; revision 0002_accounts_practice) ---------------------------------------------
# Every row below belongs to one user and goes with them: foreign keys to users are ON DELETE CASCADE.

_USER_FK = dict(ondelete="CASCADE")


class User(Base):
    """A person with an account: a patient who practises, or a clinician who follows linked patients."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # normalised: trimmed, lower case
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string format
    role: Mapped[str] = mapped_column(String(16))  # patient | clinician
    display_name: Mapped[str] = mapped_column(String(100), default="")
    affected_side: Mapped[str | None] = mapped_column(String(8), nullable=True)  # left | right | null
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginSession(Base):
    """One logged-in browser. Only the SHA-256 of the cookie's token is stored, never the token."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the cookie value
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # the CSRF token bound to this login
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Invitation(Base):
    """A clinician's single-use code that links a patient to them."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # normalised: upper case, no separators
    clinician_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class Link(Base):
    """A patient shares their practice with a clinician."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("patient_id", "clinician_id", name="uq_links_patient_clinician"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK), index=True)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PracticeSessionRow(Base):
    """One practice session (calibration + a routine) and its whole result (docs/dev/practice-contract.md §3)."""

    __tablename__ = "practice_sessions"
    __table_args__ = (Index("ix_practice_sessions_user_day", "user_id", "day"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK))
    day: Mapped[date] = mapped_column(Date)  # the patient's local date
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    routine: Mapped[str] = mapped_column(String(64), default="")
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0-100
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    sunnybrook: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExerciseResultRow(Base):
    """One exercise of one session, flattened for trends and statistics."""

    __tablename__ = "exercise_results"
    __table_args__ = (Index("ix_exercise_results_user_exercise_day", "user_id", "exercise", "day"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("practice_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK))
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within the session
    day: Mapped[date] = mapped_column(Date)
    exercise: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    left: Mapped[float | None] = mapped_column(Float, nullable=True)
    right: Mapped[float | None] = mapped_column(Float, nullable=True)
    symmetry: Mapped[float | None] = mapped_column(Float, nullable=True)
    hold: Mapped[float | None] = mapped_column(Float, nullable=True)
    stability: Mapped[float | None] = mapped_column(Float, nullable=True)
    synkinesis: Mapped[int] = mapped_column(Integer, default=0)  # how many synkinesis warnings
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)


# -- labelling projects (issue 20; revision 0003_annotation; the store is mimetic.store.annotation) ----------------
# Everything goes with its project; memberships and votes go with their user.


class AnnotationProject(Base):
    """A labelling project: a name, an owner and a label set (:meth:`mimetic.annotate.LabelSet.to_dict`)."""

    __tablename__ = "annotation_projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK), index=True)
    label_set: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnnotationMember(Base):
    __tablename__ = "annotation_members"
    __table_args__ = (UniqueConstraint("project_id", "user_id", name="uq_annotation_members_project_user"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("annotation_projects.id", **_USER_FK), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", **_USER_FK), index=True)
    role: Mapped[str] = mapped_column(String(16))  # owner | reviewer | annotator


class AnnotationItem(Base):
    """One image. ``file``/``crop``: server-chosen file names in the project's folder; ``prelabel``: see
    :func:`mimetic.annotate.prelabel.prelabel`."""

    __tablename__ = "annotation_items"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_annotation_items_project_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("annotation_projects.id", **_USER_FK), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255), default="")  # display only
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    prelabel: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    review: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnnotationVote(Base):
    """One annotator's answer on one item. ``annotator``: the member's e-mail, or the name an import gave;
    ``user_id``: the member, when it is one."""

    __tablename__ = "annotation_votes"
    __table_args__ = (UniqueConstraint("item_id", "annotator", name="uq_annotation_votes_item_annotator"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("annotation_items.id", **_USER_FK), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", **_USER_FK), nullable=True, index=True)
    annotator: Mapped[str] = mapped_column(String(254))
    label: Mapped[str] = mapped_column(String(40))
    aus: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
