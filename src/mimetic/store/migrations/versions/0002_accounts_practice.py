"""Accounts and practice: users, login sessions, invitations, patient-clinician links, practice sessions and their
exercise results (issue 7). Every row that belongs to a user goes with them (ON DELETE CASCADE).

Revision ID: 0002_accounts_practice
Revises: 0001_jobs
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_accounts_practice"
down_revision = "0001_jobs"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _user_fk(column: str = "user_id", *, nullable: bool = False) -> sa.Column:
    return sa.Column(column, sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                           name=f"fk_{column}_users"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("affected_side", sa.String(8), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("password_changed_at", TS, nullable=False),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _user_fk(),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_login_sessions_token_hash"),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_index("ix_login_sessions_expires_at", "login_sessions", ["expires_at"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        _user_fk("clinician_id"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("used_by", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL",
                                                         name="fk_used_by_users"), nullable=True),
        sa.UniqueConstraint("code", name="uq_invitations_code"),
    )
    op.create_index("ix_invitations_clinician_id", "invitations", ["clinician_id"])
    op.create_table(
        "links",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_fk("patient_id"),
        _user_fk("clinician_id"),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("patient_id", "clinician_id", name="uq_links_patient_clinician"),
    )
    op.create_index("ix_links_patient_id", "links", ["patient_id"])
    op.create_index("ix_links_clinician_id", "links", ["clinician_id"])
    op.create_table(
        "practice_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        _user_fk(),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("routine", sa.String(64), nullable=False, server_default=""),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("sunnybrook", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_practice_sessions_user_day", "practice_sessions", ["user_id", "day"])
    op.create_table(
        "exercise_results",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("practice_sessions.id", ondelete="CASCADE",
                                                            name="fk_session_id_practice_sessions"),
                  nullable=False),
        _user_fk(),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("left", sa.Float, nullable=True),
        sa.Column("right", sa.Float, nullable=True),
        sa.Column("symmetry", sa.Float, nullable=True),
        sa.Column("hold", sa.Float, nullable=True),
        sa.Column("stability", sa.Float, nullable=True),
        sa.Column("synkinesis", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_exercise_results_session_id", "exercise_results", ["session_id"])
    op.create_index("ix_exercise_results_user_exercise_day", "exercise_results", ["user_id", "exercise", "day"])


def downgrade() -> None:
    op.drop_index("ix_exercise_results_user_exercise_day", "exercise_results")
    op.drop_index("ix_exercise_results_session_id", "exercise_results")
    op.drop_table("exercise_results")
    op.drop_index("ix_practice_sessions_user_day", "practice_sessions")
    op.drop_table("practice_sessions")
    op.drop_index("ix_links_clinician_id", "links")
    op.drop_index("ix_links_patient_id", "links")
    op.drop_table("links")
    op.drop_index("ix_invitations_clinician_id", "invitations")
    op.drop_table("invitations")
    op.drop_index("ix_login_sessions_expires_at", "login_sessions")
    op.drop_index("ix_login_sessions_user_id", "login_sessions")
    op.drop_table("login_sessions")
    op.drop_table("users")
