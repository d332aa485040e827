"""images-async: an async-first client for the OpenAI Images API, with a sync facade."""

from ._async_images import (
    AsyncImages,
    AsyncImagesWithRawResponse,
    AsyncImagesWithStreamingResponse,
)
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
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
from ._fanout import FanOutProgress, Outcome
from ._files import FileContent, FileTypes
from ._images import Images
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
from ._requests import EditRequest, GenerateRequest, ImageRequest, VariationRequest
from ._response import (
    ImageEventStream,
    RawResponse,
    RawResponseContext,
    StreamedResponse,
    StreamingResponseContext,
)
from ._retry import RetryPolicy
from ._sync import (
    ImagesWithRawResponse,
    ImagesWithStreamingResponse,
    SyncImageEventStream,
    SyncStreamedResponse,
)
from ._transport import Timeout
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncImages",
    "AsyncImagesWithRawResponse",
    "AsyncImagesWithStreamingResponse",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "CompletedImageEvent",
    "ConflictError",
    "EditRequest",
    "FanOutProgress",
    "FileContent",
    "FileTypes",
    "GenerateRequest",
    "Image",
    "ImageEventStream",
    "ImageRequest",
    "ImageStreamEvent",
    "Images",
    "ImagesError",
    "ImagesResponse",
    "ImagesWithRawResponse",
    "ImagesWithStreamingResponse",
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
    "RateLimitError",
    "RawResponse",
    "RawResponseContext",
    "RetryPolicy",
    "StreamedResponse",
    "StreamingResponseContext",
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
