"""Delivery: turning a finished issue into messages and handing them to a relay.

Shared by ``send`` (the issue to every reader) and ``serve`` (confirmation and welcome
mails), so both build messages the same way (7-bit, every header encoded, DKIM-signed) and
deliver them through the same transports:

- ``letter``: what every message has (From, envelope sender, Reply-To, List-Id,
  List-Unsubscribe, 7-bit text parts, DKIM via ``dkim``), and whole service mails;
- ``compose``: an issue's per-reader messages on that letterhead;
- ``headers``: header values, encoded and free of line breaks;
- ``transport`` and ``pipeline``: SMTP with aiosmtplib, pipelined where offered;
- ``outbox``: the local Maildir used when no SMTP relay is configured;
- ``outcome``: what one attempt came to, and the ``Transport`` interface;
- ``size``: the issue's size limit and a relay's SIZE.
"""
