"""enhancers loaded by live workers

Revision ID: 0004_worker_enhancers
Revises: 0004_video_raw_deleted_at
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_worker_enhancers"
down_revision: str | None = "0004_video_raw_deleted_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_enhancers",
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("enhancer", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=True),
        sa.Column("frames_per_second_720p", sa.Float(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", "enhancer", name=op.f("pk_worker_enhancers")),
    )
    op.create_index(op.f("ix_worker_enhancers_seen_at"), "worker_enhancers", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_enhancers_seen_at"), table_name="worker_enhancers")
    op.drop_table("worker_enhancers")
