"""An Images API emulator: an aiohttp application that answers like the real service.

It owns the server side of the wire: routes, authentication, request validation (built on
the client's own rule table, :mod:`images_async._params`, plus the checks only a server can
make), real deterministic PNGs (:mod:`images_async.testing.pictures`), URLs that expire,
server-sent event streams, rate-limit headers, and injected faults
(:mod:`images_async.testing.faults`). Every call is recorded for assertions.

``async with Emulator() as emulator:`` serves on 127.0.0.1 with an ephemeral port;
``emulator.base_url`` is the ``.../v1`` root to give a client. Sync code uses
:func:`run_emulator_in_thread`.

Known departures from the real service: images are always PNG (``output_format`` is echoed
but not honoured); an edit repaints its first image (further images only count as input
tokens); a response's ``size`` is omitted, and a stream event's is ``"auto"``,
when the actual size is outside the spec's enumeration (dall-e sizes, flexible sizes).
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
from typing import Literal

import attrs
from aiohttp import BodyPartReader, web

from .._errors import InvalidFileError, InvalidRequestError
from .._files import UploadFile, image_labels, load_uploads
from .._params import (
    BACKGROUNDS,
    INPUT_FIDELITIES,
    KNOWN_MODELS,
    MODERATIONS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESPONSE_FORMATS,
    STYLES,
    ModelRules,
    parse_size,
    validate_edit,
    validate_generate,
    validate_variation,
)
from . import pictures
from .faults import Fault, FaultPlan

__all__ = ["Emulator", "EmulatorConfig", "RecordedCall", "RecordedFile", "run_emulator_in_thread"]

Endpoint = Literal["generate", "edit", "variation"]

_DEFAULT_MODELS: Mapping[Endpoint, str] = {
    "generate": "dall-e-2",
    "edit": "gpt-image-1.5",
    "variation": "dall-e-2",
}
_STRING, _INTEGER, _BOOLEAN = "a string", "an integer", "a boolean"
_COMMON_FIELDS = {
    "model": _STRING,
    "n": _INTEGER,
    "response_format": _STRING,
    "size": _STRING,
    "user": _STRING,
}
_GPT_FIELDS = {
    "prompt": _STRING,
    "quality": _STRING,
    "background": _STRING,
    "output_format": _STRING,
    "output_compression": _INTEGER,
    "stream": _BOOLEAN,
    "partial_images": _INTEGER,
}
_FIELDS: Mapping[Endpoint, Mapping[str, str]] = {
    "generate": {**_COMMON_FIELDS, **_GPT_FIELDS, "moderation": _STRING, "style": _STRING},
    "edit": {**_COMMON_FIELDS, **_GPT_FIELDS, "input_fidelity": _STRING},
    "variation": _COMMON_FIELDS,
}
_REQUIRED: Mapping[Endpoint, tuple[str, ...]] = {
    "generate": ("prompt",),
    "edit": ("image", "prompt"),
    "variation": ("image",),
}
_VOCABULARIES = {
    "quality": QUALITIES,
    "style": STYLES,
    "background": BACKGROUNDS,
    "moderation": MODERATIONS,
    "output_format": OUTPUT_FORMATS,
    "response_format": RESPONSE_FORMATS,
    "input_fidelity": INPUT_FIDELITIES,
}
# Sizes the spec's response schemas can name; others are left out of responses.
_ROUTES: tuple[tuple[str, Endpoint], ...] = (
    ("/images/generations", "generate"),
    ("/images/edits", "edit"),
    ("/images/variations", "variation"),
)
_RESPONSE_SIZES = frozenset({"1024x1024", "1024x1536", "1536x1024"})
_IMAGE_FIELD = re.compile(r"image(\[\d*\])?")
_BEARER = re.compile(r"Bearer ([\x21-\x7e]+)")
_MAX_PARTS = 64
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
_REQUEST_ID = web.RequestKey("images_emulator_request_id", str)
_BAD_GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>cloudflare</center></body></html>\n"
)


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


# --- answers and errors -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    events: tuple[bytes, ...] | None = None
    """The encoded events of a ``text/event-stream`` answer (then ``body`` is unused)."""


class _APIError(Exception):
    """An error answer in the API's ``{"error": {...}}`` shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.answer = _Answer(
            status=status,
            body=_json({"error": {"message": message, "type": kind, "param": param, "code": code}}),
            headers=headers or {},
        )


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _bad_request(message: str, param: str | None = None, code: str | None = None) -> _APIError:
    return _APIError(400, message, param=param, code=code)


def _from_invalid_request(error: InvalidRequestError) -> _APIError:
    code = "invalid_image" if isinstance(error, InvalidFileError) else "invalid_value"
    return _bad_request(error.message, error.param, code)


