"""Sending a planned response with aiohttp, and the faults that break the wire on purpose.

This module owns the last step of every answer: writing a
:class:`~._responses.PlannedResponse` to the connection, or breaking it the way a fault
asks (``disconnect`` closes before any response, ``reset`` aborts halfway through the body,
``truncated`` sends a well-framed but cut-short body). Which fault applies is decided by
:class:`~images_async.testing.faults.FaultPlan`; what the response says, by the rest of the
emulator.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ._responses import PlannedResponse
from .faults import Fault

__all__ = ["send"]

_FLUSH_POLLS = 100
_FLUSH_POLL_INTERVAL = 0.01


async def send(
    request: web.Request, planned: PlannedResponse, fault: Fault | None
) -> web.StreamResponse:
    """Write ``planned`` as the response to ``request``, broken as ``fault`` says."""
    kind = fault.kind if fault is not None else None
    transport = request.transport
    if kind == "disconnect" or transport is None or transport.is_closing():
        # A response returned unwritten on a closed connection is dropped quietly by aiohttp.
        _abort(request)
        return web.Response(status=planned.status)
    chunks = list(planned.events) if planned.events is not None else [planned.body]
    if kind == "truncated":
        chunks = _truncated(chunks, streamed=planned.events is not None)
    response = web.StreamResponse(status=planned.status, headers=planned.headers)
    response.content_type = planned.content_type
    if planned.events is None:
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
