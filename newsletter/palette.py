"""Colours for dark mode: WCAG contrast, and a brand colour made legible on a dark background.

The email, the web version and the archive share one dark palette (``DARK``); the brand
colour is the editor's, so its dark-mode variant is computed, not configured: the brand's
hue, lightened just until it reads comfortably on the darkest surface it is shown on.
"""

from __future__ import annotations

import colorsys

# The dark palette: page background, card (section) background, body text, secondary text.
DARK = {"page": "#121212", "card": "#1e1e1e", "text": "#e8e8e8", "muted": "#b8b8b8"}
COMFORTABLE = 5.5  # contrast the dark brand colour aims for (AA needs 4.5 for body text)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(colour: str) -> tuple[int, int, int]:
    text = colour.lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""
    r, g, b = (_channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def on_dark(colour: str, background: str = DARK["card"]) -> str:
    """``colour`` with its hue kept and its lightness raised until it reads on ``background``."""
    r, g, b = (v / 255 for v in _rgb(colour))
    hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
    candidate = colour.lower()
    while contrast(candidate, background) < COMFORTABLE and lightness < 1:
        lightness = min(1.0, lightness + 0.02)
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
        candidate = "#{:02x}{:02x}{:02x}".format(*(round(v * 255) for v in (red, green, blue)))
    return candidate