def _fault_answer(fault: Fault, retry_after: float) -> _Answer | None:
    """The whole answer of a status fault; None for faults that shape a normal answer."""
    if fault.kind == "insufficient_quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return _APIError(429, message, kind="insufficient_quota", code="insufficient_quota").answer
    if fault.kind != "status":
        return None
    if fault.status == 429:
        return _rate_limited(retry_after).answer
    if fault.status == 502:
        return _Answer(status=502, body=_BAD_GATEWAY_PAGE, content_type="text/html")
    message = {
        500: "The server had an error while processing your request. Sorry about that!",
        503: "The server is overloaded or not ready yet.",
    }[fault.status or 500]
    return _APIError(fault.status or 500, message, kind="server_error").answer


def _rate_limited(retry_after: float) -> _APIError:
    return _APIError(
        429,
        f"Rate limit reached for images per min. Please try again in {retry_after:g}s.",
        kind="requests",
        code="rate_limit_exceeded",
        headers={
            "Retry-After": str(math.ceil(retry_after)),
            "retry-after-ms": str(round(retry_after * 1000)),
        },
    )


# --- reading requests ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _FilePart:
    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@attrs.define(kw_only=True)
class _Received:
    """A request body, read but not judged."""

    kind: Literal["json", "multipart", "other"]
    raw: bytes = b""
    texts: list[tuple[str, str]] = attrs.field(factory=list)
    files: list[_FilePart] = attrs.field(factory=list)
    problem: str | None = None
    """Why the multipart body could not be read, if it could not."""


async def _read_body(request: web.Request) -> _Received:
    if request.content_type == "application/x-www-form-urlencoded":
        # A form without files; read like a multipart one so the missing file is named.
        fields = await request.post()
        texts = [(name, value) for name, value in fields.items() if isinstance(value, str)]
        return _Received(kind="multipart", texts=texts)
    if request.content_type != "multipart/form-data":
        kind: Literal["json", "other"] = (
            "json" if request.content_type == "application/json" else "other"
        )
        return _Received(kind=kind, raw=await request.read())
    received = _Received(kind="multipart")
    try:
        reader = await request.multipart()
        for _ in range(_MAX_PARTS + 1):
            part = await reader.next()
            if part is None:
                return received
            if not isinstance(part, BodyPartReader):
                received.problem = "nested multipart bodies are not supported"
                return received
            content = bytes(await part.read(decode=False))
            if part.filename is None:
                received.texts.append((part.name or "", content.decode("utf-8")))
            else:
                received.files.append(
                    _FilePart(
                        field=part.name or "",
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                        content=content,
                    )
                )
        received.problem = f"too many parts (more than {_MAX_PARTS})"
    except (ValueError, UnicodeDecodeError) as exc:
        received.problem = f"the multipart body could not be parsed: {exc}"
    return received


def _recorded_params(received: _Received) -> dict[str, object]:
    if received.kind != "multipart":
        try:
            document = json.loads(received.raw)
        except ValueError:
            return {}
        return dict(document) if isinstance(document, dict) else {}
    params: dict[str, object] = {}
    for name, value in received.texts:
        previous = params.get(name)
        if previous is None:
            params[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            params[name] = [previous, value]
    return params


def _masked_headers(request: web.Request) -> dict[str, str]:
    headers = dict(request.headers)
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        match = _BEARER.fullmatch(authorization)
        headers["Authorization"] = f"Bearer {_mask_key(match[1])}" if match else "***"
    return headers


def _mask_key(key: str) -> str:
    return f"{key[:3]}***{key[-4:]}" if len(key) > 12 else "***"


# --- judging requests ---------------------------------------------------------------------


def _parse_json_params(received: _Received) -> dict[str, object]:
    if received.kind != "json":
        raise _bad_request("Invalid Content-Type header: this endpoint takes application/json.")
    try:
        document = json.loads(received.raw)
    except ValueError:
        raise _bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        ) from None
    if not isinstance(document, dict):
        raise _bad_request("The JSON body of your request must be an object.")
    return {name: value for name, value in document.items() if value is not None}


def _text_value(name: str, text: str, expected: str | None) -> object:
    if expected == _INTEGER:
        if re.fullmatch(r"-?\d+", text.strip()):
            return int(text)
        raise _invalid_type(name, expected, "a string")
    if expected == _BOOLEAN:
        if text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        raise _invalid_type(name, expected, "a string")
    return text


def _invalid_type(name: str, expected: str, got: str) -> _APIError:
    message = f"Invalid type for '{name}': expected {expected}, but got {got} instead."
    return _bad_request(message, name, "invalid_type")


def _json_type_name(value: object) -> str:
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int):
        return _INTEGER
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return _STRING
    return "an array" if isinstance(value, list) else "an object"


