"""previews: the Content Credentials signed into the `after` clip and read back

Revision ID: 0007_preview_credentials
Revises: 0006_thumbnails
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_preview_credentials"
down_revision: str | None = "0006_thumbnails"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_credentials", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.drop_column("content_credentials")
