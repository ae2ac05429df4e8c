"""jobs: an index on (status, completed_at) for the start estimate's latest completed jobs

Revision ID: 0008_jobs_completed_index
Revises: 0007_preview_credentials
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_jobs_completed_index"
down_revision: str | None = "0007_preview_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every poll of a queued job averages the latest completed jobs (`jobs.outlook`): with this
    # index the newest are read in order, instead of sorting every completed job on each poll.
    op.create_index("ix_jobs_status_completed_at", "jobs", ["status", "completed_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_completed_at", table_name="jobs")
