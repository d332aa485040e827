"""An Images API emulator: an aiohttp application that answers like the real service.

This module owns the server: the aiohttp application and its routes, starting and closing
it (also on a thread of its own, :func:`run_emulator_in_thread`), the handling of each
call from record to response, and the images kept behind expiring URLs. Every call is
recorded for assertions. The steps of a call live in modules of their own: configuration
and records in :mod:`._config`, API keys and rate limits in :mod:`._admission`, Azure
OpenAI's versions, credentials and deployments in :mod:`._azure`, reading
bodies in :mod:`._bodies`, validating them in :mod:`._validation`, drawing and describing
images in :mod:`._rendering`, error bodies and fault responses in :mod:`._responses`,
sending (and breaking the wire on purpose) in :mod:`._sending`, fault plans in
:mod:`images_async.testing.faults`.

``async with Emulator() as emulator:`` serves on 127.0.0.1 with an ephemeral port;
``emulator.base_url`` is the ``.../v1`` root to give a client. Sync code uses
:func:`run_emulator_in_thread`.

Besides images, it serves the Files endpoints (``/v1/files``: upload, list, retrieve,
content, delete) from an in-memory store, :attr:`Emulator.files`, answered by
:mod:`._file_endpoints`; the Batch API (``/v1/batches``: create, retrieve, cancel, list),
whose lines run through this module's own image handling (:meth:`Emulator._run_batch_line`),
answered and worked by :mod:`._batches`; and JSON edits (``images`` as references: data
URLs, file ids, loopback URLs), accepted by :mod:`._json_edits`.

It also serves Azure OpenAI's layout, ``POST /openai/deployments/{deployment}/images/...``
with an ``api-version`` query parameter and an ``api-key`` header or an Entra ID bearer
token: give an Azure client ``emulator.azure_endpoint``.

With ``EmulatorConfig(dashboard=True)`` (as ``images-async serve`` runs it), ``GET /``
(``emulator.dashboard_url``) is a live page of recent calls and batches (:mod:`._dashboard`).

Like the real service, it refuses with 400 (in the API's error shape, never a 500) what it
cannot read: invalid JSON, text that is not valid Unicode, malformed forms, and PNG, JPEG
or WEBP uploads that do not decode in full (bad CRCs, truncated or garbage image data, a
picture too large to decode). Its answers are real files in the requested
``output_format`` (PNG, JPEG or WEBP; always PNG for dall-e models, as the API does), of
the requested size, ``output_compression`` and ``background``; ``quality`` sets how much
detail is drawn. The pictures (:mod:`images_async.testing.pictures`) are deterministic and
show the request: the prompt's words as shapes and as text, edits repainting the mask's
transparent area, variations transforming their input, partial images converging.

Unlike the real service, it accepts model names it does not know, so code written for a
newer model runs offline. Such a name behaves like its closest known family: a known name
it extends past a separator (``dall-e-3-hd`` is dall-e-3, ``gpt-image-1-mini-2027`` is
gpt-image-1-mini); any other name (``gpt-image-3``, ``my-model``) like gpt-image-2. Error
messages about such a model say which family was used.

Other known departures: the pictures are drawings of the prompt, not renderings of it;
JPEG and lossy WEBP decoders hide damage inside compressed data (as browsers do), so only
damage they report is refused, and uploads of more than 50 megapixels are refused as too
large to decode; an edit repaints its first image (further images only count as input
tokens); a response's ``size`` is omitted, and a stream event's is ``"auto"``, when the
actual size is outside the spec's enumeration (dall-e sizes, flexible sizes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType

import attrs
from aiohttp import web

from .._endpoints import ENDPOINTS, EndpointName
from ._admission import RateWindow, check_api_key
from ._azure import AZURE_PREFIX, admit_azure_call, azure_not_found, with_model
from ._batch_lines import LineResult
from ._batches import BatchCall, Batches
from ._bodies import RequestBody, read_body, recorded_params
from ._config import EmulatorConfig, RecordedCall, RecordedFile, masked_headers
from ._dashboard import Dashboard
from ._file_endpoints import FileCall, FileEndpoints
from ._file_store import FileStore
from ._json_edits import accept_json_edit
from ._rendering import RenderPlan, draw_all, images_body, plan_images, stream_events
from ._responses import APIError, PlannedResponse, bad_request, encode_json, fault_response
from ._sending import send
from ._validation import accept_request, check_decodable
from .faults import Fault

# EmulatorConfig, RecordedCall and RecordedFile live in ._config; they are named here too,
# as this module is where older code imports them from.
__all__ = ["Emulator", "EmulatorConfig", "RecordedCall", "RecordedFile", "run_emulator_in_thread"]

_HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?", re.ASCII)
_MAX_PORT = 65535
_MAX_BODY_BYTES = 1024 * 1024 * 1024
_SHUTDOWN_TIMEOUT = 0.5
_THREAD_START_TIMEOUT = 30.0


class Emulator:
    """A local Images API. Serve it with :meth:`start` (or ``async with``) or mount :meth:`app`."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        #: How the emulator behaves; replace or change it between calls.
        self.config: EmulatorConfig = config if config is not None else EmulatorConfig()
        #: Every request received, in order (API calls and image downloads).
        self.requests: list[RecordedCall] = []
        #: The files uploaded through the Files endpoints (``POST /v1/files``).
        self.files: FileStore = FileStore()
        self._file_endpoints = FileEndpoints(self.files)
        self._batches = Batches(self.files, run_line=self._run_batch_line, pause=self._pause)
        self._url_images: dict[str, tuple[bytes, float]] = {}
        self._expired: set[str] = set()
        self._rate_window = RateWindow()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._dashboard = Dashboard(self, self._batches.newest, lambda: self._executor)

    # -- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        """A new aiohttp application serving this emulator's state."""
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        for prefix in ("/v1", ""):
            for endpoint in ENDPOINTS.values():
                app.router.add_post(f"{prefix}/{endpoint.path}", self._handler(endpoint.name))
            app.router.add_get(prefix + "/emulator/files/{name}", self._download)
            for method, path, respond in self._file_endpoints.routes():
                app.router.add_route(method, prefix + path, self._file_handler(respond))
            for method, path, answer_batch in self._batches.routes():
                app.router.add_route(method, prefix + path, self._batch_handler(answer_batch))
        for endpoint in ENDPOINTS.values():
            path = f"{AZURE_PREFIX}deployments/{{deployment}}/{endpoint.path}"
            app.router.add_post(path, self._handler(endpoint.name))
        for path, show in self._dashboard.routes(_origin, otherwise=self._not_found):
            app.router.add_get(path, show)
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
        # Batches draw on the executor: their tasks end before it shuts down.
        await self._batches.close()
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

    @property
    def dashboard_url(self) -> str:
        """The live page (``http://127.0.0.1:PORT/``), served with ``config.dashboard`` on."""
        return self.base_url.removesuffix("v1")

    @property
    def azure_endpoint(self) -> str:
        """The root (``http://127.0.0.1:PORT``) to give an Azure client as ``azure_endpoint``."""
        return self.base_url.removesuffix("/v1")

    async def close(self) -> None:
        """Stop serving; pending answers are cut short. Safe to call twice."""
        runner, self._runner = self._runner, None
        self._base_url = None
        if self._closing is not None:
            self._closing.set()
        # Stopped first: with the pauses cut short, a batch would race through its lines.
        await self._batches.close()
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
        # Answers of recorded calls carry their call's id; aiohttp's own answers get one too.
        response.headers.setdefault("x-request-id", f"req_{uuid.uuid4().hex}")
        response.headers["openai-version"] = "2020-10-01"
        response.headers.update(self._rate_window.headers(self.config.requests_per_minute))

    # -- handlers --------------------------------------------------------------------------

    def _handler(
        self, endpoint: EndpointName
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            async def answer(body: RequestBody, call: RecordedCall) -> PlannedResponse:
                return await self._answer(request, endpoint, body, call)

            return await self._serve(request, answer, endpoint)

        return handle

    def _file_handler(
        self, respond: Callable[[FileCall], PlannedResponse]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            async def answer(body: RequestBody, _call: RecordedCall) -> PlannedResponse:
                # Files calls are checked like image calls, but not counted against the
                # images rate limit: the API limits them apart.
                check_api_key(request.headers, self.config.api_keys)
                file_id = request.match_info.get("file_id", "")
                return respond(
                    FileCall(body=body, file_id=file_id, query=request.query, config=self.config)
                )

            return await self._serve(request, answer, "files")

        return handle

    def _batch_handler(
        self, respond: Callable[[BatchCall], PlannedResponse]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            async def answer(body: RequestBody, _call: RecordedCall) -> PlannedResponse:
                # Like Files calls: checked, but not counted against the images rate limit.
                check_api_key(request.headers, self.config.api_keys)
                batch_id = request.match_info.get("batch_id", "")
                call = BatchCall(
                    body=body, batch_id=batch_id, query=request.query, config=self.config
                )
                return respond(call)

            return await self._serve(request, answer, "batches")

        return handle

    async def _serve(
        self,
        request: web.Request,
        answer: Callable[[RequestBody, RecordedCall], Awaitable[PlannedResponse]],
        endpoint: str,
    ) -> web.StreamResponse:
        """Record, read, fault, delay and send one API call; ``answer`` decides the rest."""
        started = time.monotonic()
        call = self._record(request, endpoint)
        body = await read_body(request)
        call.params = recorded_params(body)
        if endpoint in ENDPOINTS:  # as requested; an answer says what it really was
            call.model, call.size = (_named(call.params.get(key)) for key in ("model", "size"))
        azure = call.deployment is not None
        call.files = [
            RecordedFile(
                field=p.field, filename=p.filename, content_type=p.content_type, size=len(p.content)
            )
            for p in body.files
        ]
        fault = self.config.faults.next_fault() if self.config.faults else None
        call.fault = None if fault is None else str(fault)
        if fault is not None and fault.kind == "slow_headers":
            await self._pause(fault.seconds or 0.0)
        await self._pause(self.config.latency)
        try:
            planned = self._fault_or_none(fault) or await answer(body, call)
        except APIError as error:
            planned = error.response
        processing = round((time.monotonic() - started) * 1000)
        headers = {"x-request-id": call.request_id, "openai-processing-ms": str(processing)}
        if azure:
            headers["apim-request-id"] = str(uuid.UUID(call.request_id.removeprefix("req_")))
        planned = attrs.evolve(planned, headers={**planned.headers, **headers})
        call.status = planned.status
        return await send(request, planned, fault)

    def _fault_or_none(self, fault: Fault | None) -> PlannedResponse | None:
        if fault is None:
            return None
        plan = self.config.faults
        return fault_response(fault, plan.retry_after if plan else 1.0)

    def _record(self, request: web.Request, endpoint: str | None = None) -> RecordedCall:
        # The id goes into the answer's headers from the call itself: no per-request
        # storage, which on aiohttp 3.9 (the floor) has no warning-free key type.
        call = RecordedCall(
            request_id=f"req_{uuid.uuid4().hex}",
            method=request.method,
            path=request.path,
            headers=masked_headers(request.headers),
            deployment=request.match_info.get("deployment"),
            api_version=request.query.get("api-version"),
            endpoint=endpoint,
        )
        self.requests.append(call)
        limit = self.config.max_recorded_calls
        if limit is not None and len(self.requests) > limit:
            del self.requests[: len(self.requests) - limit]
        return call

    async def _answer(
        self, request: web.Request, endpoint: EndpointName, body: RequestBody, call: RecordedCall
    ) -> PlannedResponse:
        if call.deployment is None:
            check_api_key(request.headers, self.config.api_keys)
        else:
            model = admit_azure_call(
                self.config,
                deployment=call.deployment,
                api_version=call.api_version,
                headers=request.headers,
                body_model=call.params.get("model"),
            )
            body, call.model = with_model(body, model), model
        self._rate_window.admit(self.config.requests_per_minute)
        plan = await self._accept(endpoint, body)
        loop = asyncio.get_running_loop()
        drawn = await loop.run_in_executor(self._executor, draw_all, plan)
        call.model, call.size = call.model or plan.family, plan.size_label
        call.images_answered = len(drawn)
        if self.config.dashboard:
            self._dashboard.thumbnails.keep(call.request_id, [final for final, _ in drawn])
        if plan.stream:
            return PlannedResponse(
                status=200,
                body=b"",
                content_type="text/event-stream",
                events=stream_events(plan, drawn),
            )
        root = _origin(request) + ("/v1" if request.path.startswith("/v1/") else "")
        document = images_body(plan, drawn, lambda picture: self._store(root, picture))
        return PlannedResponse(status=200, body=encode_json(document))

    async def _run_batch_line(self, endpoint: str, document: dict[str, object]) -> LineResult:
        """One batch line run like a live JSON call to ``endpoint``: validated, then drawn."""
        request_id = f"req_{uuid.uuid4().hex}"
        try:
            if document.get("stream") is True:
                raise bad_request("Streaming is not supported in batches.", "stream")
            name: EndpointName = "edit" if endpoint == "edit" else "generate"
            plan = await self._accept(name, RequestBody(kind="json", document=document))
            loop = asyncio.get_running_loop()
            drawn = await loop.run_in_executor(self._executor, draw_all, plan)
        except APIError as error:
            return LineResult(
                status=error.response.status,
                request_id=request_id,
                body=json.loads(error.response.body),
            )
        # Image URLs (dall-e models) point at the API root the emulator serves.
        root = self._base_url or ""
        body = images_body(plan, drawn, lambda picture: self._store(root, picture))
        return LineResult(status=200, request_id=request_id, body=body)

    async def _accept(self, endpoint: EndpointName, body: RequestBody) -> RenderPlan:
        validate = self.config.validate
        if endpoint == "edit" and body.kind == "json":
            accepted = await accept_json_edit(body, validate=validate, files=self.files)
        else:
            accepted = await accept_request(endpoint, body, validate=validate)
        if self.config.validate:
            # Decoding every upload in full is slow: off the event loop, like drawing.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                self._executor, check_decodable, accepted.images, accepted.mask
            )
        return plan_images(accepted, endpoint)

    def _store(self, root: str, picture: bytes) -> str:
        now = time.monotonic()
        for name, (_content, expires) in list(self._url_images.items()):
            if expires <= now:
                del self._url_images[name]
                self._expired.add(name)
        name = f"img-{uuid.uuid4().hex}.png"
        self._url_images[name] = (picture, now + self.config.url_ttl)
        return f"{root}/emulator/files/{name}"

    async def _download(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request, "download")
        name = request.match_info["name"]
        stored = self._url_images.get(name)
        if stored is not None and stored[1] <= time.monotonic():
            del self._url_images[name]
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
        call.status = error.response.status
        return await send(request, error.response, None)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request)
        if request.path.startswith(AZURE_PREFIX):
            error = azure_not_found()
        else:
            error = APIError(404, f"Invalid URL ({request.method} {request.path})")
        planned = attrs.evolve(error.response, headers={"x-request-id": call.request_id})
        call.status = 404
        return await send(request, planned, None)


def _named(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


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
