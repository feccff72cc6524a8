"""The ASGI application of `syndicate serve`: routes, form reading, answers and their headers.

`create_app(config)` builds it. It keeps nothing between requests but what start-up worked out
from the config (the signing key, the site, templates) and a database connection pool: the
sign-ups, rate-limit counts and the list live in the state database, so any number of
instances can answer for one publication. The work itself is in `syndicate.pipeline.signup`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from syndicate.config import Config
from syndicate.errors import ConfigError
from syndicate.pipeline import signup
from syndicate.pipeline.keys import dkim_signer, signing_key
from syndicate.pipeline.signup import LinkRefused, Reader
from syndicate.render.common import make_environment, site_for
from syndicate.render.web import Form, Page, web_page
from syndicate.store import Store
from syndicate.web.guard import Guard, origin_of, same_origin
from syndicate.web.static import PublicFiles

log = logging.getLogger("syndicate")
T = TypeVar("T")

REFUSED = {
    "malformed": "This link is not valid: it may have been cut short or changed on its way. "
    "Copy the whole link from the message into your browser's address bar.",
    "expired": "This confirmation link has expired. Sign up again and use the new link within "
    "a few days.",
    "used": "This confirmation link has been used already. If you are not receiving the "
    "newsletter, sign up again.",
}


class State(TypedDict):
    store: Store
    reader: Reader


def _page_headers(config: Config) -> dict[str, str]:
    """Every page the web side makes: no script at all, no caching, no Referer sent on."""
    style = " ".join(sorted({"'self'", origin_of(config.site.url)}))
    forms = " ".join(sorted({"'self'", origin_of(config.web.url)}))
    policy = (
        f"default-src 'none'; style-src {style}; img-src 'self'; form-action {forms}; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "content-security-policy": policy,
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }


class Pages:
    """The handlers; each request reads what start-up prepared from `request.state`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.headers = _page_headers(config)
        self.origins = {origin_of(config.web.url), origin_of(config.site.url)}

    def answer(self, request: Request, page: Page, status: int = 200) -> Response:
        """A page. The pages of links (confirm, unsubscribe) send no Referer: their address
        holds a token. The answers to a sign-up do send their origin: one of them carries the
        form again, and a browser posts a form from a no-referrer page with `Origin: null`,
        which the sign-up's Origin check refuses."""
        reader: Reader = request.state.reader
        body = web_page(reader.env, reader.site, page)
        headers = self.headers
        if request.url.path.endswith("/subscribe"):
            headers = headers | {"referrer-policy": "strict-origin-when-cross-origin"}
        return Response(body, status, headers, media_type="text/html; charset=utf-8")

    @staticmethod
    async def run(request: Request, work: Callable[..., T], *args: Any) -> T:
        """A blocking store call, off the event loop."""
        return await run_in_threadpool(work, request.state.reader, request.state.store, *args)

    @staticmethod
    async def form(request: Request) -> FormData:
        """The posted fields: urlencoded or multipart (RFC 8058 allows both), no files."""
        return await request.form(max_files=0, max_fields=20, max_part_size=4096)

    def token(self, request: Request, form: FormData | None = None) -> str:
        value = request.query_params.get("token") or (form.get("token") if form else None)
        return value if isinstance(value, str) else ""

    def refused(self, request: Request, reason: str) -> Response:
        title = "This link has expired" if reason == "expired" else "This link does not work"
        if reason == "used":
            title = "This link has been used"
        log.info("event=link-refused path=%s reason=%s", request.url.path, reason)
        return self.answer(request, Page(title, (REFUSED[reason],)), 400)

    def foreign(self, request: Request) -> Response | None:
        if same_origin(request.headers, self.origins):
            return None
        log.info("event=form-refused reason=cross-origin path=%s", request.url.path)
        page = Page("Form refused", ("This form was sent from another web site.",))
        return self.answer(request, page, 403)

    # -- sign-up ----------------------------------------------------------------------------

    def inbox(self, request: Request) -> Response:
        """The one answer to a sign-up, whoever the address belongs to."""
        page = Page(
            "Check your inbox",
            (
                "If the address can receive mail, a message with a link to confirm your "
                "subscription is on its way. Open it and press the button on the page.",
                "Nothing arrives? Look in the spam folder, or sign up again later.",
            ),
        )
        return self.answer(request, page)

    async def subscribe(self, request: Request) -> Response:
        form = await self.form(request)
        if (refusal := self.foreign(request)) is not None:
            return refusal
        if form.get("website"):  # the honeypot: a person never sees it
            log.info("event=signup outcome=honeypot")
            return self.inbox(request)
        email, name = form.get("email"), form.get("name") or ""
        if not isinstance(email, str) or not isinstance(name, str):
            email = ""
        client = signup.client_key(request.state.reader.key, _client(request))
        try:
            outcome, notice = await self.run(
                request, signup.sign_up, email, name, client, datetime.now(UTC)
            )
        except ConfigError:
            page = Page("Check the address", ("That is not an email address we can send to.",),
                        signup=True)  # fmt: skip
            return self.answer(request, page, 400)
        if outcome == "client-limit":
            page = Page("Too many sign-ups", ("Too many sign-ups came from your network in the "
                        "past hour. Please try again later.",))  # fmt: skip
            response = self.answer(request, page, 429)
            response.headers["retry-after"] = "3600"
            return response
        response = self.inbox(request)
        if notice is not None:  # sent after the answer: its time tells nothing either
            response.background = BackgroundTask(signup.send_notice, self.config, notice)
        return response

    async def subscribe_page(self, request: Request) -> Response:
        return RedirectResponse(request.state.reader.site.subscribe_url, 303)

    def ask(self, request: Request, endpoint: str, token: str, button: str, what: str) -> Response:
        """A link's GET: a page whose button posts the token (link scanners only GET)."""
        title = request.state.reader.site.title
        heading = "Confirm your subscription" if endpoint == "confirm" else button
        page = Page(
            heading,
            (f"Press the button to {what} {title} by email.",),
            Form(f"{self.config.web.url}{endpoint}", token, button),
        )
        return self.answer(request, page)

    # -- confirm ----------------------------------------------------------------------------

    async def confirm_page(self, request: Request) -> Response:
        token = self.token(request)
        try:
            await self.run(request, signup.pending_signup, token, datetime.now(UTC))
        except LinkRefused as exc:
            return self.refused(request, exc.reason)
        return self.ask(request, "confirm", token, "Confirm subscription", "start getting")

    async def confirm(self, request: Request) -> Response:
        """The confirm page's button. No Origin check: the token is the authority, a page
        that sends no Referer posts `Origin: null`, and another site holding a token could as
        well post it itself."""
        form = await self.form(request)
        try:
            await self.run(request, signup.confirm, self.token(request, form), datetime.now(UTC))
        except LinkRefused as exc:
            return self.refused(request, exc.reason)
        title = request.state.reader.site.title
        page = Page("You are subscribed", (f"The next {title} digest will reach your inbox. "
                    "Every digest has a link to unsubscribe.",))  # fmt: skip
        return self.answer(request, page)

    # -- unsubscribe ------------------------------------------------------------------------

    async def unsubscribe_page(self, request: Request) -> Response:
        token = self.token(request)
        try:
            signup.unsubscribe_address(request.state.reader, token)
        except LinkRefused as exc:
            return self.refused(request, exc.reason)
        return self.ask(request, "unsubscribe", token, "Unsubscribe", "stop getting")

    async def unsubscribe(self, request: Request) -> Response:
        """The page's button, or RFC 8058 one-click (`List-Unsubscribe=One-Click`, posted by
        mail providers from anywhere: no Origin check, no cookie, no redirect)."""
        form = await self.form(request)
        try:
            await self.run(request, signup.unsubscribe, self.token(request, form),
                           datetime.now(UTC))  # fmt: skip
        except LinkRefused as exc:
            return self.refused(request, exc.reason)
        title = request.state.reader.site.title
        page = Page("You are unsubscribed", (f"You will get no more {title} digests.",))
        return self.answer(request, page)

    async def error(self, request: Request, exc: Exception) -> Response:
        """Starlette's own refusals (a malformed form, an unknown path) as pages."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            page = Page("Not found", ("There is no page at this address.",))
        elif status == 405:
            page = Page("Not allowed", ("This address does not answer that kind of request.",))
        elif status >= 500:
            log.error("event=http-error path=%s error=%r", request.url.path, exc)
            page = Page("Something went wrong", ("Please try again in a few minutes.",))
        else:
            page = Page("Bad request", ("The request could not be read.",))
        return self.answer(request, page, status)


def _client(request: Request) -> str:
    """The client's address (uvicorn puts the X-Forwarded-For of a trusted proxy here)."""
    return request.client.host if request.client else ""


