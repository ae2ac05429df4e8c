"""previews: free before/after previews of a short span of a video

Revision ID: 0005_previews
Revises: 0004_deferred_start
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_previews"
down_revision: str | None = "0004_deferred_start"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "previews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "QUEUED",
                "PROCESSING",
                "COMPLETED",
                "FAILED",
                name="previewstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("requested_start_seconds", sa.Float(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("max_output_height", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=True),
        sa.Column("enhancer", sa.String(length=64), nullable=True),
        sa.Column("quality", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_previews_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_previews_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_previews")),
    )
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_previews_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_previews_video_id"), ["video_id"], unique=False)
        batch_op.create_index("ix_previews_status_created_at", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("previews")
