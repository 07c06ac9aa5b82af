"""An issue folder to a frozen ``Issue``, collecting every problem before failing.

``load`` reads the folder (issue.toml, the sections in order, every edition), ``sections``
reads one section file, ``issue`` holds the result (``Issue``, ``Section``), and
``fingerprint`` hashes the folder's files.
"""

from newsletter.content.fingerprint import folder_fingerprint
from newsletter.content.issue import Issue
from newsletter.content.load import load_issue

__all__ = ["Issue", "folder_fingerprint", "load_issue"]