def _check_fields(params: Mapping[str, object], endpoint: Endpoint) -> None:
    fields = _FIELDS[endpoint]
    for name, value in params.items():
        expected = fields.get(name)
        if expected is None:
            raise _bad_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        actual = _json_type_name(value)
        if actual != expected:
            raise _invalid_type(name, expected, actual)


def _check_values(params: Mapping[str, object]) -> None:
    model = params["model"]
    rules = KNOWN_MODELS.get(model) if isinstance(model, str) else None
    if rules is None:
        raise _bad_request(
            f"Invalid value for 'model': {model!r} is not a known model.", "model", "invalid_value"
        )
    for name, vocabulary in _VOCABULARIES.items():
        value = params.get(name)
        if value is not None and value not in vocabulary:
            choices = ", ".join(sorted(vocabulary))
            message = f"Invalid value: {value!r}. Supported values are: {choices}."
            raise _bad_request(message, name, "invalid_value")
    size = params.get("size")
    if isinstance(size, str) and size != "auto" and parse_size(size) is None:
        message = f"Invalid value: {size!r}. The size must be 'auto' or WIDTHxHEIGHT."
        raise _bad_request(message, "size", "invalid_value")


def _form_params(received: _Received, endpoint: Endpoint) -> dict[str, object]:
    if received.kind != "multipart":
        raise _bad_request("Invalid Content-Type header: this endpoint takes multipart/form-data.")
    if received.problem is not None:
        raise _bad_request(f"Invalid multipart body: {received.problem}.")
    fields = _FIELDS[endpoint]
    params: dict[str, object] = {}
    for name, text in received.texts:
        if _IMAGE_FIELD.fullmatch(name) or name == "mask":
            raise _invalid_type(name, "a file", "a string")
        params[name] = _text_value(name, text, fields.get(name))
    for part in received.files:
        if part.field in fields:
            raise _invalid_type(part.field, fields[part.field], "a file")
        is_image = _IMAGE_FIELD.fullmatch(part.field) is not None
        if not is_image and not (part.field == "mask" and endpoint == "edit"):
            raise _bad_request(
                f"Unknown parameter: '{part.field}'.", part.field, "unknown_parameter"
            )
    return params


async def _uploads(
    received: _Received, endpoint: Endpoint
) -> tuple[list[UploadFile], UploadFile | None]:
    images = [part for part in received.files if _IMAGE_FIELD.fullmatch(part.field)]
    masks = [part for part in received.files if part.field == "mask"]
    if endpoint == "variation" and len(images) > 1:
        raise _bad_request("Only one image can be given for variations.", "image", "invalid_value")
    if len(masks) > 1:
        raise _bad_request("Only one mask can be given.", "mask", "invalid_value")
    labels = image_labels(len(images))
    parts = [*images, *masks]
    try:
        uploads = await load_uploads(
            [(part.filename, part.content, part.content_type) for part in parts],
            [*labels, *(["mask"] if masks else [])],
        )
    except InvalidRequestError as error:
        raise _from_invalid_request(error) from None
    return uploads[: len(images)], (uploads[-1] if masks else None)


# --- jobs ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Job:
    """A judged request: everything needed to draw and describe its images."""

    endpoint: Endpoint
    model: str
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
    params: Mapping[str, object], rules: ModelRules | None, images: Sequence[UploadFile]
) -> tuple[int, int]:
    size = params.get("size")
    if isinstance(size, str) and (dimensions := parse_size(size)):
        return dimensions
    first = images[0].info if images else None
    if rules is None or not rules.gpt_options or first is None or not first.width:
        return 1024, 1024
    width, height = first.width, first.height or first.width
    if f"{width}x{height}" in rules.sizes:
        return width, height
    if width > height * 1.2:
        return 1536, 1024
    return (1024, 1536) if height > width * 1.2 else (1024, 1024)