def _prepare(config: Config, store: Store) -> Reader:
    return Reader(
        config=config,
        key=signing_key(config, store),
        site=site_for(config, ctas=store.ctas()),
        env=make_environment(config.paths.templates),
        dkim=dkim_signer(config),
    )


def check(config: Config) -> None:
    """What start-up needs, tried once before serving (the database, the key, the DKIM key):
    a bad setting is a clear error at once, not a failure on the first request."""
    store = Store.open(config.paths.database)
    try:
        _prepare(config, store)
    finally:
        store.close()


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def create_app(config: Config) -> Starlette:
    """The web side of the publication that `config` describes."""
    pages = Pages(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[State]:
        store = await run_in_threadpool(Store.open, config.paths.database)
        try:
            reader = await run_in_threadpool(_prepare, config, store)
            yield {"store": store, "reader": reader}
        finally:
            store.close()

    base = _path(config.web.url)
    routes: list[BaseRoute] = [
        Route(f"{base}/subscribe", pages.subscribe, methods=["POST"]),
        Route(f"{base}/subscribe", pages.subscribe_page, methods=["GET"]),
        Route(f"{base}/confirm", pages.confirm_page, methods=["GET"]),
        Route(f"{base}/confirm", pages.confirm, methods=["POST"]),
        Route(f"{base}/unsubscribe", pages.unsubscribe_page, methods=["GET"]),
        Route(f"{base}/unsubscribe", pages.unsubscribe, methods=["POST"]),
    ]
    if config.web.static:
        files = PublicFiles(directory=config.paths.output, html=True, check_dir=False)
        routes.append(Mount(_path(config.site.url), app=files))
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard)],
        exception_handlers={HTTPException: pages.error, Exception: pages.error},
        lifespan=lifespan,
    )
