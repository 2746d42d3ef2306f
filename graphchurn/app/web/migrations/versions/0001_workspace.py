"""workspace: teams, users, api tokens, uploads, runs

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("teams",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(100), nullable=False, unique=True))
    op.create_table("users",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(100), nullable=False, unique=True),
                    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False),
                    sa.Column("password_hash", sa.String(300), nullable=False),
                    sa.Column("is_admin", sa.Boolean, nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table("api_tokens",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
                    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
                    sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table("uploads",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False,
                              index=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
                    sa.Column("filename", sa.String(300), nullable=False),
                    sa.Column("sha256", sa.String(64), nullable=False),
                    sa.Column("size", sa.Integer, nullable=False),
                    sa.Column("path", sa.Text, nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table("runs",
                    sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False,
                              index=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
                    sa.Column("created_at", sa.DateTime, nullable=False),
                    sa.Column("started_at", sa.DateTime),
                    sa.Column("finished_at", sa.DateTime),
                    sa.Column("status", sa.String(16), nullable=False, index=True),
                    sa.Column("stage", sa.String(200)),
                    sa.Column("stage_started_at", sa.DateTime),
                    sa.Column("error", sa.Text),
                    sa.Column("inputs", sa.JSON, nullable=False),
                    sa.Column("params", sa.JSON, nullable=False),
                    sa.Column("metrics", sa.JSON),
                    sa.Column("outputs", sa.JSON, nullable=False))


def downgrade() -> None:
    for table in ("runs", "uploads", "api_tokens", "users", "teams"):
        op.drop_table(table)