def _job(
    params: Mapping[str, object],
    endpoint: Endpoint,
    images: Sequence[UploadFile],
    mask: UploadFile | None,
) -> _Job:
    def text(name: str, default: str) -> str:
        value = params.get(name)
        return value if isinstance(value, str) else default

    def number(name: str, default: int) -> int:
        value = params.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    model = text("model", _DEFAULT_MODELS[endpoint])
    rules = KNOWN_MODELS.get(model)
    gpt = rules.gpt_options if rules else model.startswith(("gpt", "chatgpt"))
    quality = text("quality", "auto")
    width, height = _output_size(params, rules, images)
    return _Job(
        endpoint=endpoint,
        model=model,
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
        images=tuple(images),
        mask=mask,
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

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        request_id = request.get(_REQUEST_ID) or f"req_{uuid.uuid4().hex}"
        limit = self.config.requests_per_minute or _NOMINAL_REQUESTS_PER_MINUTE
        now = time.monotonic()
        self._forget_old_calls(now)
        reset = _RATE_WINDOW - (now - self._recent[0]) if self._recent else 0.0
        response.headers.setdefault("x-request-id", request_id)
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
            raise _APIError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        match = _BEARER.fullmatch(authorization)
        if match is None:
            raise _APIError(
                401,
                "Malformed Authorization header: expected 'Bearer YOUR_KEY'.",
                code="invalid_api_key",
            )
        if self.config.api_keys is not None and match[1] not in self.config.api_keys:
            raise _APIError(
                401, f"Incorrect API key provided: {_mask_key(match[1])}.", code="invalid_api_key"
            )

    def _check_rate(self) -> None:
        now = time.monotonic()
        self._forget_old_calls(now)
        limit = self.config.requests_per_minute
        if limit is not None and len(self._recent) >= limit:
            raise _rate_limited(_RATE_WINDOW - (now - self._recent[0]))
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
        received = await _read_body(request)
        call.params = _recorded_params(received)
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
        except _APIError as error:
            answer = error.answer
        processing = round((time.monotonic() - started) * 1000)
        answer = attrs.evolve(
            answer, headers={**answer.headers, "openai-processing-ms": str(processing)}
        )
        call.status = answer.status
        return await _send(request, answer, fault)

    def _fault_or_none(self, fault: Fault | None) -> _Answer | None:
        if fault is None:
            return None
        plan = self.config.faults
        return _fault_answer(fault, plan.retry_after if plan else 1.0)

    def _record(self, request: web.Request) -> RecordedCall:
        request_id = f"req_{uuid.uuid4().hex}"
        request[_REQUEST_ID] = request_id
        call = RecordedCall(
            request_id=request_id,
            method=request.method,
            path=request.path,
            headers=_masked_headers(request),
        )
        self.requests.append(call)
        return call

    async def _answer(
        self, request: web.Request, endpoint: Endpoint, received: _Received
    ) -> _Answer:
        self._check_auth(request)
        self._check_rate()
        job = await self._judge(endpoint, received)
        loop = asyncio.get_running_loop()
        drawn = await loop.run_in_executor(self._executor, _draw_all, job)
        if job.stream:
            return _Answer(
                status=200,
                body=b"",
                content_type="text/event-stream",
                events=_stream_events(job, drawn),
            )
        return _Answer(status=200, body=_json(self._images_body(request, job, drawn)))

    async def _judge(self, endpoint: Endpoint, received: _Received) -> _Job:
        if endpoint == "generate":
            params = _parse_json_params(received)
            images: list[UploadFile] = []
            mask = None
        else:
            params = _form_params(received, endpoint)
            images, mask = await _uploads(received, endpoint)
        if not self.config.validate:
            return _job(params, endpoint, images, mask)
        _check_fields(params, endpoint)
        for name in _REQUIRED[endpoint]:
            present = images if name == "image" else name in params
            if not present:
                raise _bad_request(
                    f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
                )
        params = {"model": _DEFAULT_MODELS[endpoint], **params}
        _check_values(params)
        try:
            if endpoint == "generate":
                validate_generate(params)
            elif endpoint == "edit":
                validate_edit(params, images, mask)
            else:
                validate_variation(params, images[0])
        except InvalidRequestError as error:
            raise _from_invalid_request(error) from None
        return _job(params, endpoint, images, mask)

    def _images_body(
        self, request: web.Request, job: _Job, drawn: list[tuple[bytes, list[bytes]]]
    ) -> dict[str, object]:
        data: list[dict[str, str]] = []
        for index, (picture, _partials) in enumerate(drawn):
            if job.url_mode:
                item = {"url": self._store(request, picture)}
            else:
                item = {"b64_json": base64.b64encode(picture).decode("ascii")}
            if job.model == "dall-e-3":
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
        return f"{request.url.origin()}{prefix}/emulator/files/{name}"

    async def _download(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request)
        name = request.match_info["name"]
        stored = self._files.get(name)
        if stored is not None and stored[1] <= time.monotonic():
            del self._files[name]
            self._expired.add(name)
            stored = None
        if stored is not None:
            call.status = 200
            return web.Response(body=stored[0], content_type="image/png")
        expired = name in self._expired
        error = _APIError(
            410 if expired else 404,
            "This image URL has expired." if expired else "No image at this URL.",
        )
        call.status = error.answer.status
        return await _send(request, error.answer, None)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request)
        error = _APIError(404, f"Invalid URL ({request.method} {request.path})")
        call.status = 404
        return await _send(request, error.answer, None)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _duration(seconds: float) -> str:
    """A reset time in the API's style: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 0)}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"


# --- sending ------------------------------------------------------------------------------


async def _send(request: web.Request, answer: _Answer, fault: Fault | None) -> web.StreamResponse:
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
