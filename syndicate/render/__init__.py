"""Rendering: feeds, archive pages, digests and messages. Pure: no disk (but the template
loader), no network, no clock; `now` and every time arrive as arguments."""
