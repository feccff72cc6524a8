"""`syndicate serve`: the reader's side of the publication over HTTP.

Sign-up with double opt-in, confirmation, the unsubscribe page and RFC 8058 one-click, and (with
`[web] static`) the output folder. `create_app` makes the ASGI application (Starlette); `serve`
runs it under uvicorn on `[web] listen`. Instances share nothing but the state database.
"""

from __future__ import annotations

import dataclasses

from syndicate.config import Config, validate_web
from syndicate.web.app import check, create_app

__all__ = ["check", "create_app", "listening_on", "serve"]


def listening_on(config: Config, listen: str) -> Config:
    """`config` with another `[web] listen` (`serve --listen`), checked like the file's."""
    web = dataclasses.replace(config.web, listen=listen)
    validate_web(web, key="--listen")
    return dataclasses.replace(config, web=web)


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
