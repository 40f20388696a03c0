"""The key that signs session cookies: the same in every worker and across restarts, never in the code.

``CLAIMWATCH_SECRET_KEY`` when set (several machines behind one proxy share it that way); otherwise a random
key generated once into ``<data folder>/web-secret-key`` with mode 0600 and read back by every later start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from monitor.config import Settings

SECRET_FILE = "web-secret-key"
MIN_SECRET_CHARS = 32


class SecretKeyError(RuntimeError):
    """The key cannot be read or made; the message says why in one line."""


def secret_key_path(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE


def load_secret_key(settings: Settings) -> str:
    """The signing key (see the module docstring); creating the file is atomic, so workers starting at
    once all end up with the one key that won."""
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_CHARS:
            raise SecretKeyError(f"CLAIMWATCH_SECRET_KEY is too short: use at least {MIN_SECRET_CHARS} random "
                                 "characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
        return settings.secret_key
    path = secret_key_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        key = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise SecretKeyError(f"cannot read or create the web secret key {path}: {exc.strerror or exc} "
                             "(or set CLAIMWATCH_SECRET_KEY)") from exc
    if len(key) < MIN_SECRET_CHARS:  # a writer that died half-way, or a hand-edited file
        raise SecretKeyError(f"the web secret key {path} is shorter than {MIN_SECRET_CHARS} characters: "
                             "delete it to make a new one (every session ends)")
    if path.stat().st_mode & 0o077:
        raise SecretKeyError(f"the web secret key {path} is readable by other users: chmod 600 it")
    return key
