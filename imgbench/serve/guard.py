"""Limits every request meets before the app sees it: the body's size, counted as it streams in, and a time
limit on the whole request.

A pure ASGI middleware.  A body announced larger than the cap is answered 413 without being read; one
that grows past the cap while streaming (chunked, say) is cut off there and answered 413 too.  (FastAPI's
own ``max_body_size`` answers the first case in plain text; every error of this API is JSON.)  A request
still unanswered when its time is up gets 408 if its body was still arriving (a slow or stalled sender)
and 503 otherwise; a computation that ran over keeps its worker thread until it ends (Python cannot stop
a thread), but the server answers other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import json

from starlette.exceptions import HTTPException


class BodyTooLarge(HTTPException):
    """A request body over the cap (an HTTPException, so FastAPI's body parsing passes it on unchanged)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the upload is larger than the {limit:,}-byte limit")


async def send_error(send, status: int, message: str) -> None:
    """A JSON error response ``{"error": message}`` on a raw ASGI ``send``."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware: at most ``max_body`` bytes of body, and an answer within ``timeout`` seconds."""

    def __init__(self, app, max_body: int, timeout: float):
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.max_body:
            await send_error(send, 413, str(BodyTooLarge(self.max_body).detail))
            return
        seen = 0
        body_done = length == b"0" and b"transfer-encoding" not in headers  # no body to wait for
        started = False

        async def capped_receive():
            nonlocal seen, body_done
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self.max_body)
                body_done = not message.get("more_body", False)
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, capped_receive, tracked_send), self.timeout)
        except BodyTooLarge as exc:  # met outside a route (a route's exception handler answers it there)
            if not started:
                await send_error(send, 413, str(exc.detail))
        except asyncio.TimeoutError:
            if not started:
                late = "the request took too long" if body_done else "the request body arrived too slowly"
                await send_error(send, 503 if body_done else 408, f"{late} (limit {self.timeout:g} s)")
