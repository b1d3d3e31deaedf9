"""Labelling projects (issue 20): projects, their members and roles, items (images kept in the data directory) and
votes. Everything goes with its project, and a user's memberships and votes go with the user (ON DELETE CASCADE).

Revision ID: 0003_annotation
Revises: 0002_accounts_practice
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_annotation"
down_revision = "0002_accounts_practice"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _fk(column: str, table: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(column, sa.String(36), sa.ForeignKey(f"{table}.id", ondelete="CASCADE",
                                                           name=f"fk_annotation_{column}_{table}"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "annotation_projects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        _fk("owner_id", "users"),
        sa.Column("label_set", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_annotation_projects_owner_id", "annotation_projects", ["owner_id"])
    op.create_table(
        "annotation_members",
        sa.Column("id", sa.String(36), primary_key=True),
        _fk("project_id", "annotation_projects"),
        _fk("user_id", "users"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.UniqueConstraint("project_id", "user_id", name="uq_annotation_members_project_user"),
    )
    op.create_index("ix_annotation_members_project_id", "annotation_members", ["project_id"])
    op.create_index("ix_annotation_members_user_id", "annotation_members", ["user_id"])
    op.create_table(
        "annotation_items",
        sa.Column("id", sa.String(36), primary_key=True),
        _fk("project_id", "annotation_projects"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("prelabel", sa.JSON(), nullable=True),
        sa.Column("review", sa.String(40), nullable=True),
        sa.Column("reviewer", sa.String(254), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_annotation_items_project_name"),
    )
    op.create_index("ix_annotation_items_project_id", "annotation_items", ["project_id"])
    op.create_table(
        "annotation_votes",
        sa.Column("id", sa.String(36), primary_key=True),
        _fk("item_id", "annotation_items"),
        _fk("user_id", "users", nullable=True),
        sa.Column("annotator", sa.String(254), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("aus", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("item_id", "annotator", name="uq_annotation_votes_item_annotator"),
    )
    op.create_index("ix_annotation_votes_item_id", "annotation_votes", ["item_id"])
    op.create_index("ix_annotation_votes_user_id", "annotation_votes", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_annotation_votes_user_id", "annotation_votes")
    op.drop_index("ix_annotation_votes_item_id", "annotation_votes")
    op.drop_table("annotation_votes")
    op.drop_index("ix_annotation_items_project_id", "annotation_items")
    op.drop_table("annotation_items")
    op.drop_index("ix_annotation_members_user_id", "annotation_members")
    op.drop_index("ix_annotation_members_project_id", "annotation_members")
    op.drop_table("annotation_members")
    op.drop_index("ix_annotation_projects_owner_id", "annotation_projects")
    op.drop_table("annotation_projects")
