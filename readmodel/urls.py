"""Database URLs as they may be shown: in logs, status lines and error messages."""

from __future__ import annotations

import re


def mask_url(url: str) -> str:
    """The database URL with its password hidden.

    Args:
        url: a SQLAlchemy URL.

    Returns:
        The URL as text, password replaced by ``***``.
    """
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
