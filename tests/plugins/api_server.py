"""A small recording Images API server on 127.0.0.1, and the fixtures that start it.

It records every request exactly as it arrived (headers, JSON body or multipart parts) and
answers with scripted replies, or by default with a valid ``ImagesResponse`` holding ``n``
tiny PNGs (inline, or as URLs it serves itself when ``response_format=url``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping

from images_async import AsyncImages
from images_async.testing.sample_images import solid_png

API_KEY = "sk-test-0123456789abcdef"
TINY_PNG = solid_png(4, 4)


@attrs.frozen
class Part:
    """One part of a recorded multipart body."""

    name: str
    value: str | bytes
    filename: str | None
    content_type: str | None


@attrs.frozen
class RecordedRequest:
    """A request as the server saw it."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes
    json: dict[str, Any] | None
    parts: list[Part]

    def field(self, name: str) -> str | bytes | None:
        """The value of the first multipart part called ``name`` (None if absent)."""
        return next((part.value for part in self.parts if part.name == name), None)

    @property
    def params(self) -> dict[str, Any]:
        """The request's parameters, from the JSON body or the text parts."""
        if self.json is not None:
            return self.json
        return {p.name: p.value for p in self.parts if p.filename is None}


@attrs.define
class Reply:
    """A scripted answer."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    events: Sequence[dict[str, Any]] | None = None
    delay: float = 0.0
    """Seconds to wait before sending headers."""
    chunk_delay: float = 0.0
    """Seconds to wait between streamed events."""


def images_body(params: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A valid ImagesResponse for the given request parameters."""
    n = int(params.get("n") or 1)
    if params.get("response_format") == "url":
        data = [{"url": f"{base_url}/files/image-{i}.png"} for i in range(n)]
    else:
        encoded = base64.b64encode(TINY_PNG).decode()
        data = [{"b64_json": encoded, "revised_prompt": "a revised prompt"} for _ in range(n)]
    return {
        "created": int(time.time()),
        "data": data,
        "size": "1024x1024",
        "quality": "high",
        "output_format": "png",
        "background": "opaque",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "total_tokens": 30,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
        },
    }


def stream_events(kind: str, partial_images: int) -> list[dict[str, Any]]:
    """A valid event sequence: partial images, then the completed image."""
    encoded = base64.b64encode(TINY_PNG).decode()
    common = {
        "b64_json": encoded,
        "created_at": int(time.time()),
        "size": "1024x1024",
        "quality": "high",
        "background": "opaque",
        "output_format": "png",
    }
    events: list[dict[str, Any]] = [
        {"type": f"{kind}.partial_image", "partial_image_index": index, **common}
        for index in range(partial_images)
    ]
    usage = {
        "input_tokens": 5,
        "output_tokens": 7,
        "total_tokens": 12,
        "input_tokens_details": {"text_tokens": 5, "image_tokens": 0},
    }
    events.append({"type": f"{kind}.completed", **common, "usage": usage})
    return events


class FakeImagesAPI:
    """The server's state: what it received and what it will answer next."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.replies: deque[Reply] = deque()
        self.base_url = ""
        self.open_connections = 0

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order; then fall back to the default."""
        self.replies.extend(replies)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = b""
        parts: list[Part] = []
        json_body = None
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader), "nested multipart is not expected"
                content = await part.read()
                parts.append(
                    Part(
                        name=part.name or "",
                        value=content if part.filename else content.decode(),
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                    )
                )
        elif body := await request.read():
            json_body = json.loads(body)
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=body,
            json=json_body,
            parts=parts,
        )
        self.requests.append(recorded)
        return recorded

    async def handle_images(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        reply = self.replies.popleft() if self.replies else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        params = recorded.params
        if reply.events is None and str(params.get("stream")).lower() == "true":
            kind = "image_edit" if request.path.endswith("edits") else "image_generation"
            reply.events = stream_events(kind, int(params.get("partial_images") or 0))
        headers = CIMultiDict({"x-request-id": f"req_{len(self.requests)}"})
        headers.update(reply.headers)
        if reply.events is not None:
            return await self._stream(request, reply, headers)
        if reply.body is not None:
            return web.Response(status=reply.status, body=reply.body, headers=headers)
        payload = reply.json if reply.json is not None else images_body(params, self.base_url)
        return web.json_response(payload, status=reply.status, headers=headers)

    async def _stream(
        self, request: web.Request, reply: Reply, headers: CIMultiDict[str]
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status, headers=headers)
        response.content_type = "text/event-stream"
        await response.prepare(request)
        try:
            for event in reply.events or ():
                frame = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                await response.write(frame.encode())
                if reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading early, which several tests do on purpose
        return response

    async def handle_file(self, request: web.Request) -> web.Response:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=b"",
                json=None,
                parts=[],
            )
        )
        if request.match_info["name"] == "missing.png":
            return web.json_response({"error": {"message": "gone"}}, status=404)
        return web.Response(body=TINY_PNG, content_type="image/png")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/images/{endpoint}", self.handle_images)
        app.router.add_get("/files/{name}", self.handle_file)
        return app


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 at an ephemeral port; yields its ``http://host:port`` root."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeImagesAPI]:
    """A recording Images API on 127.0.0.1 with an ephemeral port."""
    api = FakeImagesAPI()
    async with serving(api.app()) as api.base_url:
        yield api


@pytest.fixture
async def images(fake_api: FakeImagesAPI) -> AsyncIterator[AsyncImages]:
    """An AsyncImages client pointed at ``fake_api`` (no retries unless a test asks)."""
    async with AsyncImages(
        api_key=API_KEY, base_url=f"{fake_api.base_url}/v1", max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, to talk raw HTTP to a test's server (30 s per request)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
