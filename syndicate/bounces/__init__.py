"""Returned mail: what came back to the bounce and unsubscribe addresses.

`parse` classifies one message (pure); `mailboxes` reads a Maildir or an IMAP mailbox and
marks what was processed. Neither touches the store: `syndicate.pipeline.returned` ties them to
the subscriber list.
"""
