"""An Images API emulator: an aiohttp application that answers like the real service.

It owns the server side of the wire: routes, authentication, rate limits, drawing and
describing the images of a judged request, server-sent event streams, expiring URLs,
injected faults (:mod:`images_async.testing.faults`), and sending. Reading bodies lives in
:mod:`._bodies`, judging them in :mod:`._judging` (built on the client's own rule table,
:mod:`images_async._params`, plus the checks only a server can make), error answers in
:mod:`._answers`, pixels in :mod:`images_async.testing.pictures`. Every call is recorded
for assertions.

``async with Emulator() as emulator:`` serves on 127.0.0.1 with an ephemeral port;
``emulator.base_url`` is the ``.../v1`` root to give a client. Sync code uses
:func:`run_emulator_in_thread`.

Like the real service, it refuses with 400 (in the API's error shape, never a 500) what it
cannot read: invalid JSON, text that is not valid Unicode, malformed forms, and PNG uploads
that do not decode in full (bad CRCs, truncated or undecodable image data).

Unlike the real service, it accepts model names it does not know, so code written for a
newer model runs offline. Such a name behaves like its closest known family: a known name
it extends past a separator (``dall-e-3-hd`` is dall-e-3, ``gpt-image-1-mini-2027`` is
gpt-image-1-mini); any other name (``gpt-image-3``, ``my-model``) like gpt-image-2. Error
messages about such a model say which family was used.

Other known departures: images are always PNG (``output_format`` is echoed but not
honoured); JPEG and WEBP uploads are only checked against their headers; an edit repaints
its first image (further images only count as input tokens); a response's ``size`` is
omitted, and a stream event's is ``"auto"``, when the actual size is outside the spec's
enumeration (dall-e sizes, flexible sizes).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType

import attrs
from aiohttp import web

from .._files import UploadFile
from .._params import Endpoint, ModelRules, parse_size
from . import pictures
from ._answers import Answer, APIError, encode_json, fault_answer, rate_limited
from ._bodies import Received, read_body, recorded_params
from ._judging import DEFAULT_MODELS, Judged, check_decodable, family_of, judge
from .faults import Fault, FaultPlan

__all__ = ["Emulator", "EmulatorConfig", "RecordedCall", "RecordedFile", "run_emulator_in_thread"]

_ROUTES: tuple[tuple[str, Endpoint], ...] = (
    ("/images/generations", "generate"),
    ("/images/edits", "edit"),
    ("/images/variations", "variation"),
)
# Sizes the spec's response schemas can name; others are left out of responses.
_RESPONSE_SIZES = frozenset({"1024x1024", "1024x1536", "1536x1024"})
_BEARER = re.compile(r"Bearer ([\x21-\x7e]+)")
_HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?", re.ASCII)
_MAX_PORT = 65535
_MAX_BODY_BYTES = 1024 * 1024 * 1024
_RATE_WINDOW = 60.0
_NOMINAL_REQUESTS_PER_MINUTE = 10_000
# Output tokens of one 1024x1024 image per quality (gpt-image-1's published table); other
# sizes scale with their area.
_OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
_SHUTDOWN_TIMEOUT = 0.5
_FLUSH_POLLS = 100
_FLUSH_POLL_INTERVAL = 0.01
_THREAD_START_TIMEOUT = 30.0


# --- configuration and records ------------------------------------------------------------


@attrs.define(kw_only=True)
class EmulatorConfig:
    """How the emulator behaves; change it between calls to change the next answers."""

    api_keys: frozenset[str] | None = None
    """Accepted API keys; None accepts any well-formed ``Bearer`` key."""
    latency: float = 0.0
    """Seconds to wait before answering each API call."""
    faults: FaultPlan | None = None
    """Which API calls fail, and how."""
    url_ttl: float = 3600.0
    """Seconds an image URL stays downloadable (dall-e models, ``response_format=url``)."""
    validate: bool = True
    """Reject invalid requests with 400 like the API; False answers whatever it can."""
    requests_per_minute: int | None = None
    """Enforced request rate limit (429 past it); None reports a nominal limit only."""


@attrs.frozen(kw_only=True)
class RecordedFile:
    """One file part of a recorded multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    size: int


@attrs.define(kw_only=True)
class RecordedCall:
    """One request as the emulator saw it, and how it was answered."""

    request_id: str
    method: str
    path: str
    headers: dict[str, str]
    """Request headers; the API key in ``Authorization`` is masked."""
    params: dict[str, object] = attrs.field(factory=dict)
    """The JSON body, or the text parts of a multipart body as sent (strings)."""
    files: list[RecordedFile] = attrs.field(factory=list)
    fault: str | None = None
    """The injected fault, in the plan's spelling (``"429"``, ``"reset"``...)."""
    status: int | None = None
    """The status answered (for ``reset``/``disconnect``, the one that was cut off)."""


