"""What `syndicate serve` shows and mails: its pages (check your inbox, confirm, unsubscribe,
refusals) and the text and HTML of the sign-up confirmation message.

Pure: values in, markup out, through the Jinja loader (`web.html.j2`, `confirm-email.*.j2`, which
a publication may override like every template). No disk, network or clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import jinja2

from syndicate.render.common import Site, render_template


@dataclass(frozen=True)
class Form:
    """A one-button form: POST to `action`, carrying `token`."""

    action: str
    token: str
    button: str


@dataclass(frozen=True)
class Page:
    """One answer of the web side: a heading, a few paragraphs, maybe a button or the form."""

    title: str
    lines: tuple[str, ...] = ()
    form: Form | None = None
    signup: bool = False  # show the sign-up form (after a refused address)


def web_page(env: jinja2.Environment, site: Site, page: Page) -> bytes:
    return render_template(env, "web.html.j2", site=site, page=page).encode("utf-8")


def confirmation_parts(
    env: jinja2.Environment, site: Site, *, link: str, expires: datetime
) -> tuple[str, str, str]:
    """(subject, text, html) of the message that asks a reader to confirm a sign-up."""
    subject = f"Confirm your subscription to {site.title}"
    context = {"site": site, "link": link, "expires": expires, "subject": subject}
    text = render_template(env, "confirm-email.txt.j2", **context)
    html = render_template(env, "confirm-email.html.j2", **context)
    return subject, text, html
