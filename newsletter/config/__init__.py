"""newsletter.toml: declared once, validated with every problem reported at once.

``keys`` declares every key the file may hold, ``load`` finds and checks the file,
``values`` holds the result (``Config``, ``ListSpec``, ``Limits``), ``environment`` is what
the environment overrides (the SMTP and database URLs).
"""

from newsletter.config.keys import IDENTITY_FIELDS
from newsletter.config.load import database_url_near, find_root, load_config
from newsletter.config.values import DEFAULT_LIMITS, Config, Limits, ListSpec, ListText

__all__ = ["DEFAULT_LIMITS", "IDENTITY_FIELDS", "Config", "Limits", "ListSpec", "ListText",
           "database_url_near", "find_root", "load_config"]
