"""Returned messages as they arrive in a bounce mailbox, built from the RFC examples and from
the formats real providers send, with our tokens where each puts the sender's identity.

Where each shape comes from:
- `postfix_dsn`: what Postfix 3.7 writes (seen in tests/test_bounces_postfix.py's run), the
  RFC 3464 layout of its Appendix examples: per-message block, then per-recipient blocks.
- `rfc3464_delayed` / `rfc3464_failed_transient`: RFC 3464 Appendix A.3 ("Delayed DSN") and
  A.1's transient failure (`Status: 4.0.0`, `Diagnostic-Code: smtp; 426 connection timed out`).
- `rfc5965_arf`: RFC 5965 Appendix B.2, the complete ARF example (`Feedback-Type: abuse`,
  `Original-Mail-From`, `Original-Rcpt-To`, the reported message as message/rfc822).
- `yahoo_arf`: Yahoo's feedback loop (`User-Agent: Yahoo!-Mail-Feedback/1.0`, `Version: 0.1`),
  the layout of sisimai/set-of-emails maildir/bsd/arf-02.eml.
- `aol_redacted_arf`: an ARF whose reported message has its recipient redacted and no
  Return-Path, as AOL's and Yahoo's loops redact it (see PITFALLS.md "DSNs"): only our
  List-Unsubscribe token is left to identify the reader.
- `microsoft_jmrp`: Microsoft's JMRP (Outlook.com/Hotmail): not ARF, multipart/mixed from
  staff@hotmail.com, subject "complaint about message from <ip>", the reported message
  attached with `X-HmXmrOriginalRecipient`; sisimai/set-of-emails maildir/bsd/arf-22.eml.
- `returnpath_fbl`: Return Path's `ReturnPathFBL/1.0` (used by e.g. Terra, Rackspace):
  multipart/report without a report-type parameter; sisimai/set-of-emails arf-15.eml, arf-21.
- `apple_mail_unsubscribe`: Apple Mail's one-tap unsubscribe to a List-Unsubscribe mailto
  (`X-Apple-Unsubscribe: true`, `Auto-Submitted: auto-replied`); sisimai arf-26.eml.
- `vacation_reply`: an RFC 3834 auto-reply sent to the envelope sender.
"""

from __future__ import annotations

_CRLF = "\r\n"


def _bytes(text: str) -> bytes:
    return _CRLF.join(text.strip("\n").split("\n")).encode() + b"\r\n"


def postfix_dsn(
    verp: str, final: str, *, status: str = "5.1.1", action: str = "failed",
    original: str | None = None, diagnostic: str = 'X-Postfix; unknown user: "{final}"',
    queue: str = "72AEB20C5F3",
) -> bytes:  # fmt: skip
    original = original or final
    diagnostic = diagnostic.format(final=final)
    return _bytes(f"""
Return-Path: <>
Delivered-To: {verp}
Received: by relay.lists.example (Postfix) id 7FC6820C008; Wed,  2 Dec 2026 01:54:06 +0000 (UTC)
Date: Wed,  2 Dec 2026 01:54:06 +0000 (UTC)
From: MAILER-DAEMON@relay.lists.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {verp}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{queue}.1796176446/relay.lists.example"
Message-Id: <20261202015406.{queue}@relay.lists.example>

This is a MIME-encapsulated message.

--{queue}.1796176446/relay.lists.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

<{final}>: {diagnostic}

--{queue}.1796176446/relay.lists.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.lists.example
X-Postfix-Queue-ID: {queue}
X-Postfix-Sender: rfc822; {verp}
Arrival-Date: Wed,  2 Dec 2026 01:54:06 +0000 (UTC)

Final-Recipient: rfc822; {final}
Original-Recipient: rfc822;{original}
Action: {action}
Status: {status}
Diagnostic-Code: {diagnostic}

--{queue}.1796176446/relay.lists.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{verp}>
From: The Astana Times <newsletter@example.org>
To: {final}
Subject: The Astana Times digest

--{queue}.1796176446/relay.lists.example--
""")


