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
        "editions": "Diese Ausgabe auf", "colon": ": ", "comma": ", ", "open": " (",
        "close": ")", "bracket_open": "[", "bracket_close": "]",
        "language_name": "Deutsch", "font_family": _LATIN,
        "months": "Januar Februar März April Mai Juni Juli August September Oktober "
                  "November Dezember",
        "language_names": "de=Deutsch zh=Chinesisch zh-Hant=Chinesisch (traditionell) "
                          "en=Englisch",
        "untranslated": "Dieser Abschnitt liegt nur auf {language} vor.",
        "privacy": "Datenschutz",
        "welcome_subject": "Ihr Abonnement ist bestätigt: {name}",
        "welcome": "Guten Tag,\n\nvielen Dank für Ihre Anmeldung zum Newsletter „{name}“. "
                   "Ab der nächsten Ausgabe erhalten Sie ihn an {address}.\n\n"
                   "Abmelden können Sie sich jederzeit über den Link in jeder Ausgabe "
                   "oder diesen hier:\n",
    },
    "en": {
        "web_version": "View in browser", "unsubscribe": "Unsubscribe",
        "read_more": "Read more", "imprint": "Imprint", "archive": "All issues",
        "contact": "Contact", "interview_by": "Interview by", "speakers": "Speakers",
        "new_member": "New member", "why": "Published by {publisher}",
        "photo": "Photo", "salutation_mark": ",", "editions": "This issue in",
        "colon": ": ", "comma": ", ", "open": " (", "close": ")", "bracket_open": "[",
        "bracket_close": "]", "language_name": "English",
        "font_family": _LATIN,
        "months": "January February March April May June July August September October "
                  "November December",
        "language_names": "de=German zh=Chinese zh-Hant=Traditional Chinese en=English",
        "untranslated": "This section is available in {language} only.",
        "privacy": "Privacy",
        "welcome_subject": "Your subscription is confirmed: {name}",
        "welcome": "Hello,\n\nthank you for subscribing to the newsletter \"{name}\". "
                   "From the next issue on, it comes to {address}.\n\n"
                   "You can unsubscribe at any time with the link in every issue, or "
                   "this one:\n",
    },
    "zh": {
        "web_version": "在浏览器中查看", "unsubscribe": "退订", "read_more": "阅读更多",
        "imprint": "版本信息", "archive": "往期", "contact": "联系", "interview_by": "采访者",
        "speakers": "发言人", "new_member": "新成员", "why": "发布方：{publisher}",
        "photo": "图片", "salutation_mark": "：", "editions": "本期其他语言版本",
        "colon": "：", "comma": "，", "open": "（", "close": "）", "bracket_open": "〔",
        "bracket_close": "〕", "language_name": "中文",
        "font_family": "'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', "
                       "'Noto Sans CJK SC', sans-serif",
        "months": "1月 2月 3月 4月 5月 6月 7月 8月 9月 10月 11月 12月",
        "language_names": "de=德文 zh=中文 zh-Hant=繁体中文 en=英文",
        "untranslated": "本节仅有{language}版。",
        "privacy": "隐私政策",
        "welcome_subject": "订阅成功：{name}",
        "welcome": "您好！\n\n感谢您订阅简报“{name}”。从下一期起，简报将发送到 {address}。\n\n"
                   "您可以随时通过每期邮件中的链接或以下链接退订：\n",
    },
}


# Traditional Chinese (zh-Hant, and zh-TW / zh-HK / zh-MO, which write it: ``tags.fallback``).
LABELS["zh-hant"] = LABELS["zh"] | {
    "web_version": "在瀏覽器中查看", "unsubscribe": "取消訂閱", "read_more": "閱讀更多",
    "imprint": "版本資訊", "contact": "聯絡", "interview_by": "採訪者", "speakers": "發言人",
    "new_member": "新成員", "why": "發布方：{publisher}", "photo": "圖片",
    "language_name": "中文（繁體）", "language_names": "de=德文 zh=中文 zh-Hant=繁體中文 en=英文",
    "untranslated": "本節僅有{language}版。", "privacy": "隱私政策",
    "font_family": "'PingFang TC', 'Microsoft JhengHei', 'Noto Sans CJK TC', sans-serif",
}


def labels(language: str) -> dict[str, str]:
    """The labels for a BCP 47 tag such as ``de-DE`` (``tags.fallback``: Chinese by its
    script too, ``zh-Hant`` and ``zh-TW`` get Traditional characters), else English."""
    return pick(language, LABELS, "en")
