"""videos: poster, storyboard and output poster paths; the poster task's attempts and claim

Revision ID: 0006_thumbnails
Revises: 0005_previews
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_thumbnails"
down_revision: str | None = "0005_previews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thumbnail_path", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("storyboard_path", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("output_thumbnail_path", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("poster_attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("poster_claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        for column in (
            "poster_claimed_at",
            "poster_attempts",
            "output_thumbnail_path",
            "storyboard_path",
            "thumbnail_path",
        ):
            batch_op.drop_column(column)
