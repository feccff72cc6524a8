"""`syndicate serve`: the reader's side of the publication over HTTP.

Sign-up with double opt-in, confirmation, the unsubscribe page and RFC 8058 one-click, and (with
`[web] static`) the output folder. `create_app` makes the ASGI application (Starlette); `serve`
runs it under uvicorn on `[web] listen`. Instances share nothing but the state database.
"""

from __future__ import annotations

from syndicate.config import Config
from syndicate.web.app import check, create_app

__all__ = ["check", "create_app", "serve"]


def serve(config: Config) -> None:
    """Answer on `[web] listen` until SIGTERM or SIGINT (uvicorn finishes open requests)."""
    import uvicorn

    check(config)
    host, port = config.web.host_port
    uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            proxy_headers=True,  # the client address behind a proxy, for the per-client limit
            forwarded_allow_ips=list(config.web.trusted_proxies),
            access_log=False,  # its lines carry the query string, and so whole tokens
            log_config=None,  # syndicate's own logging (cli), not uvicorn's
            server_header=False,
            lifespan="on",
        )
    ).run()
