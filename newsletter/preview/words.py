"""The preview's own words (not the email's) in German, Chinese and English: the interface
speaks the workspace's language ([newsletter] language), English where we have none."""

from __future__ import annotations

from collections.abc import Mapping

from newsletter.tags import primary

WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "preview": "Preview", "from": "From", "to": "To", "view": "View",
        "desktop": "Desktop", "mobile": "Mobile", "text": "Text", "dark": "Dark",
        "editions": "Editions", "frame": "The email", "errors": "Errors", "checks": "Checks",
        "failed": "The last change does not build: see the errors.",
        "no_warnings": "No warnings: size, alt texts and links are fine.",
        "checks_later": "Checks run once the issue builds again.", "build": "Build",
        "live": "live", "lost": "server stopped (retrying)", "error": "error",
        "warning": "warning", "broken_title": "Build failed",
        "broken": "The issue does not build",
        "broken_hint": "Fix the file and save it: this page updates by itself.",
        "plain": "plain text", "sample": "a sample reader (the default salutation)",
    },
    "de": {
        "preview": "Vorschau", "from": "Von", "to": "An", "view": "Ansicht",
        "desktop": "Desktop", "mobile": "Mobil", "text": "Text", "dark": "Dunkel",
        "editions": "Ausgaben", "frame": "Die E-Mail", "errors": "Fehler",
        "checks": "Prüfungen",
        "failed": "Die letzte Änderung lässt sich nicht bauen: siehe die Fehler.",
        "no_warnings": "Keine Warnungen: Größe, Alternativtexte und Links sind in Ordnung.",
        "checks_later": "Die Prüfungen laufen, sobald sich die Ausgabe wieder bauen lässt.",
        "build": "Stand", "live": "live", "lost": "Server beendet (neuer Versuch läuft)",
        "error": "Fehler", "warning": "Warnung", "broken_title": "Bauen fehlgeschlagen",
        "broken": "Die Ausgabe lässt sich nicht bauen",
        "broken_hint": "Korrigieren und speichern Sie die Datei: Diese Seite aktualisiert "
                       "sich von selbst.",
        "plain": "Nur-Text", "sample": "eine Beispielleserin (die Standardanrede)",
    },
    "zh": {
        "preview": "预览", "from": "发件人", "to": "收件人", "view": "视图",
        "desktop": "桌面", "mobile": "手机", "text": "纯文本", "dark": "深色",
        "editions": "语言版本", "frame": "邮件", "errors": "错误", "checks": "检查",
        "failed": "最近一次修改无法生成：请查看错误。",
        "no_warnings": "没有警告：大小、替代文字和链接均无问题。",
        "checks_later": "本期可以重新生成后，将再次运行检查。", "build": "版本",
        "live": "实时", "lost": "服务器已停止（正在重试）", "error": "错误",
        "warning": "警告", "broken_title": "生成失败", "broken": "本期无法生成",
        "broken_hint": "请修改文件并保存：本页面会自动更新。", "plain": "纯文本",
        "sample": "示例读者（默认称呼）",
    },
}


def words(language: str) -> Mapping[str, str]:
    """The interface's words for a workspace language such as ``de-AT``."""
    return WORDS.get(primary(language), WORDS["en"])


def ui_language(language: str) -> str:
    """The language the interface speaks for a workspace language: de, zh or en."""
    return primary(language) if primary(language) in WORDS else "en"
