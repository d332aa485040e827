"""images-async: an async-first client for the OpenAI Images API, with a sync facade.

A call's path through the package, one module a step (the docs' "How it is built" page
draws it in full): ``_async_images`` (the public surface, options from ``_config``) →
``_prepare`` (parameters from ``_endpoints``, per-model rules from ``_params``, uploads from
``_files``) → ``_sending`` (one typed entry point per response mode) → ``_retry`` →
``_transport`` (the only user of aiohttp's client; ``_decoding`` undoes compression) →
``_response`` / ``_converter`` / ``_models`` → your code, or an exception from ``_errors``.
The sync ``Images`` is generated into ``_sync_client``; ``run_many`` is ``_fanout``; the
command line is ``cli/`` and the offline emulator ``testing/``.
"""

from typing import TypeVar

from ._async_images import AsyncImages
from ._config import Timeout
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    ImageDecodeError,
    ImagesError,
    InternalServerError,
    InvalidFileError,
    InvalidRequestError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    UnsupportedFileInputError,
)
from ._fanout import FanOutProgress, Outcome, RequestT_co
from ._files import FileContent, FileTypes
from ._models import (
    CompletedImageEvent,
    Image,
    ImagesResponse,
    ImageStreamEvent,
    InputTokensDetails,
    OutputTokensDetails,
    PartialImageEvent,
    UnknownStreamEvent,
    Usage,
)
from ._pacing import PacerState
from ._request_values import (
    EditRequest,
    GenerateRequest,
    ImageRequest,
    RequestOptions,
    RequestT,
    VariationRequest,
)
from ._response import (
    ImageEventStream,
    IncompleteStreamError,
    RawResponse,
    RawResponseContext,
    ResponseInfo,
    StreamedResponse,
    StreamingResponseContext,
)
from ._retry import RetryPolicy
from ._sync_client import Images
from ._sync_responses import (
    ImagesWithRawResponse,
    ImagesWithStreamingResponse,
    SyncImageEventStream,
    SyncStreamedResponse,
)
from ._sync_runtime import SyncFacade
from ._transport import HTTPSession, PoolStats
from ._version import __version__
from ._views import AsyncImagesWithRawResponse, AsyncImagesWithStreamingResponse

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "AsyncImages",
    "AsyncImagesWithRawResponse",
    "AsyncImagesWithStreamingResponse",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "CompletedImageEvent",
    "ConfigurationError",
    "ConflictError",
    "EditRequest",
    "FanOutProgress",
    "FileContent",
    "FileTypes",
    "GenerateRequest",
    "HTTPSession",
    "Image",
    "ImageDecodeError",
    "ImageEventStream",
    "ImageRequest",
    "ImageStreamEvent",
    "Images",
    "ImagesError",
    "ImagesResponse",
    "ImagesWithRawResponse",
    "ImagesWithStreamingResponse",
    "IncompleteStreamError",
    "InputTokensDetails",
    "InternalServerError",
    "InvalidFileError",
    "InvalidRequestError",
    "MissingAPIKeyError",
    "NotFoundError",
    "Outcome",
    "OutputTokensDetails",
    "PacerState",
    "PartialImageEvent",
    "PermissionDeniedError",
    "PoolStats",
    "RateLimitError",
    "RawResponse",
    "RawResponseContext",
    "RequestOptions",
    "RequestT",
    "RequestT_co",
    "ResponseInfo",
    "RetryPolicy",
    "StreamedResponse",
    "StreamingResponseContext",
    "SyncFacade",
    "SyncImageEventStream",
    "SyncStreamedResponse",
    "Timeout",
    "UnknownStreamEvent",
    "UnprocessableEntityError",
    "UnsupportedFileInputError",
    "Usage",
    "VariationRequest",
    "__version__",
]


def _present_as_public() -> None:
    # Each public class says it lives here, where users import it from, rather than in the
    # private module that defines it: reprs, tracebacks, pickles and the docs' cross
    # references then all name ``images_async.X``.
    for name in __all__:
        value = globals()[name]
        is_named = isinstance(value, (type, TypeVar))
        if is_named and value.__module__.startswith(f"{__name__}._"):
            value.__module__ = __name__


_present_as_public()
