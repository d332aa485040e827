"""The status line and headers of a response (:class:`ResponseInfo`), and what a body that
is not the images response it should be raises (:func:`parse_images_body`).

Below :mod:`._response` and :mod:`._stream_saving`, which both report bad bodies alike.
"""

from __future__ import annotations

import datetime

from multidict import CIMultiDictProxy
from yarl import URL

from ._converter import ResponseShapeError, parse_images_chunks
from ._errors import APIResponseValidationError
from ._models import ImagesResponse


def validation_error(info: ResponseInfo, message: str, body: bytes) -> APIResponseValidationError:
    return APIResponseValidationError(
        message,
        status_code=info.status_code,
        body=body[:1000],
        request_id=info.request_id,
        retries_taken=info.retries_taken,
    )


def _body_start(chunks: list[bytes], size: int = 1000) -> bytes:
    start = b""
    for chunk in chunks:
        start += chunk[: size - len(start)]
        if len(start) == size:
            break
    return start  # and no name left holding a chunk


def parse_images_body(info: ResponseInfo, chunks: list[bytes]) -> ImagesResponse:
    """The body ``chunks`` make as an :class:`ImagesResponse`; parsing empties the list."""
    head = _body_start(chunks)  # for an error: parsing drops the chunks as it goes
    try:
        return parse_images_chunks(chunks)
    except ResponseShapeError as exc:
        raise validation_error(info, f"unexpected response body: {exc}", head) from None


class ResponseInfo:
    """Status line and headers of a response: the base of :class:`RawResponse` and
    :class:`StreamedResponse`."""

    def __init__(
        self,
        *,
        status_code: int,
        headers: CIMultiDictProxy[str],
        url: str | URL,
        retries_taken: int = 0,
        elapsed: datetime.timedelta = datetime.timedelta(0),
    ) -> None:
        #: The HTTP status of the response.
        self.status_code = status_code
        #: The response's headers (case-insensitive, repeated names kept).
        self.headers = headers
        self._url = URL(url)
        #: How many retries were made before this response came.
        self.retries_taken = retries_taken
        #: Time from the start of the call until the response's headers arrived.
        self.elapsed = elapsed

    @property
    def url(self) -> str:
        """The URL the request went to."""
        return str(self._url)

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header: quote it when reporting a problem."""
        return self.headers.get("x-request-id")

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case, without parameters (``application/json``)."""
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()
