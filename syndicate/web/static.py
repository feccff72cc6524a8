"""The output folder over HTTP (`[web] static = true`): what nginx serves in production, for
`syndicate serve` alone to show the whole publication. Feeds get their own media types;
bookkeeping files (names starting with a dot) are never served.

Reads files only under the output folder; writes nothing.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

TYPES = {  # as the README's nginx snippet serves them
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
CSP = "script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


class PublicFiles(StaticFiles):
    """StaticFiles without dot-files, with feed media types and a no-script policy."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if any(part.startswith(".") for part in PurePosixPath(path.replace(os.sep, "/")).parts):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        kind = TYPES.get(os.path.basename(path))
        if kind and response.status_code in (200, 304):
            response.headers["content-type"] = kind
        response.headers["content-security-policy"] = CSP
        return response