def _masked_headers(request: web.Request) -> dict[str, str]:
    headers = dict(request.headers)
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        match = _BEARER.fullmatch(authorization)
        headers["Authorization"] = f"Bearer {_mask_key(match[1])}" if match else "***"
    return headers


def _mask_key(key: str) -> str:
    return f"{key[:3]}***{key[-4:]}" if len(key) > 12 else "***"


# --- jobs ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Job:
    """A judged request: everything needed to draw and describe its images."""

    endpoint: Endpoint
    family: str
    """The known model whose behaviour the requested one gets (itself, when known)."""
    gpt: bool
    prompt: str
    n: int
    width: int
    height: int
    quality: str
    background: str
    output_format: str
    url_mode: bool
    stream: bool
    partial_images: int
    style: str
    images: tuple[UploadFile, ...] = ()
    mask: UploadFile | None = None

    @property
    def size_label(self) -> str:
        return f"{self.width}x{self.height}"


def _output_size(
    params: Mapping[str, object], rules: ModelRules, images: Sequence[UploadFile]
) -> tuple[int, int]:
    size = params.get("size")
    if isinstance(size, str) and (dimensions := parse_size(size)):
        return dimensions
    first = images[0].info if images else None
    if not rules.gpt_options or first is None or not first.width:
        return 1024, 1024
    width, height = first.width, first.height or first.width
    if f"{width}x{height}" in rules.sizes:
        return width, height
    if width > height * 1.2:
        return 1536, 1024
    return (1024, 1536) if height > width * 1.2 else (1024, 1024)


def _job(judged: Judged, endpoint: Endpoint) -> _Job:
    params = judged.params

    def text(name: str, default: str) -> str:
        value = params.get(name)
        return value if isinstance(value, str) else default

    def number(name: str, default: int) -> int:
        value = params.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    rules = family_of(text("model", DEFAULT_MODELS[endpoint]))
    quality = text("quality", "auto")
    width, height = _output_size(params, rules, judged.images)
    gpt = rules.gpt_options
    return _Job(
        endpoint=endpoint,
        family=rules.name,
        gpt=gpt,
        prompt=text("prompt", ""),
        n=min(max(number("n", 1), 1), 10),
        width=width,
        height=height,
        quality=quality if quality in _OUTPUT_TOKENS else "high",
        background="transparent" if params.get("background") == "transparent" else "opaque",
        output_format=text("output_format", "png"),
        url_mode=not gpt and text("response_format", "url") == "url",
        stream=params.get("stream") is True,
        partial_images=min(max(number("partial_images", 0), 0), 3),
        style=text("style", "vivid"),
        images=judged.images,
        mask=judged.mask,
    )


def _draw(job: _Job, index: int) -> bytes:
    if job.endpoint == "generate":
        transparent = job.gpt and job.background == "transparent"
        return pictures.generated_picture(
            job.prompt, job.width, job.height, index=index, transparent=transparent
        )
    if job.endpoint == "edit" and job.images:
        mask = job.mask.content if job.mask else None
        return pictures.edited_picture(
            job.images[0].content, job.prompt, job.width, job.height, mask=mask, index=index
        )
    if job.images:
        return pictures.variation_picture(job.images[0].content, job.width, job.height, index=index)
    return pictures.generated_picture(job.prompt, job.width, job.height, index=index)


def _draw_all(job: _Job) -> list[tuple[bytes, list[bytes]]]:
    """Each image with its partial images (only drawn for streams)."""
    drawn = []
    for index in range(job.n):
        final = _draw(job, index)
        count = job.partial_images if job.stream else 0
        partials = [pictures.partial_picture(final, step) for step in range(count)]
        drawn.append((final, partials))
    return drawn


def _usage(job: _Job) -> dict[str, object]:
    text_tokens = max(1, math.ceil(len(job.prompt) / 4))
    image_tokens = 0
    for upload in job.images:
        width = (upload.info.width if upload.info else None) or 1024
        height = (upload.info.height if upload.info else None) or 1024
        tiles = min(math.ceil(width / 512) * math.ceil(height / 512), 16)
        image_tokens += 65 + 129 * tiles
    per_image = round(_OUTPUT_TOKENS[job.quality] * job.width * job.height / (1024 * 1024))
    output_tokens = per_image * (1 if job.stream else job.n)
    input_tokens = text_tokens + image_tokens
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        "output_tokens_details": {"image_tokens": output_tokens, "text_tokens": 0},
    }


