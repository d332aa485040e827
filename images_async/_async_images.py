"""AsyncImages: the one hand-written implementation of the Images API client.

Every endpoint, both response modes and the image helpers live here; the sync facade
:class:`images_async.Images` is generated from this module by ``scripts/generate_sync.py``.

The raw and streaming views reuse the very same methods: a view holds a sibling of the client
(same connections, other response mode) and wraps its methods, so each parameter list is
written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import functools
import json
import os
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, cast, overload

import aiohttp
import attrs
from yarl import URL

from ._errors import ImageDecodeError, MissingAPIKeyError
from ._fanout import FanOutProgress, Outcome, _FanOut
from ._files import FileTypes, image_labels, load_uploads
from ._models import Image, ImagesResponse
from ._options import (
    checked_base_url,
    checked_count,
    checked_credential,
    checked_flag,
    checked_headers,
    checked_limit,
    checked_retries,
    checked_seconds,
    checked_timeout,
)
from ._pacing import Pacer
from ._params import given_parameters, validate_edit, validate_generate, validate_variation
from ._requests import ImageRequest
from ._response import (
    ImageEventStream,
    RawResponse,
    RawResponseContext,
    StreamedResponse,
    StreamingResponseContext,
)
from ._retry import RetryPolicy
from ._transport import PreparedRequest, Timeout, TimeoutTypes, Transport

_P = ParamSpec("_P")

DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 2
#: The longest wait a server may ask for (Retry-After) before a call fails instead.
DEFAULT_MAX_RETRY_WAIT = 60.0
DEFAULT_MAX_CONNECTIONS = 100
#: Ten 4K PNGs as base64 fit comfortably; a larger body means a broken or hostile server.
DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024 * 1024


class _Mode(enum.Enum):
    PARSED = "parsed"
    RAW = "raw"
    STREAMING = "streaming"


def _form_fields(
    params: Mapping[str, object], extra_body: Mapping[str, object] | None
) -> list[tuple[str, str]]:
    """The text parts of a multipart body: the parameters, then any extra fields."""
    fields = {**params, **(extra_body or {})}
    return [(name, _form_value(value)) for name, value in fields.items() if value is not None]


def _form_value(value: object) -> str:
    """A parameter as multipart text: JSON spellings for booleans and structures."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


