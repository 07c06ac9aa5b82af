"""What the environment overrides in newsletter.toml: the SMTP URL and the database URL.

The environment wins over the file, so one workspace can be sent from several machines (a
different relay, a shared PostgreSQL) without editing the file everyone shares.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.database import check_url
from newsletter.errors import ConfigError, shown_path

SMTP_URL_ENV = "NEWSLETTER_SMTP_URL"
DATABASE_URL_ENV = "NEWSLETTER_DATABASE_URL"


def smtp_url(declared: str | None) -> str | None:
    """``NEWSLETTER_SMTP_URL``, else ``declared`` (``[smtp] url``); None: the local outbox."""
    return os.environ.get(SMTP_URL_ENV) or declared or None


def overriding_database_url() -> str | None:
    """``NEWSLETTER_DATABASE_URL``, checked, or None when it is not set."""
    url = os.environ.get(DATABASE_URL_ENV)
    return check_url(url, where=DATABASE_URL_ENV) if url else None


def database_url(declared: str | None, config_file: Path) -> str | None:
    """``NEWSLETTER_DATABASE_URL``, else ``declared`` (``[database] url``); None: SQLite files.

    A password belongs in ``PGPASSWORD`` or ``~/.pgpass``: newsletter.toml is shared (and
    often kept in git), so a URL there with a password in it is refused.
    """
    url = overriding_database_url()
    if url:
        return url
    if not declared:
        return None
    check_url(declared)
    if urlsplit(declared).password is not None:
        raise ConfigError("[database] url in newsletter.toml holds a password: remove it "
                          "and set PGPASSWORD (or ~/.pgpass) in the environment instead",
                          path=shown_path(config_file))
    return declared