def _revised_prompt(job: _Job, index: int) -> str:
    description = pictures.describe_picture(job.prompt, index=index)
    return f"{job.prompt.rstrip('. ')}. A {job.style} image showing {description}."


def _sse(event: Mapping[str, object]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _stream_events(job: _Job, drawn: list[tuple[bytes, list[bytes]]]) -> tuple[bytes, ...]:
    prefix = "image_generation" if job.endpoint == "generate" else "image_edit"
    common = {
        "size": job.size_label if job.size_label in _RESPONSE_SIZES else "auto",
        "quality": job.quality,
        "background": job.background,
        "output_format": job.output_format,
    }
    events: list[bytes] = []
    for final, partials in drawn:
        for index, partial in enumerate(partials):
            events.append(
                _sse(
                    {
                        "type": f"{prefix}.partial_image",
                        "b64_json": base64.b64encode(partial).decode("ascii"),
                        "created_at": int(time.time()),
                        **common,
                        "partial_image_index": index,
                    }
                )
            )
        events.append(
            _sse(
                {
                    "type": f"{prefix}.completed",
                    "b64_json": base64.b64encode(final).decode("ascii"),
                    "created_at": int(time.time()),
                    **common,
                    "usage": _usage(job),
                }
            )
        )
    return tuple(events)


# --- the emulator -------------------------------------------------------------------------


class Emulator:
    """A local Images API. Serve it with :meth:`start` (or ``async with``) or mount :meth:`app`."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config if config is not None else EmulatorConfig()
        #: Every request received, in order (API calls and image downloads).
        self.requests: list[RecordedCall] = []
        self._files: dict[str, tuple[bytes, float]] = {}
        self._expired: set[str] = set()
        self._recent: deque[float] = deque()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        """A new aiohttp application serving this emulator's state."""
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        for prefix in ("/v1", ""):
            for path, endpoint in _ROUTES:
                app.router.add_post(prefix + path, self._handler(endpoint))
            app.router.add_get(prefix + "/emulator/files/{name}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        app.on_response_prepare.append(self._add_headers)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self._closing = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="images-emulator"
        )

    async def _on_cleanup(self, _app: web.Application) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host``:``port`` (0 picks a free port); returns :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(self.app(), shutdown_timeout=_SHUTDOWN_TIMEOUT, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, bound_port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{_url_host(str(bound_host))}:{bound_port}/v1"
        return self._base_url

    @property
    def base_url(self) -> str:
        """The API root (``http://127.0.0.1:PORT/v1``) of the running emulator."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self._base_url

    async def close(self) -> None:
        """Stop serving; pending answers are cut short. Safe to call twice."""
        runner, self._runner = self._runner, None
        self._base_url = None
        if self._closing is not None:
            self._closing.set()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Emulator base_url={self._base_url!r} requests={len(self.requests)}>"

    # -- plumbing --------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up when the emulator closes."""
        if seconds <= 0:
            return
        closing = self._closing
        if closing is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(closing.wait(), seconds)

    async def _add_headers(self, _request: web.Request, response: web.StreamResponse) -> None:
        limit = self.config.requests_per_minute or _NOMINAL_REQUESTS_PER_MINUTE
        now = time.monotonic()
        self._forget_old_calls(now)
        reset = _RATE_WINDOW - (now - self._recent[0]) if self._recent else 0.0
        # Answers of recorded calls carry their call's id; aiohttp's own answers get one too.
        response.headers.setdefault("x-request-id", f"req_{uuid.uuid4().hex}")
        response.headers["openai-version"] = "2020-10-01"
        response.headers["x-ratelimit-limit-requests"] = str(limit)
        response.headers["x-ratelimit-remaining-requests"] = str(max(limit - len(self._recent), 0))
        response.headers["x-ratelimit-reset-requests"] = _duration(reset)

    def _forget_old_calls(self, now: float) -> None:
        # Each pass drops one entry, so the loop ends when the deque does.
        while self._recent and now - self._recent[0] >= _RATE_WINDOW:
            self._recent.popleft()

    def _check_auth(self, request: web.Request) -> None:
        authorization = request.headers.get("Authorization")
        if authorization is None:
            raise APIError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        match = _BEARER.fullmatch(authorization)
        if match is None:
            raise APIError(
                401,
                "Malformed Authorization header: expected 'Bearer YOUR_KEY'.",
                code="invalid_api_key",
            )
        if self.config.api_keys is not None and match[1] not in self.config.api_keys:
            raise APIError(
                401, f"Incorrect API key provided: {_mask_key(match[1])}.", code="invalid_api_key"
            )

    def _check_rate(self) -> None:
        now = time.monotonic()
        self._forget_old_calls(now)
        limit = self.config.requests_per_minute
        if limit is not None and len(self._recent) >= limit:
            raise rate_limited(_RATE_WINDOW - (now - self._recent[0]))
        self._recent.append(now)

    # -- handlers --------------------------------------------------------------------------

    def _handler(
        self, endpoint: Endpoint
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, endpoint)

        return handle

    async def _handle(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        started = time.monotonic()
        call = self._record(request)
        received = await read_body(request)
        call.params = recorded_params(received)
        call.files = [
            RecordedFile(
                field=p.field, filename=p.filename, content_type=p.content_type, size=len(p.content)
            )
            for p in received.files
        ]
        fault = self.config.faults.next_fault() if self.config.faults else None
        call.fault = None if fault is None else str(fault)
        if fault is not None and fault.kind == "slow_headers":
            await self._pause(fault.seconds or 0.0)
        await self._pause(self.config.latency)
        try:
            answer = self._fault_or_none(fault) or await self._answer(request, endpoint, received)
        except APIError as error:
            answer = error.answer
        processing = round((time.monotonic() - started) * 1000)
        headers = {"x-request-id": call.request_id, "openai-processing-ms": str(processing)}
        answer = attrs.evolve(answer, headers={**answer.headers, **headers})
        call.status = answer.status
        return await _send(request, answer, fault)

    def _fault_or_none(self, fault: Fault | None) -> Answer | None:
        if fault is None:
            return None
        plan = self.config.faults
        return fault_answer(fault, plan.retry_after if plan else 1.0)

    def _record(self, request: web.Request) -> RecordedCall:
        # The id goes into the answer's headers from the call itself: no per-request
        # storage, which on aiohttp 3.9 (the floor) has no warning-free key type.
        call = RecordedCall(
            request_id=f"req_{uuid.uuid4().hex}",
            method=request.method,
            path=request.path,
            headers=_masked_headers(request),
        )
        self.requests.append(call)
        return call

    async def _answer(self, request: web.Request, endpoint: Endpoint, received: Received) -> Answer:
        self._check_auth(request)
        self._check_rate()
        job = await self._judge(endpoint, received)
        loop = asyncio.get_running_loop()
        drawn = await loop.run_in_executor(self._executor, _draw_all, job)
        if job.stream:
            return Answer(
                status=200,
                body=b"",
                content_type="text/event-stream",
                events=_stream_events(job, drawn),
            )
        return Answer(status=200, body=encode_json(self._images_body(request, job, drawn)))

    async def _judge(self, endpoint: Endpoint, received: Received) -> _Job:
        judged = await judge(endpoint, received, validate=self.config.validate)
        if self.config.validate:
            # Decoding every upload in full is slow: off the event loop, like drawing.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, check_decodable, judged.images, judged.mask)
        return _job(judged, endpoint)

    def _images_body(
        self, request: web.Request, job: _Job, drawn: list[tuple[bytes, list[bytes]]]
    ) -> dict[str, object]:
        data: list[dict[str, str]] = []
        for index, (picture, _partials) in enumerate(drawn):
            if job.url_mode:
                item = {"url": self._store(request, picture)}
            else:
                item = {"b64_json": base64.b64encode(picture).decode("ascii")}
            if job.family == "dall-e-3":
                item["revised_prompt"] = _revised_prompt(job, index)
            data.append(item)
        body: dict[str, object] = {"created": int(time.time()), "data": data}
        if job.gpt:
            body.update(
                background=job.background,
                output_format=job.output_format,
                quality=job.quality,
                usage=_usage(job),
            )
            if job.size_label in _RESPONSE_SIZES:
                body["size"] = job.size_label
        return body

    def _store(self, request: web.Request, picture: bytes) -> str:
        now = time.monotonic()
        for name, (_content, expires) in list(self._files.items()):
            if expires <= now:
                del self._files[name]
                self._expired.add(name)
        name = f"img-{uuid.uuid4().hex}.png"
        self._files[name] = (picture, now + self.config.url_ttl)
        prefix = "/v1" if request.path.startswith("/v1/") else ""
        return f"{_origin(request)}{prefix}/emulator/files/{name}"

    async def _download(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request)
        name = request.match_info["name"]
        stored = self._files.get(name)
        if stored is not None and stored[1] <= time.monotonic():
            del self._files[name]
            self._expired.add(name)
            stored = None
        headers = {"x-request-id": call.request_id}
        if stored is not None:
            call.status = 200
            return web.Response(body=stored[0], content_type="image/png", headers=headers)
        expired = name in self._expired
        error = APIError(
            410 if expired else 404,
            "This image URL has expired." if expired else "No image at this URL.",
            headers=headers,
        )
        call.status = error.answer.status
        return await _send(request, error.answer, None)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request)
        error = APIError(
            404,
            f"Invalid URL ({request.method} {request.path})",
            headers={"x-request-id": call.request_id},
        )
        call.status = 404
        return await _send(request, error.answer, None)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _origin(request: web.Request) -> str:
    """``scheme://host[:port]`` the client reached, for URLs it can download from.

    The Host header is kept when it is a plain host and port (so a client that came through
    ``localhost`` or a mapped port gets URLs that work for it); anything else, which
    ``request.url`` would choke on, gives way to the address the connection really reached.
    """
    host = request.headers.get("Host", "")
    match = _HOST_HEADER.fullmatch(host)
    if match is None or (match["port"] and int(match["port"]) > _MAX_PORT):
        transport = request.transport
        address = transport.get_extra_info("sockname") if transport is not None else None
        # A TCP socket's name is (host, port, ...); anything else (a Unix socket) has none.
        if isinstance(address, tuple):
            host = f"{_url_host(str(address[0]))}:{address[1]}"
        else:
            host = "localhost"
    return f"{request.scheme}://{host}"


def _duration(seconds: float) -> str:
    """A reset time in the API's style: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 0)}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"


# --- sending ------------------------------------------------------------------------------


async def _send(request: web.Request, answer: Answer, fault: Fault | None) -> web.StreamResponse:
    kind = fault.kind if fault is not None else None
    transport = request.transport
    if kind == "disconnect" or transport is None or transport.is_closing():
        # A response returned unwritten on a closed connection is dropped quietly by aiohttp.
        _abort(request)
        return web.Response(status=answer.status)
    chunks = list(answer.events) if answer.events is not None else [answer.body]
    if kind == "truncated":
        chunks = _truncated(chunks, streamed=answer.events is not None)
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    response.content_type = answer.content_type
    if answer.events is None:
        response.content_length = sum(len(chunk) for chunk in chunks)
    else:
        response.headers["Cache-Control"] = "no-cache"
    try:
        await response.prepare(request)
        if kind == "reset":
            await _write_then_abort(request, response, chunks)
            return response
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client left (its own timeout, say): nobody is listening any more
    return response


def _truncated(chunks: list[bytes], *, streamed: bool) -> list[bytes]:
    """The body cut in the middle of its last part; an event stream keeps its framing."""
    last = chunks[-1]
    if streamed:
        return [*chunks[:-1], last[: len(last) // 2] + b"\n\n"]
    return [*chunks[:-1], last[: len(last) // 2]]


async def _write_then_abort(
    request: web.Request, response: web.StreamResponse, chunks: list[bytes]
) -> None:
    # Half the events of a stream, or half the only body.
    sent = chunks[: len(chunks) // 2] if len(chunks) > 1 else [chunks[0][: len(chunks[0]) // 2]]
    for chunk in sent:
        await response.write(chunk)
    # abort() drops whatever the transport still buffers: let the first part go out first.
    transport = request.transport
    for _ in range(_FLUSH_POLLS):
        if transport is None or transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(_FLUSH_POLL_INTERVAL)
    _abort(request)


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


# --- a thread of its own ------------------------------------------------------------------


@contextlib.contextmanager
def run_emulator_in_thread(
    emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve ``emulator`` (a new default one if None) on a background thread; yields base_url.

    The thread runs its own event loop, so synchronous code (and other event loops) can call
    the emulator. The server stops and the thread ends when the block exits.
    """
    emulator = emulator if emulator is not None else Emulator()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_run_loop, args=(loop,), name="images-emulator", daemon=True)
    thread.start()
    try:
        started = asyncio.run_coroutine_threadsafe(emulator.start(host, port), loop)
        yield started.result(timeout=_THREAD_START_TIMEOUT)
    finally:
        try:
            closed = asyncio.run_coroutine_threadsafe(emulator.close(), loop)
            closed.result(timeout=_THREAD_START_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=_THREAD_START_TIMEOUT)


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