class AsyncImages:
    """Client for the Images API: ``generate``, ``edit`` and ``create_variation``.

    Reads ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and
    ``OPENAI_PROJECT_ID`` from the environment when the matching argument is not given.
    Use it as a context manager (``async with``) or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | URL | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, str] | None = None,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        validate_requests: bool = True,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        """Configure the client; no connection is made until the first call.

        ``timeout`` is seconds per attempt or a :class:`Timeout` (connect/read/total).
        Failed attempts (408, 409, 429, 5xx, connection errors, timeouts) are retried up to
        ``max_retries`` times with exponential backoff, or after the wait the server asks
        for when that is at most ``max_retry_wait`` seconds. ``max_connections`` bounds the
        connection pool (None: no bound) and ``max_response_bytes`` the size of a response
        body. ``validate_requests=False`` leaves every check to the server. ``http_session``
        uses your own aiohttp session (you close it; async code only, since a session belongs
        to one event loop); otherwise the client owns one. A bad option raises
        ``ConfigurationError`` naming it.
        """
        key = checked_credential("api_key", api_key, "OPENAI_API_KEY")
        if key is None:
            raise MissingAPIKeyError(
                "no API key: pass api_key=... or set the OPENAI_API_KEY environment variable"
            )
        limit = checked_limit("max_connections", max_connections)
        self._timeout: TimeoutTypes = checked_timeout(timeout)
        self._retry_policy = RetryPolicy(
            max_retries=checked_retries(max_retries),
            max_server_wait=checked_seconds("max_retry_wait", max_retry_wait),
        )
        self._max_response_bytes = checked_count("max_response_bytes", max_response_bytes)
        self._validate_requests = checked_flag("validate_requests", validate_requests)
        self._transport = Transport(
            api_key=key,
            base_url=checked_base_url(base_url),
            organization=checked_credential("organization", organization, "OPENAI_ORG_ID"),
            project=checked_credential("project", project, "OPENAI_PROJECT_ID"),
            default_headers=checked_headers(default_headers),
            default_query=default_query,
            # aiohttp's connector takes 0 for "no limit".
            max_connections=0 if limit is None else limit,
            http_session=http_session,
        )
        self._mode = _Mode.PARSED
        self._pacer: Pacer | None = None
        self._owns_transport = True

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> URL:
        """The API root every request path is joined to."""
        return self._transport.base_url

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._transport.closed

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards.

        A client made by :meth:`with_options` shares its parent's pool and leaves it open:
        closing it does nothing.
        """
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncImages:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self.base_url)!r})"

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        validate_requests: bool | None = None,
    ) -> AsyncImages:
        """A client with other defaults that shares this one's connections.

        ``timeout=None`` keeps the current timeout; pass ``Timeout(total=None)`` to lift it.
        A bad option raises ``ConfigurationError`` naming it.
        """
        clone = copy.copy(self)
        clone._owns_transport = False
        clone.__dict__.pop("with_raw_response", None)
        clone.__dict__.pop("with_streaming_response", None)
        if timeout is not None:
            clone._timeout = checked_timeout(timeout)
        if max_retries is not None:
            clone._retry_policy = attrs.evolve(
                clone._retry_policy, max_retries=checked_retries(max_retries)
            )
        if max_retry_wait is not None:
            wait = checked_seconds("max_retry_wait", max_retry_wait)
            clone._retry_policy = attrs.evolve(clone._retry_policy, max_server_wait=wait)
        if validate_requests is not None:
            clone._validate_requests = checked_flag("validate_requests", validate_requests)
        return clone

    def _in_mode(self, mode: _Mode) -> AsyncImages:
        clone = self.with_options()
        clone._mode = mode
        return clone

    @functools.cached_property
    def with_raw_response(self) -> AsyncImagesWithRawResponse:
        """The same methods, returning a :class:`RawResponse` (status, headers, body)."""
        return AsyncImagesWithRawResponse(self)

    @functools.cached_property
    def with_streaming_response(self) -> AsyncImagesWithStreamingResponse:
        """The same methods, each giving an unread :class:`StreamedResponse`."""
        return AsyncImagesWithStreamingResponse(self)

    # -- endpoints -------------------------------------------------------------------------

    @overload
    async def generate(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        style: str | None = None,
        user: str | None = None,
        background: str | None = None,
        moderation: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: Literal[False] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse: ...

    @overload
    async def generate(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        style: str | None = None,
        user: str | None = None,
        background: str | None = None,
        moderation: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: Literal[True],
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImageEventStream: ...

    @overload
    async def generate(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        style: str | None = None,
        user: str | None = None,
        background: str | None = None,
        moderation: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse | ImageEventStream: ...

    async def generate(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        style: str | None = None,
        user: str | None = None,
        background: str | None = None,
        moderation: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse | ImageEventStream:
        """Create images from a text prompt (``POST /images/generations``).

        Parameters left as None are not sent, so the server's defaults apply. ``model`` is
        any model name (``dall-e-2``, ``dall-e-3``, ``gpt-image-1``, ``gpt-image-1-mini``,
        ``gpt-image-1.5``, ``gpt-image-2``, or a newer one); ``size`` is ``auto`` or
        ``WIDTHxHEIGHT``. With ``stream=True`` the result is a stream of partial and
        completed images (:class:`ImageEventStream`). ``extra_headers``, ``extra_query`` and
        ``extra_body`` add to the request as sent; ``timeout`` and ``max_retries`` override
        the client's for this call. Bad parameters raise :class:`InvalidRequestError`
        before anything is sent.
        """
        params = given_parameters(
            prompt=prompt,
            model=model,
            n=n,
            quality=quality,
            response_format=response_format,
            size=size,
            style=style,
            user=user,
            background=background,
            moderation=moderation,
            output_compression=output_compression,
            output_format=output_format,
            partial_images=partial_images,
            stream=stream,
        )
        if self._validate_requests:
            validate_generate(params)
        request = PreparedRequest(
            path="images/generations",
            json_body={**params, **(extra_body or {})},
            extra_headers=extra_headers,
            extra_query=extra_query,
            stream=bool(stream),
        )
        result: ImagesResponse | ImageEventStream = await self._dispatch(
            request, timeout, max_retries
        )
        return result

    @overload
    async def edit(
        self,
        *,
        image: FileTypes | Sequence[FileTypes],
        prompt: str,
        mask: FileTypes | None = None,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        user: str | None = None,
        background: str | None = None,
        input_fidelity: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: Literal[False] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse: ...

    @overload
    async def edit(
        self,
        *,
        image: FileTypes | Sequence[FileTypes],
        prompt: str,
        mask: FileTypes | None = None,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        user: str | None = None,
        background: str | None = None,
        input_fidelity: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: Literal[True],
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImageEventStream: ...

    @overload
    async def edit(
        self,
        *,
        image: FileTypes | Sequence[FileTypes],
        prompt: str,
        mask: FileTypes | None = None,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        user: str | None = None,
        background: str | None = None,
        input_fidelity: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse | ImageEventStream: ...

    async def edit(
        self,
        *,
        image: FileTypes | Sequence[FileTypes],
        prompt: str,
        mask: FileTypes | None = None,
        model: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        size: str | None = None,
        user: str | None = None,
        background: str | None = None,
        input_fidelity: str | None = None,
        output_compression: int | None = None,
        output_format: str | None = None,
        partial_images: int | None = None,
        stream: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse | ImageEventStream:
        """Edit or extend images from a prompt (``POST /images/edits``).

        ``image`` is one file or a list of up to 16 (GPT image models); each file is a path,
        bytes, a binary file object, or a ``(filename, content[, content_type])`` tuple.
        ``mask`` is a PNG of the first image's size whose transparent pixels mark the area
        to edit. Parameters left as None are not sent. With ``stream=True`` the result is
        a stream of events (:class:`ImageEventStream`). Bad parameters or files raise
        :class:`InvalidRequestError` before anything is sent.
        """
        images = _as_image_list(image)
        names = ["image"] if len(images) == 1 else ["image[]"] * len(images)
        labels = image_labels(len(images))
        uploads = await load_uploads(
            [*images, *([mask] if mask is not None else [])],
            [*labels, *(["mask"] if mask is not None else [])],
        )
        image_uploads, mask_upload = uploads[: len(images)], uploads[len(images) :]
        params = given_parameters(
            prompt=prompt,
            model=model,
            n=n,
            quality=quality,
            response_format=response_format,
            size=size,
            user=user,
            background=background,
            input_fidelity=input_fidelity,
            output_compression=output_compression,
            output_format=output_format,
            partial_images=partial_images,
            stream=stream,
        )
        if self._validate_requests:
            validate_edit(params, image_uploads, mask_upload[0] if mask_upload else None)
        files = [
            *zip(names, image_uploads, strict=True),
            *(("mask", upload) for upload in mask_upload),
        ]
        request = PreparedRequest(
            path="images/edits",
            form_fields=_form_fields(params, extra_body),
            files=files,
            extra_headers=extra_headers,
            extra_query=extra_query,
            stream=bool(stream),
        )
        result: ImagesResponse | ImageEventStream = await self._dispatch(
            request, timeout, max_retries
        )
        return result

    async def create_variation(
        self,
        *,
        image: FileTypes,
        model: str | None = None,
        n: int | None = None,
        response_format: str | None = None,
        size: str | None = None,
        user: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
    ) -> ImagesResponse:
        """Create variations of an image (``POST /images/variations``, dall-e-2).

        ``image`` is a square PNG under 4 MB: a path, bytes, a binary file object, or a
        ``(filename, content[, content_type])`` tuple. Parameters left as None are not sent.
        Bad parameters or files raise :class:`InvalidRequestError` before anything is sent.
        """
        (upload,) = await load_uploads([image], ["image"])
        params = given_parameters(
            model=model, n=n, response_format=response_format, size=size, user=user
        )
        if self._validate_requests:
            validate_variation(params, upload)
        request = PreparedRequest(
            path="images/variations",
            form_fields=_form_fields(params, extra_body),
            files=[("image", upload)],
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        result: ImagesResponse = await self._dispatch(request, timeout, max_retries)
        return result

    # -- fan-out ---------------------------------------------------------------------------

    async def run_many(
        self,
        requests: Iterable[ImageRequest] | AsyncIterable[ImageRequest],
        *,
        concurrency: int = 16,
        ordered: bool = False,
        on_progress: Callable[[FanOutProgress], object] | None = None,
        requests_per_minute: float | None = None,
        images_per_minute: float | None = None,
    ) -> AsyncGenerator[Outcome[ImageRequest], None]:
        """Run many requests concurrently; yields exactly one :class:`Outcome` per request.

        ``requests`` holds :class:`GenerateRequest`, :class:`EditRequest` and
        :class:`VariationRequest` values and is read lazily. At most ``concurrency`` calls
        are in flight; a 429 pauses new attempts of every call for the wait the server asks
        and halves the concurrency, which grows back after successes. Optional budgets
        limit requests and images per minute. Outcomes come as they finish, or in input
        order with ``ordered=True`` (finished outcomes then wait in memory for slower earlier
        ones). ``on_progress`` is called with counts after each outcome, on the event loop
        that runs the calls. Closing the iterator early cancels the calls in flight and
        releases their connections (after ``break`` that happens when the iterator is
        closed or garbage collected).
        """
        pacer = Pacer(
            concurrency=concurrency,
            requests_per_minute=requests_per_minute,
            images_per_minute=images_per_minute,
        )
        paced = self.with_options()
        paced._pacer = pacer
        fan_out = _FanOut(paced, requests, pacer, on_progress)
        async with contextlib.aclosing(fan_out.outcomes(concurrency, ordered)) as outcomes:
            async for outcome in outcomes:
                yield outcome

    # -- image helpers ---------------------------------------------------------------------

    async def read_image(self, image: Image, *, timeout: float | Timeout | None = None) -> bytes:
        """The bytes of a generated image, whether it came inline (base64) or as a URL.

        URLs are fetched without credentials: they point at storage, not at the API.
        """
        if image.b64_payload is not None:
            return image.decode()
        if image.url is None:
            raise ImageDecodeError("the image has neither b64_json nor url")
        return await self._transport.download(
            image.url,
            timeout=self._timeout if timeout is None else checked_timeout(timeout, per_call=True),
            max_bytes=self._max_response_bytes,
        )

    async def save_image(
        self, image: Image, path: str | os.PathLike[str], *, timeout: float | Timeout | None = None
    ) -> Path:
        """Write a generated image to ``path`` (replaced atomically); returns the path."""
        content = await self.read_image(image, timeout=timeout)
        target = Path(path)
        await asyncio.to_thread(_write_atomically, target, content)
        return target

    # -- plumbing --------------------------------------------------------------------------

    async def _dispatch(
        self, request: PreparedRequest, timeout: TimeoutTypes, max_retries: int | None
    ) -> Any:
        """Send and shape the result for this client's response mode."""
        policy = self._retry_policy
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=checked_retries(max_retries, per_call=True))
        streams = self._mode is _Mode.STREAMING or (self._mode is _Mode.PARSED and request.stream)
        opened = await self._transport.send(
            request,
            timeout=self._timeout if timeout is None else checked_timeout(timeout, per_call=True),
            policy=policy,
            pacer=self._pacer,
            read_limit=None if streams else self._max_response_bytes,
        )
        if opened.content is None:
            streamed = StreamedResponse(opened, self._max_response_bytes)
            return streamed if self._mode is _Mode.STREAMING else ImageEventStream(streamed)
        raw = RawResponse(opened, opened.content)
        return raw if self._mode is _Mode.RAW else raw.parse()


def _as_image_list(image: FileTypes | Sequence[FileTypes]) -> list[FileTypes]:
    """One image or several; a tuple whose first item is a file name is one image."""
    if isinstance(image, list):
        return list(image)
    if isinstance(image, tuple):
        is_one_file = 2 <= len(image) <= 3 and (image[0] is None or isinstance(image[0], str))
        if not is_one_file:
            return list(cast("tuple[FileTypes, ...]", image))
    return [cast("FileTypes", image)]


def _write_atomically(target: Path, content: bytes) -> None:
    """Write to a fresh file beside ``target``, flush it to disk, then rename it over."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    # 0o666 minus the umask, as open() would give: mkstemp's files are private (0600).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _raw_response_method(method: Callable[_P, Awaitable[Any]]) -> Callable[_P, RawResponseContext]:
    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> RawResponseContext:
        return RawResponseContext(lambda: method(*args, **kwargs))

    return call


def _streaming_response_method(
    method: Callable[_P, Awaitable[Any]],
) -> Callable[_P, StreamingResponseContext]:
    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> StreamingResponseContext:
        return StreamingResponseContext(lambda: method(*args, **kwargs))

    return call


class AsyncImagesWithRawResponse:
    """``images.with_raw_response``: each method gives a :class:`RawResponse`.

    ``raw = await images.with_raw_response.generate(...)`` or
    ``async with images.with_raw_response.generate(...) as raw: ...``; then
    ``raw.status_code``, ``raw.headers``, ``raw.request_id`` and ``raw.parse()``.
    """

    def __init__(self, images: AsyncImages) -> None:
        raw = images._in_mode(_Mode.RAW)
        self.generate = _raw_response_method(raw.generate)
        self.edit = _raw_response_method(raw.edit)
        self.create_variation = _raw_response_method(raw.create_variation)


class AsyncImagesWithStreamingResponse:
    """``images.with_streaming_response``: each method gives an unread :class:`StreamedResponse`.

    ``async with images.with_streaming_response.generate(...) as response:`` then iterate
    ``response.iter_bytes()`` (or lines, text, events); the connection is released on exit.
    """

    def __init__(self, images: AsyncImages) -> None:
        streaming = images._in_mode(_Mode.STREAMING)
        self.generate = _streaming_response_method(streaming.generate)
        self.edit = _streaming_response_method(streaming.edit)
        self.create_variation = _streaming_response_method(streaming.create_variation)
