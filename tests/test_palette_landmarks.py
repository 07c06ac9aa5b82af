"""Dark-mode colours and the landmark markers of the layout, without a browser."""

from __future__ import annotations

import pytest

from newsletter.email_html import landmarks
from newsletter.palette import DARK, contrast, on_dark


def test_contrast_is_wcags() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#fff", "#ffffff") == pytest.approx(1)


@pytest.mark.parametrize("brand", ["#b3001b", "#1f5f8b", "#000000", "#0000ff", "#3a3a3a",
                                   "#ffcc00", "#00f"])
def test_every_brand_colour_becomes_legible_on_dark(brand: str) -> None:
    dark = on_dark(brand)
    assert contrast(dark, DARK["card"]) >= 4.5
    assert contrast(dark, DARK["page"]) >= 4.5


def test_a_malformed_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="not a #rrggbb"):
        on_dark("#12345")


BODY = ('<div aria-label="Subject" aria-roledescription="email" role="article" lang="de">'
        '<!-- nl:header --><div>top</div><!-- /nl:header --><!-- nl:main --><div>x</div>'
        '<!-- /nl:main --><!-- nl:footer --><div>f</div><!-- /nl:footer --></div>')


def test_markers_become_elements_on_the_web_and_roles_in_mail() -> None:
    web = landmarks(BODY, web=True)
    assert '<header role="banner"><div>top</div></header><main><div>x</div></main>' in web
    assert '<footer role="contentinfo">' in web
    assert "aria-label" not in web
    assert 'role="article"' not in web
    mail = landmarks(BODY, web=False)
    assert '<div role="banner"><div>top</div></div><div role="main">' in mail
    assert 'aria-roledescription="email" role="article"' in mail
    assert 'aria-label="Subject"' not in mail


@pytest.mark.parametrize("html", [
    "<div>no markers at all</div>",
    '<div role="article" aria-label="S"><!-- nl:main --><div>x</div></div>',  # unclosed
    "<!-- nl:main --><!-- /nl:main --><!-- /nl:main -->",
])
def test_templates_without_or_with_broken_markers_are_left_as_they_are(html: str) -> None:
    assert landmarks(html, web=True) == html
    assert landmarks(html, web=False) == html
