"""Fetching images by URL: the ``url`` results that ``read_image`` and ``save_image`` read.

Redirects are followed here, one GET at a time (:meth:`Transport.get_once`), rather than by
aiohttp: each hop's URL is checked again (absolute http(s), a host, no user or password)
and gets its own proxy decision, so a redirect from a host ``NO_PROXY`` names to one it does
not name goes through the proxy, and proxy credentials reach the proxy of that hop only.
No other credentials are ever sent: image URLs point at storage, not at the API.

An image URL may be signed in its query string, and so may a redirect's target: messages
name a URL without its query, fragment and user information.
"""

from __future__ import annotations

import asyncio
import contextlib

from yarl import URL

from ._config import TimeoutTypes
from ._errors import APIConnectionError, APIResponseValidationError, InvalidRequestError
from ._transport import REDIRECT_STATUSES, CallLabel, ResponseStream, Transport
from ._wire_body import client_timeout

#: The most redirects one download follows; one more is an error, as a loop would be.
MAX_REDIRECTS = 10
#: A redirect's body is read up to this size so that its connection can be reused.
REDIRECT_BODY_BYTES = 64 * 1024


def _unusable(target: URL) -> str | None:
    """Why ``target`` cannot be fetched (a phrase that never quotes it), or None."""
    if target.scheme not in ("http", "https") or not target.host:
        scheme = f"not {target.scheme}://" if target.scheme else "it has none"
        return f"must be an http:// or https:// URL with a host ({scheme})"
    if target.user is not None or target.password is not None:
        # aiohttp would send them as Basic Authorization, to whatever host this is.
        return "must not carry a user name or password"
    return None


def download_target(url: object) -> URL:
    """An image URL to GET: absolute http(s) with a host, or :class:`InvalidRequestError`.

    Checked here because aiohttp fails on other URLs in ways that vary by release (3.9 with
    an ``AssertionError`` for ``ftp://``).
    """
    try:
        target = URL(url)  # type: ignore[arg-type]  # checked below, and by URL itself
    except (TypeError, ValueError):
        raise InvalidRequestError("image.url is not a valid URL", param="image") from None
    if (problem := _unusable(target)) is not None:
        raise InvalidRequestError(f"image.url {problem}", param="image")
    return target


def _redirect_target(current: URL, location: str | None, call: CallLabel) -> URL:
    """Where a redirect from ``current`` leads (a relative ``Location`` resolved against
    it), or :class:`APIConnectionError` when it leads nowhere a download may go."""
    try:
        # Characters a URL may not hold get quoted, as aiohttp does. A Location with a
        # scheme stands alone: joined, "http:///x" would borrow the current host.
        target = URL(location) if location else None
        if target is not None and not target.scheme:
            target = current.join(target)
    except (TypeError, ValueError):
        problem = "to something that is not a URL"
    else:
        if target is None:
            problem = "without a Location"
        elif (unusable := _unusable(target)) is not None:
            problem = f"to a URL that {unusable}"
        else:
            return target.with_fragment(None)
    raise APIConnectionError(f"connection error: a redirect {problem} ({call.method} {call.path})")


def shown(url: URL) -> str:
    """``url`` as a message may show it: no user information, query or fragment."""
    return str(url.with_user(None).with_query(None).with_fragment(None))


async def download(
    transport: Transport, url: object, *, timeout: TimeoutTypes, max_bytes: int
) -> bytes:
    """The body of an image URL, following at most :data:`MAX_REDIRECTS` redirects.

    The body is decoded and capped at ``max_bytes``; a status that is neither 2xx nor a
    redirect is its :class:`APIStatusError`. The ``timeout``'s total bounds all the hops.
    """
    first = download_target(url)
    call = CallLabel.of("GET", first, client_timeout(timeout))
    total = call.timeout.total
    deadline = None if total is None else asyncio.get_running_loop().time() + total
    target = first
    for _ in range(MAX_REDIRECTS + 1):
        where = shown(first)
        if target != first:
            where += f" (redirected to {shown(target)})"
        response = await transport.get_once(
            target, call, deadline=deadline, failure=f"downloading {where} failed"
        )
        if response.status not in REDIRECT_STATUSES:
            chunks = await response.read_chunks(max_bytes, what=f"the image at {where}")
            return b"".join(chunks)
        location = response.headers.get("Location")
        await _discarded(response)
        target = _redirect_target(target, location, call)
    raise APIConnectionError(
        f"connection error: too many redirects (more than {MAX_REDIRECTS}) "
        f"({call.method} {call.path})"
    )


async def _discarded(response: ResponseStream) -> None:
    """Read a redirect's body to its end, so that its connection goes back to the pool."""
    # Too large or not decodable: read_chunks closed the connection instead, and the
    # redirect is still followed.
    with contextlib.suppress(APIResponseValidationError):
        await response.read_chunks(REDIRECT_BODY_BYTES, what="a redirect's body")
