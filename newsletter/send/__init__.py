"""Sending: an async core over click-free modules.

``campaign`` orchestrates: it reads the build and the list, opens the ``journal`` (exactly
once, resumable), takes the ``lock``, and feeds composed messages to the ``pool`` of
``transport`` connections (or the local ``outbox``). Per-recipient refusals are data in the
``SendReport``, never exceptions. Nothing here knows about templates.
"""
