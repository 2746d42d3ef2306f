"""Accounts of the workspace: password hashes, API tokens, signed session cookies.

- Passwords are stored as ``scrypt$n$r$p$salt$hash`` (:func:`hashlib.scrypt`, a random 16-byte
  salt per user); never as plain text.
- API tokens are 32 random bytes shown once; the database keeps their SHA-256 only.
- Page sessions are a cookie signed with ``DIR/secret.key`` (created once, mode 0600) holding
  the user id and a fingerprint of the password hash, so a password change ends old sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from graphchurn.app.web.db import ApiToken, Team, User

__all__ = [
    "DEFAULT_TEAM",
    "SessionSigner",
    "add_user",
    "has_users",
    "hash_password",
    "new_token",
    "secret_key",
    "user_for_token",
    "verify_password",
]

DEFAULT_TEAM = "default"
_SCRYPT = (2 ** 14, 8, 1)
SESSION_COOKIE = "graphchurn_session"
SESSION_MAX_AGE = 7 * 24 * 3600


def hash_password(password: str) -> str:
    n, r, p = _SCRYPT
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(digest) // 2)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def has_users(session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


def add_user(session, name: str, password: str, *, team: str = DEFAULT_TEAM, admin: bool = False) -> User:
    """Create a user in ``team`` (created when new). Raises ValueError for a taken name or an
    empty password."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a user name has 1 to 100 characters")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ValueError(f"user {name!r} exists already")
    team_row = session.scalar(select(Team).where(Team.name == team))
    if team_row is None:
        team_row = Team(name=team)
        session.add(team_row)
        session.flush()
    user = User(name=name, team_id=team_row.id, password_hash=hash_password(password), is_admin=admin)
    session.add(user)
    session.commit()
    return user


def new_token(session, user: User) -> str:
    """A new API token for ``user``; only its hash is stored."""
    token = "gct_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token)))
    session.commit()
    return token


def user_for_token(session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    return None if row is None else session.get(User, row.user_id)


def secret_key(data_dir) -> bytes:
    """The session-signing key of a workspace, created on first use (mode 0600)."""
    path = Path(data_dir) / "secret.key"
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


class SessionSigner:
    """Signs and checks the session cookie: ``{"u": user id, "f": password fingerprint}``."""

    def __init__(self, key: bytes):
        self._s = URLSafeTimedSerializer(key, salt="graphchurn-session")

    @staticmethod
    def _fingerprint(user: User) -> str:
        return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]

    def dumps(self, user: User) -> str:
        return self._s.dumps({"u": user.id, "f": self._fingerprint(user)})

    def user(self, session, cookie: str | None) -> User | None:
        if not cookie:
            return None
        try:
            data = self._s.loads(cookie, max_age=SESSION_MAX_AGE)
            user = session.get(User, int(data["u"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if user is None or not hmac.compare_digest(self._fingerprint(user), str(data.get("f"))):
            return None
        return user
