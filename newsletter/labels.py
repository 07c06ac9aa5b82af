"""The few words the templates print themselves, per issue language (fallback: English),
and the per-language typography: font stack, salutation mark."""

from __future__ import annotations

from newsletter.tags import pick

_LATIN = "Helvetica, Arial, sans-serif"
LABELS: dict[str, dict[str, str]] = {
    "de": {
        "web_version": "Im Browser ansehen", "unsubscribe": "Abmelden",
        "read_more": "Weiterlesen", "imprint": "Impressum", "archive": "Alle Ausgaben",
        "contact": "Kontakt", "interview_by": "Das Interview führte",
        "speakers": "Es sprachen", "new_member": "Neues Mitglied",
        "why": "Herausgeber: {publisher}", "photo": "Foto", "salutation_mark": ",",
        "editions": "Diese Ausgabe auf", "colon": ": ", "comma": ", ",
        "language_name": "Deutsch", "font_family": _LATIN,
        "months": "Januar Februar März April Mai Juni Juli August September Oktober "
                  "November Dezember",
    },
    "en": {
        "web_version": "View in browser", "unsubscribe": "Unsubscribe",
        "read_more": "Read more", "imprint": "Imprint", "archive": "All issues",
        "contact": "Contact", "interview_by": "Interview by", "speakers": "Speakers",
        "new_member": "New member", "why": "Published by {publisher}",
        "photo": "Photo", "salutation_mark": ",", "editions": "This issue in",
        "colon": ": ", "comma": ", ", "language_name": "English",
        "font_family": _LATIN,
        "months": "January February March April May June July August September October "
                  "November December",
    },
    "zh": {
        "web_version": "在浏览器中查看", "unsubscribe": "退订", "read_more": "阅读更多",
        "imprint": "版本信息", "archive": "往期", "contact": "联系", "interview_by": "采访者",
        "speakers": "发言人", "new_member": "新成员", "why": "发布方：{publisher}",
        "photo": "图片", "salutation_mark": "：", "editions": "本期其他语言版本",
        "colon": "：", "comma": "，", "language_name": "中文",
        "font_family": "'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', "
                       "'Noto Sans CJK SC', sans-serif",
        "months": "1月 2月 3月 4月 5月 6月 7月 8月 9月 10月 11月 12月",
    },
}


# Traditional Chinese (zh-Hant, and zh-TW / zh-HK / zh-MO, which write it: ``tags.fallback``).
LABELS["zh-hant"] = LABELS["zh"] | {
    "web_version": "在瀏覽器中查看", "unsubscribe": "取消訂閱", "read_more": "閱讀更多",
    "imprint": "版本資訊", "contact": "聯絡", "interview_by": "採訪者", "speakers": "發言人",
    "new_member": "新成員", "why": "發布方：{publisher}", "photo": "圖片",
    "language_name": "中文（繁體）",
    "font_family": "'PingFang TC', 'Microsoft JhengHei', 'Noto Sans CJK TC', sans-serif",
}


def labels(language: str) -> dict[str, str]:
    """The labels for a BCP 47 tag such as ``de-DE`` (``tags.fallback``: Chinese by its
    script too, ``zh-Hant`` and ``zh-TW`` get Traditional characters), else English."""
    return pick(language, LABELS, "en")
