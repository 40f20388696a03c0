"""Where the project's non-Python files are: next to the code in a checkout (or an editable install), or
under ``<prefix>/share/claimwatch`` in an installed wheel (pyproject.toml's data-files)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


@cache
def resource_root() -> Path:
    """The folder holding ``alembic.ini``, ``alembic/`` and ``templates/``."""
    for candidate in (CHECKOUT, Path(sys.prefix) / "share" / "claimwatch"):
        if (candidate / "alembic.ini").is_file() and (candidate / "templates").is_dir():
            return candidate
    raise FileNotFoundError("claimwatch's alembic.ini and templates/ were not found next to the code or "
                            f"under {Path(sys.prefix) / 'share' / 'claimwatch'}: reinstall claimwatch")


def templates_dir() -> Path:
    return resource_root() / "templates"
