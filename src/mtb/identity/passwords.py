"""Staff passwords: one hash (pwdlib's recommended argon2id), used by the login, by account creation and
by the demo-password check. Verification is deliberately slow: call it off the event loop."""

from __future__ import annotations

from pwdlib import PasswordHash

_passwords = PasswordHash.recommended()
# Verified when the username is unknown, so a wrong username costs the same time as a wrong password.
DUMMY_HASH = _passwords.hash("mtb-dummy-password")


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def password_matches(password: str, stored: str) -> bool:
    """Blocking (a deliberately slow hash): call it in a thread."""
    return bool(_passwords.verify(password, stored))
