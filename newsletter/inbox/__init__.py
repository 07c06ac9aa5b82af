"""`newsletter inbox`: what comes back after a send, classified and recorded exactly once.

classify (verdict) -> effects (record events, against the send journals) -> the record ->
then the message is marked handled in its source (IMAP Processed folder or Maildir flag).
"""
