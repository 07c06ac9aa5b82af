"""The service's words in German, Chinese and English, and which of them a request gets."""

from __future__ import annotations

from collections.abc import Mapping

from newsletter.tags import fallback

LANGUAGES = ("de", "zh", "en")
NAMES = {"de": "Deutsch", "zh": "中文", "en": "English"}

TEXTS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "subscribe_title": "Newsletter abonnieren",
        "subscribe_intro": "Tragen Sie Ihre E-Mail-Adresse ein. Sie erhalten eine E-Mail mit "
                           "einem Link, mit dem Sie das Abonnement bestätigen.",
        "email": "E-Mail-Adresse", "name": "Name (freiwillig)", "language": "Sprache",
        "page_language": "Sprache dieser Seite",
        "list": "Liste", "consent": "Einwilligung",
        "consent_default": "Ich möchte den Newsletter per E-Mail erhalten. Ich kann mich "
                           "jederzeit über den Link in jeder Ausgabe abmelden.",
        "subscribe_button": "Abonnieren",
        "honeypot": "Dieses Feld bitte leer lassen",
        "sent_title": "Bitte bestätigen Sie Ihre Adresse",
        "sent_body": "Wenn die Adresse stimmt, ist eine E-Mail mit einem Bestätigungslink "
                     "unterwegs. Erst nach der Bestätigung erhalten Sie den Newsletter.",
        "confirm_title": "Abonnement bestätigen",
        "confirm_body": "Bitte bestätigen Sie, dass Sie den Newsletter erhalten möchten.",
        "confirm_button": "Abonnement bestätigen",
        "confirmed_title": "Vielen Dank!",
        "confirmed_body": "Ihr Abonnement ist bestätigt. Sie erhalten die nächste Ausgabe.",
        "expired_title": "Dieser Link ist abgelaufen",
        "expired_body": "Bestätigungslinks gelten sieben Tage. Bitte melden Sie sich erneut an.",
        "again": "Erneut anmelden",
        "unsubscribe_title": "Newsletter abbestellen",
        "unsubscribe_body": "Möchten Sie den Newsletter nicht mehr erhalten?",
        "unsubscribe_button": "Abmelden",
        "language_intro": "Oder möchten Sie den Newsletter lieber in einer anderen Sprache "
                          "erhalten?",
        "language_button": "Sprache ändern",
        "language_title": "Sprache geändert",
        "language_body": "Sie erhalten künftige Ausgaben auf Deutsch, soweit es sie in "
                         "dieser Sprache gibt.",
        "unsubscribed_title": "Sie sind abgemeldet",
        "unsubscribed_body": "Sie erhalten keine weiteren Ausgaben. Falls das ein Versehen war, "
                             "können Sie sich jederzeit wieder anmelden.",
        "invalid_title": "Dieser Link ist ungültig",
        "invalid_body": "Der Link ist unvollständig oder beschädigt. Bitte verwenden Sie den "
                        "vollständigen Link aus der E-Mail.",
        "error_title": "Das hat nicht geklappt",
        "csrf_body": "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen "
                     "Sie es noch einmal.",
        "busy_body": "Zu viele Anfragen. Bitte versuchen Sie es später noch einmal.",
        "store_body": "Wir konnten Ihre Anfrage gerade nicht speichern. Bitte versuchen Sie es "
                      "in einigen Minuten noch einmal.",
        "bad_email": "Bitte geben Sie eine gültige E-Mail-Adresse ein",
        "bad_name": "Der Name darf keine Zeilenumbrüche enthalten und höchstens 100 Zeichen "
                    "lang sein",
        "bad_consent": "Bitte stimmen Sie zu, damit wir Ihnen den Newsletter senden dürfen",
        "bad_list": "Bitte wählen Sie eine Liste",
        "mail_subject": "Bitte bestätigen Sie Ihr Abonnement: {name}",
        "mail_body": "Guten Tag,\n\njemand (hoffentlich Sie) möchte {address} für den "
                     "Newsletter „{name}“ anmelden. Bitte bestätigen Sie das über diesen Link "
                     "(gültig sieben Tage):\n\n{link}\n\nWenn Sie das nicht waren, ignorieren "
                     "Sie diese E-Mail einfach: Ohne Bestätigung senden wir Ihnen nichts.\n\n"
                     "{publisher}\n",
    },
    "zh": {
        "subscribe_title": "订阅简报",
        "subscribe_intro": "请填写您的电子邮箱地址。我们会给您发送一封带有确认链接的邮件。",
        "email": "电子邮箱", "name": "姓名（选填）", "language": "语言", "list": "列表",
        "page_language": "页面语言",
        "consent": "同意",
        "consent_default": "我愿意通过电子邮件接收简报。我可以随时通过每期邮件中的链接退订。",
        "subscribe_button": "订阅",
        "honeypot": "请勿填写此栏",
        "sent_title": "请确认您的邮箱地址",
        "sent_body": "如果地址无误，一封带有确认链接的邮件正在发送给您。确认之后您才会收到简报。",
        "confirm_title": "确认订阅",
        "confirm_body": "请确认您希望接收简报。",
        "confirm_button": "确认订阅",
        "confirmed_title": "谢谢！",
        "confirmed_body": "您的订阅已确认。您将收到下一期简报。",
        "expired_title": "此链接已过期",
        "expired_body": "确认链接的有效期为七天。请重新订阅。",
        "again": "重新订阅",
        "unsubscribe_title": "退订简报",
        "unsubscribe_body": "您不想再收到简报了吗？",
        "unsubscribe_button": "退订",
        "language_intro": "或者，您想用另一种语言接收简报吗？",
        "language_button": "更改语言",
        "language_title": "语言已更改",
        "language_body": "今后的简报将以中文发送给您（如有中文版）。",
        "unsubscribed_title": "您已退订",
        "unsubscribed_body": "您将不会再收到简报。如果这是误操作，您可以随时重新订阅。",
        "invalid_title": "此链接无效",
        "invalid_body": "链接不完整或已损坏。请使用邮件中的完整链接。",
        "error_title": "操作未成功",
        "csrf_body": "表单已过期。请刷新页面后重试。",
        "busy_body": "请求过多。请稍后再试。",
        "store_body": "我们暂时无法保存您的请求。请几分钟后再试。",
        "bad_email": "请输入有效的电子邮箱地址",
        "bad_name": "姓名不能包含换行，且最多 100 个字符",
        "bad_consent": "请勾选同意，我们才能给您发送简报",
        "bad_list": "请选择一个列表",
        "mail_subject": "请确认您的订阅：{name}",
        "mail_body": "您好！\n\n有人（希望是您本人）希望用 {address} 订阅简报“{name}”。请通过以下"
                     "链接确认（七天内有效）：\n\n{link}\n\n如果不是您本人操作，请忽略此邮件："
                     "未经确认，我们不会给您发送任何内容。\n\n{publisher}\n",
    },
    "en": {
        "subscribe_title": "Subscribe to the newsletter",
        "subscribe_intro": "Enter your email address. We will send you an email with a link "
                           "to confirm your subscription.",
        "email": "Email address", "name": "Name (optional)", "language": "Language",
        "page_language": "Language of this page",
        "list": "List", "consent": "Consent",
        "consent_default": "I want to receive the newsletter by email. I can unsubscribe at "
                           "any time with the link in every issue.",
        "subscribe_button": "Subscribe",
        "honeypot": "Leave this field empty",
        "sent_title": "Please confirm your address",
        "sent_body": "If the address is right, an email with a confirmation link is on its "
                     "way. You will receive the newsletter only after confirming.",
        "confirm_title": "Confirm your subscription",
        "confirm_body": "Please confirm that you want to receive the newsletter.",
        "confirm_button": "Confirm subscription",
        "confirmed_title": "Thank you!",
        "confirmed_body": "Your subscription is confirmed. You will receive the next issue.",
        "expired_title": "This link has expired",
        "expired_body": "Confirmation links are valid for seven days. Please subscribe again.",
        "again": "Subscribe again",
        "unsubscribe_title": "Unsubscribe from the newsletter",
        "unsubscribe_body": "Do you no longer want to receive the newsletter?",
        "unsubscribe_button": "Unsubscribe",
        "language_intro": "Or would you rather receive the newsletter in another language?",
        "language_button": "Change language",
        "language_title": "Language changed",
        "language_body": "You will receive future issues in English, where there is an "
                         "English edition.",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_body": "You will receive no further issues. If this was a mistake, you "
                             "can subscribe again at any time.",
        "invalid_title": "This link is not valid",
        "invalid_body": "The link is incomplete or damaged. Please use the whole link from "
                        "the email.",
        "error_title": "That did not work",
        "csrf_body": "The form has expired. Please reload the page and try again.",
        "busy_body": "Too many requests. Please try again later.",
        "store_body": "We could not store your request just now. Please try again in a few "
                      "minutes.",
        "bad_email": "Please enter a valid email address",
        "bad_name": "The name must not contain line breaks and be at most 100 characters long",
        "bad_consent": "Please agree so that we may send you the newsletter",
        "bad_list": "Please choose a list",
        "mail_subject": "Please confirm your subscription: {name}",
        "mail_body": "Hello,\n\nsomeone (hopefully you) asked to subscribe {address} to the "
                     "newsletter \"{name}\". Please confirm with this link (valid for seven "
                     "days):\n\n{link}\n\nIf that was not you, just ignore this email: without "
                     "a confirmation we send you nothing.\n\n{publisher}\n",
    },
}


def choose(param: str | None, accept_language: str | None, default: str) -> str:
    """The page language: ``lang`` if one of ours, else the best of Accept-Language, else
    ``default`` (the newsletter's language if we have it, else English)."""
    found = fallback(param, LANGUAGES)
    if found is not None:
        return found
    best: tuple[float, int, str] | None = None
    for index, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        ours = fallback(tag, LANGUAGES)
        if ours is None:
            continue
        weight = 1.0
        for param_text in params.split(";"):
            key, _, value = param_text.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0 and (best is None or (weight, -index) > (best[0], best[1])):
            best = (weight, -index, ours)
    if best is not None:
        return best[2]
    return fallback(default, LANGUAGES) or "en"
