"""One API call end to end: attempts with retries, then the result in the mode asked for.

:class:`CallSender` pairs a client's transport with its frozen options. Each response mode
has its own typed entry point over the one :meth:`CallSender._send`: :meth:`parsed`,
:meth:`event_stream`, :meth:`raw` and :meth:`streamed`. A fan-out's pacer is passed in
explicitly, never stored. Every attempt is measured (an ``AttemptTrace``) and told to a
:class:`CallObserver`, which logs it and hands it to the client's ``on_attempt`` hooks.
"""

from __future__ import annotations

import datetime
import time
import uuid
from typing import NamedTuple

import attrs

from ._config import ClientOptions
from ._models import ImagesResponse
from ._observe import CallObserver
from ._pacing import Pacer
from ._prepare import PreparedRequest
from ._response import (
    ImageEventStream,
    RawResponse,
    ResponseInfo,
    StreamedResponse,
    parse_images_body,
)
from ._retry import with_retries
from ._transport import AttemptTrace, ResponseStream, Transport


class _Answer(NamedTuple):
    """The successful attempt of a call: its response, its body if read (as the chunks it
    arrived in), and the counts."""

    response: ResponseStream
    chunks: list[bytes] | None
    info: ResponseInfo


@attrs.frozen
class CallSender:
    """Sends prepared requests over ``transport`` with ``options`` (a client's pair)."""

    transport: Transport
    options: ClientOptions

    async def parsed(self, request: PreparedRequest, pacer: Pacer | None = None) -> ImagesResponse:
        """The body parsed as an :class:`ImagesResponse`.

        Parsed straight from the chunks the body arrived in, which parsing consumes: the
        body is never joined into one buffer.
        """
        answer = await self._send(request, pacer, read=True)
        assert answer.chunks is not None
        return parse_images_body(answer.info, answer.chunks)

    async def raw(self, request: PreparedRequest, pacer: Pacer | None = None) -> RawResponse:
        """The response with its body read in full (within the retried attempt)."""
        answer = await self._send(request, pacer, read=True)
        assert answer.chunks is not None
        return RawResponse._from_chunks(answer.info, answer.chunks)

    async def streamed(self, request: PreparedRequest) -> StreamedResponse:
        """The response with its body unread: the caller iterates and releases it."""
        answer = await self._send(request, None, read=False)
        return StreamedResponse._open(
            answer.response, answer.info, self.options.max_response_bytes, self.download
        )

    async def unread(self, request: PreparedRequest) -> tuple[ResponseStream, ResponseInfo]:
        """The response as the transport gives it, body unread, and its info: for a caller
        that reads the body its own way (a batch file, line by line, with no whole-body cap).
        The caller releases or closes it."""
        answer = await self._send(request, None, read=False)
        return answer.response, answer.info

    async def download(self, url: str) -> bytes:
        """The bytes of an image URL, fetched as ``AsyncImages.read_image`` fetches them."""
        from ._downloads import download  # not at import: most clients never fetch a URL

        return await download(
            self.transport,
            url,
            timeout=self.options.timeout,
            max_bytes=self.options.max_response_bytes,
        )

    async def event_stream(self, request: PreparedRequest) -> ImageEventStream:
        """The server-sent events of a ``stream=True`` call."""
        return ImageEventStream(await self.streamed(request))

    async def _send(self, request: PreparedRequest, pacer: Pacer | None, *, read: bool) -> _Answer:
        options = self.options.for_call(request.timeout, request.max_retries)
        key = f"images-async-{uuid.uuid4()}"
        read_limit = options.max_response_bytes if read else None
        observer = CallObserver(
            options.on_attempt,
            endpoint=request.path,
            idempotency_key=key,
            policy=options.retry_policy,
            method=request.method,
        )
        answered: ResponseStream | None = None
        started = time.monotonic()

        async def attempt() -> tuple[ResponseStream, list[bytes] | None]:
            nonlocal answered
            trace = AttemptTrace()
            observer.began(trace)
            response, chunks = await self.transport.send_once(
                request,
                idempotency_key=key,
                timeout=options.timeout,
                read_limit=read_limit,
                trace=trace,
            )
            answered = response
            return response, chunks

        try:
            (response, chunks), retries_taken = await with_retries(
                attempt, options.retry_policy, pacer=pacer, observer=observer.ended
            )
        except BaseException:
            # Cancelled while a hook heard of the answer: an unread body would hold its
            # connection. (A failed attempt has closed its own response.)
            if answered is not None:
                answered.close()
            raise
        info = ResponseInfo(
            status_code=response.status,
            headers=response.headers,
            url=response.url,
            retries_taken=retries_taken,
            elapsed=datetime.timedelta(seconds=time.monotonic() - started),
        )
        return _Answer(response, chunks, info)