def rfc3464_delayed(verp: str, final: str) -> bytes:
    """RFC 3464 A.3: the MTA is still trying (`Action: delayed`, `Will-Retry-Until`)."""
    return _bytes(f"""
Delivered-To: {verp}
Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@cs.utk.edu>
Message-Id: <199407072116.RAA14128@cs.utk.edu>
Subject: Returned mail: Cannot send message for 5 days
To: {verp}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
   ----- The following addresses had delivery problems -----
<{final}>  (transient failure)

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;{final}
Final-Recipient: rfc822;{final}
Action: delayed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400
Will-Retry-Until: Fri, 8 Jul 1994 17:15:49 -0400

--RAA14128.773615765/CS.UTK.EDU--
""")


def rfc3464_failed_transient(verp: str, final: str) -> bytes:
    """RFC 3464 A.1's shape, the MTA gave up on a transient failure (`failed`, 4.0.0)."""
    return rfc3464_delayed(verp, final).replace(b"Action: delayed", b"Action: failed")


def _reported(return_path: str, to: str, unsubscribe: str) -> str:
    return f"""Return-Path: <{return_path}>
Received: from relay.lists.example (relay.lists.example [192.0.2.1])
    by mail.example.com; Wed, 2 Dec 2026 01:54:06 +0000
From: The Astana Times <newsletter@example.org>
To: {to}
Subject: The Astana Times digest
Message-ID: <2026-11-28.0123456789abcdef01234567@example.org>
List-Unsubscribe: <https://example.org/unsubscribe?token=x>, <{unsubscribe}>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

The digest body."""


def rfc5965_arf(to: str, mail_from: str, reported: str, unsubscribe: str) -> bytes:
    """RFC 5965 B.2; the envelope sender of the reported message is our VERP address."""
    return _bytes(f"""
From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <{to}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{mail_from}>
Original-Rcpt-To: <{reported}>
Received-Date: Thu, 8 Mar 2005 14:00:00 EDT
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com
               smtp.mail={mail_from};
               spf=fail
Reported-Domain: example.org
Reported-Uri: http://example.org/earn_money.html

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

{_reported(mail_from, reported, unsubscribe)}

--part1_13d.2e68ed54_boundary--
""")


def yahoo_arf(return_path: str, reported: str, unsubscribe: str) -> bytes:
    return _bytes(f"""
Return-Path: abuse=example.org@returns.bulk.yahoo.com
Delivered-To: fbl@example.org
Message-ID: <00000000000000.00000.smtp@mx8.example.com>
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Type: multipart/report;
    boundary="_----------=F000000000000000000000";
    report-type="feedback-report"
Date: Thu, 29 Apr 2013 23:45:00 -0800
From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: fbl@example.org
Subject: Fw: The Astana Times digest

This is a multi-part message in MIME format.

--_----------=F000000000000000000000
Content-Disposition: inline
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from relay.lists.example

--_----------=F000000000000000000000
Content-Disposition: inline
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/1.0
Version: 0.1
Original-Rcpt-To: {reported}
Received-Date: Thu, 29 Apr 2013 23:45:50 PST
Reported-Domain: example.org
Authentication-Results: none

--_----------=F000000000000000000000
Content-Disposition: inline
Content-Type: message/rfc822

X-Apparently-To: {reported} via 192.0.2.45; Thu, 29 Apr 2013 23:45:10 -0800
{_reported(return_path, reported, unsubscribe)}

--_----------=F000000000000000000000--
""")


