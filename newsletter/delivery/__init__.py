"""Delivery: turning a finished issue into messages and handing them to a relay.

Shared by ``send`` (the issue to every reader) and ``serve`` (confirmation and welcome
mails), so both build messages the same way (7-bit, every header encoded, DKIM-signed) and
deliver them through the same transports:

- ``compose``: the message builder (personalised parts, headers, DKIM via ``dkim``);
- ``headers``: header values, encoded and free of line breaks;
- ``transport`` and ``pipeline``: SMTP with aiosmtplib, pipelined where offered;
- ``outbox``: the local Maildir used when no SMTP relay is configured;
- ``outcome``: what one attempt came to, and the ``Transport`` interface;
- ``size``: the issue's size limit and a relay's SIZE.
"""
