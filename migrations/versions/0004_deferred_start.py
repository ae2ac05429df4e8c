"""jobs.holds_video (autoStart false holds nothing until started) and jobs.quality (fidelity)

Revision ID: 0004_deferred_start
Revises: 0005_batches
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_deferred_start"
down_revision: str | None = "0005_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holds_video", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("quality", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("quality")
        batch_op.drop_column("holds_video")