def aol_redacted_arf(unsubscribe: str) -> bytes:
    return _bytes(f"""
Delivered-To: fbl@example.org
From: scomp@aol.net
To: fbl@example.org
Subject: Email Feedback Report for IP 192.0.2.1
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
    boundary="boundary-1138-14591-2601062-29182"
Message-ID: <201612010000.abcdef@aol.net>

--boundary-1138-14591-2601062-29182
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 192.0.2.1.

--boundary-1138-14591-2601062-29182
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: AOL SComp
Version: 0.1
Received-Date: Thu, 01 Dec 2016 00:00:00 EST
Source-IP: 192.0.2.1
Reported-Domain: example.org
Redacted-Address: redacted@

--boundary-1138-14591-2601062-29182
Content-Type: message/rfc822
Content-Disposition: inline

From: The Astana Times <newsletter@example.org>
To: redacted@aol.com
Subject: The Astana Times digest
List-Unsubscribe: <https://example.org/unsubscribe?token=x>, <{unsubscribe}>
Content-Type: text/plain; charset=utf-8

The digest body.

--boundary-1138-14591-2601062-29182--
""")


def microsoft_jmrp(recipient: str, unsubscribe: str) -> bytes:
    return _bytes(f"""
Delivered-To: fbl@example.org
Date: Thu, 29 Apr 2016 23:34:45 +0000
From: staff@hotmail.com
Subject:  complaint about message from 192.0.2.1
To: fbl@example.org
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="F0000EEE2-0000-2111-AAB0-000000000000"
Message-ID: <CAT0-NNE-000000000000000022@CAT0-RRR.example.org>

--F0000EEE2-0000-2111-AAB0-000000000000
Content-Type: message/rfc822
Content-Disposition: inline

X-HmXmrOriginalRecipient: {recipient}
X-Reporter-IP: 192.0.2.22
Date: Thu, 29 Apr 2016 23:34:45 +0200
To: {recipient}
From: The Astana Times <newsletter@example.org>
Subject: The Astana Times digest
List-Unsubscribe: <https://example.org/unsubscribe?token=x>, <{unsubscribe}>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

The digest body.

--F0000EEE2-0000-2111-AAB0-000000000000--
""")


def returnpath_fbl(return_path: str, reported: str) -> bytes:
    return _bytes(f"""
Delivered-To: fbl@example.org
Content-Type: multipart/report; boundary="_----------=_15000000000000000000";
MIME-Version: 1.0
Date: Thu, 29 Apr 2016 23:34:45 +0000
Subject: Abuse Report
From: feedbackloop@feedback.terra.com
To: fbl@example.org

--_----------=_15000000000000000000
Content-Type: text/plain

This is an email abuse report for an email message from relay.lists.example.

--_----------=_15000000000000000000
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ReturnPathFBL/1.0
Version: 1
Original-Mail-From: {return_path}
Original-Rcpt-To: {reported}
Received-Date: Thu, 29 Apr 2016 23:34:45 +0000
Source-IP: 192.0.2.1

--_----------=_15000000000000000000
Content-Type: message/rfc822

{_reported(return_path, reported, "mailto:newsletter@example.org")}

--_----------=_15000000000000000000--
""")


def apple_mail_unsubscribe(sender: str, mailto: str) -> bytes:
    return _bytes(f"""
Delivered-To: {mailto}
Date: Thu, 2 May 2024 17:48:55 +0000 (UTC)
From: {sender}
Reply-To: {sender}
To: {mailto}
Message-ID: <898B6152-36BC-4F4B-ABF8-2694A88CB5FC@icloud.com>
Subject: unsubscribe
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable
Auto-Submitted: auto-replied
X-Apple-Unsubscribe: true

Apple Mail sent this email to unsubscribe from the message =E2=80=9CThe Astana=
 Times digest=E2=80=9D.
""")


def vacation_reply(verp: str, sender: str) -> bytes:
    return _bytes(f"""
Delivered-To: {verp}
From: {sender}
To: {verp}
Subject: Out of office: The Astana Times digest
Auto-Submitted: auto-replied
Message-ID: <vacation.1@readers.example>
Content-Type: text/plain; charset=utf-8

I am away until Monday.
""")
