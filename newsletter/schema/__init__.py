"""A small declarative schema: fields with types, checked with every problem collected.

``fields`` declares (``Field``) and holds what a check returns (``Record``, ``Link``,
``Image``); ``checker`` checks values against the fields (``Checker``).
"""

from newsletter.schema.checker import Checker
from newsletter.schema.fields import Field, Image, Record

__all__ = ["Checker", "Field", "Image", "Record"]
