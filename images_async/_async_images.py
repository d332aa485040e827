"""AsyncImages: the public surface of the Images API client, and nothing else.

Configuration rules live in :mod:`._config`, request building in :mod:`._prepare`, sending
in :mod:`._sending`, the raw and streaming views in :mod:`._views` and fan-outs in
:mod:`._fanout`. The sync facade :class:`images_async.Images` is generated from this module
by ``scripts/generate_sync.py``; the typed ``stream=`` overloads stay hand-written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from ssl import SSLContext
from types import TracebackType
from typing import TYPE_CHECKING, Literal, overload

from yarl import URL

from ._client_setup import client_parts
from ._config import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    ClientOptions,
    Timeout,
    checked_base_url,
    checked_credential,
)
from ._errors import ImageDecodeError, MissingAPIKeyError
from ._retry import RetryPolicy
from ._routing import OpenAIRoute
from ._saving import write_atomically
from ._transport import HTTPSession, PoolStats, Transport

# Constructing a client needs only the options and the transport above. Building requests,
# parsing responses, the views and fan-outs are imported by the methods that use them, so
# ``import images_async`` stays cheap (their attrs classes and cattrs hooks cost time).
if TYPE_CHECKING:
    from ._batches import AsyncBatches
    from ._fanout import FanOutProgress, Outcome
    from ._files import FileTypes
    from ._image_refs import ImageInput
    from ._models import Image, ImagesResponse
    from ._observe import AttemptHook
    from ._request_values import RequestT
    from ._response import ImageEventStream
    from ._sending import CallSender
    from ._stored_files import AsyncStoredFiles
    from ._views import AsyncImagesWithRawResponse, AsyncImagesWithStreamingResponse


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
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        retry_policy: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, str] | None = None,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        validate_requests: bool = True,
        proxy: str | URL | None = None,
        trust_env: bool = True,
        ssl: SSLContext | bool | None = None,
        on_attempt: AttemptHook | Sequence[AttemptHook] | None = None,
        http_session: HTTPSession | None = None,
    ) -> None:
        """Configure the client; no connection is made until the first call.

        ``timeout`` is seconds per attempt or a :class:`Timeout` (connect/read/total).
        Failed attempts (408, 409, 429, 5xx, connection errors, timeouts) are retried up to
        ``max_retries`` times (default 2) with exponential backoff, or after the wait the
        server asks for when that is at most ``max_retry_wait`` seconds (default 60).
        ``retry_policy`` (a :class:`RetryPolicy`) also sets the backoff; ``max_retries`` and
        ``max_retry_wait``, when given, replace its fields of those names.
        ``max_connections`` bounds the connection pool (None: no bound) and
        ``max_response_bytes`` the size of a response body. ``validate_requests=False``
        leaves every check to the server. ``proxy`` sends every request through a proxy;
        without one, ``trust_env`` reads ``HTTPS_PROXY``, ``HTTP_PROXY`` and ``NO_PROXY``.
        ``ssl`` is an ``ssl.SSLContext`` (your own CA), or False to skip certificate checks.
        ``on_attempt`` hooks get an :class:`AttemptEvent` after every attempt. The async
        client alone also takes ``http_session``, your own aiohttp session (you close it; a
        session belongs to one event loop); otherwise the client owns one. A bad option
        raises ``ConfigurationError`` naming it.
        """
        key = checked_credential("api_key", api_key, "OPENAI_API_KEY")
        if key is None:
            raise MissingAPIKeyError(
                "no API key: pass api_key=... or set the OPENAI_API_KEY environment variable"
            )
        route = OpenAIRoute(
            base_url=checked_base_url(base_url),
            api_key=key,
            organization=checked_credential("organization", organization, "OPENAI_ORG_ID"),
            project=checked_credential("project", project, "OPENAI_PROJECT_ID"),
        )
        self._options, self._transport = client_parts(
            route,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            retry_policy=retry_policy,
            default_headers=default_headers,
            default_query=default_query,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            validate_requests=validate_requests,
            proxy=proxy,
            trust_env=trust_env,
            ssl=ssl,
            on_attempt=on_attempt,
            http_session=http_session,
        )
        self._owns_transport = True

    @classmethod
    def _sharing(cls, transport: Transport, options: ClientOptions) -> AsyncImages:
        """A client over another's connections (which it does not close)."""
        client = cls.__new__(cls)
        client._transport = transport
        client._options = options
        client._owns_transport = False
        return client

    @property
    def _sender(self) -> CallSender:
        from ._sending import CallSender

        return CallSender(self._transport, self._options)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> URL:
        """The API root every request path is joined to."""
        return self._transport.base_url

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._transport.closed

    @property
    def pool_stats(self) -> PoolStats:
        """How many pooled connections are lent out to calls now, and how many are idle.

        A snapshot for metrics and leak checks: ``acquired`` counts connections carrying a
        request or a response not yet read to its end (or released), ``idle`` the open
        ones waiting for reuse. Clients made by :meth:`with_options` share the pool, so
        they show the same counts; an async client given its own ``http_session`` shows that
        session's. Before the first call and after :meth:`aclose` both are 0.
        """
        return self._transport.pool_stats()

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
        retry_policy: RetryPolicy | None = None,
        validate_requests: bool | None = None,
        on_attempt: AttemptHook | Sequence[AttemptHook] | None = None,
    ) -> AsyncImages:
        """A client with other defaults that shares this one's connections.

        An option left as None keeps this client's value: ``timeout=None`` keeps the
        current timeout (pass ``Timeout(total=None)`` to lift it). A ``retry_policy``
        replaces the whole policy; ``max_retries`` and ``max_retry_wait`` replace its fields
        of those names; ``on_attempt`` replaces the hooks (``[]``: none). A bad option
        raises ``ConfigurationError`` naming it.
        """
        options = self._options.derived(
            timeout=timeout,
            retry_policy=retry_policy,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            validate_requests=validate_requests,
            on_attempt=on_attempt,
        )
        return type(self)._sharing(self._transport, options)

    @functools.cached_property
    def with_raw_response(self) -> AsyncImagesWithRawResponse:
        """The same methods, returning a :class:`RawResponse` (status, headers, body)."""
        from ._views import AsyncImagesWithRawResponse

        return AsyncImagesWithRawResponse(self)

    @functools.cached_property
    def with_streaming_response(self) -> AsyncImagesWithStreamingResponse:
        """The same methods, each giving an unread :class:`StreamedResponse`."""
        from ._views import AsyncImagesWithStreamingResponse

        return AsyncImagesWithStreamingResponse(self)

    @functools.cached_property
    def files(self) -> AsyncStoredFiles:
        """Upload, retrieve, download and delete files (the Files API) through this client."""
        from ._stored_files import AsyncStoredFiles

        return AsyncStoredFiles(self)

    @functools.cached_property
    def batches(self) -> AsyncBatches:
        """Offload many generate and edit requests to the Batch API through this client."""
        from ._batches import AsyncBatches

        return AsyncBatches(self)

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
        from ._prepare import prepare_generate

        request = await prepare_generate(
            self._options.validate_requests,
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
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
            max_retries=max_retries,
        )
        if request.stream:
            return await self._sender.event_stream(request)
        return await self._sender.parsed(request)

    @overload
    async def edit(
        self,
        *,
        image: ImageInput | Sequence[ImageInput],
        prompt: str,
        mask: ImageInput | None = None,
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
        image: ImageInput | Sequence[ImageInput],
        prompt: str,
        mask: ImageInput | None = None,
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
        image: ImageInput | Sequence[ImageInput],
        prompt: str,
        mask: ImageInput | None = None,
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
        image: ImageInput | Sequence[ImageInput],
        prompt: str,
        mask: ImageInput | None = None,
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

        ``image`` is one image or a list of up to 16 (GPT image models): files (a path,
        bytes, a binary file object, or a ``(filename, content[, content_type])`` tuple),
        uploaded as multipart, or references (:class:`ImageURL`, :class:`FileID`, or the dicts
        ``{"image_url": ...}`` and ``{"file_id": ...}``), sent as JSON (GPT image models
        only); never a mix. ``mask``, a file or a reference like the images, is a PNG of the
        first image's size whose transparent pixels mark the area to edit. Parameters left
        as None are not sent. With ``stream=True`` the result is a stream of events
        (:class:`ImageEventStream`). Bad parameters, files or references raise
        :class:`InvalidRequestError` before anything is sent.
        """
        from ._prepare import prepare_edit

        request = await prepare_edit(
            self._options.validate_requests,
            image=image,
            prompt=prompt,
            mask=mask,
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
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
            max_retries=max_retries,
        )
        if request.stream:
            return await self._sender.event_stream(request)
        return await self._sender.parsed(request)

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
        from ._prepare import prepare_variation

        request = await prepare_variation(
            self._options.validate_requests,
            image=image,
            model=model,
            n=n,
            response_format=response_format,
            size=size,
            user=user,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
            max_retries=max_retries,
        )
        return await self._sender.parsed(request)

    # -- fan-out ---------------------------------------------------------------------------

    async def run_many(
        self,
        requests: Iterable[RequestT] | AsyncIterable[RequestT],
        *,
        concurrency: int = 16,
        ordered: bool = False,
        on_progress: Callable[[FanOutProgress], object] | None = None,
        requests_per_minute: float | None = None,
        images_per_minute: float | None = None,
    ) -> AsyncGenerator[Outcome[RequestT], None]:
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
        from ._fanout import FanOut
        from ._pacing import Pacer
        from ._prepare import prepare_request_value

        pacer = Pacer(
            concurrency=concurrency,
            requests_per_minute=requests_per_minute,
            images_per_minute=images_per_minute,
        )
        sender = self._sender
        validate = self._options.validate_requests

        async def send(request: RequestT) -> ImagesResponse:
            return await sender.parsed(await prepare_request_value(validate, request), pacer)

        fan_out = FanOut(
            requests,
            send=send,
            weight=lambda request: request.image_count,
            pacer=pacer,
            on_progress=on_progress,
        )
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
        from ._sending import CallSender

        options = self._options.for_call(timeout, None)
        return await CallSender(self._transport, options).download(image.url)

    async def save_image(
        self, image: Image, path: str | os.PathLike[str], *, timeout: float | Timeout | None = None
    ) -> Path:
        """Write a generated image to ``path`` (replaced atomically); returns the path."""
        content = await self.read_image(image, timeout=timeout)
        target = Path(path)
        await asyncio.to_thread(write_atomically, target, content)
        return target
