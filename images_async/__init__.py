"""images-async: an async-first client for the OpenAI Images API, with a sync facade.

A call's path through the package, one module a step (the docs' "How it is built" page
draws it in full): ``_async_images`` (the public surface, options from ``_config``) →
``_prepare`` (parameters from ``_endpoints``, per-model rules from ``_params``, uploads from
``_files``) → ``_sending`` (one typed entry point per response mode) → ``_retry`` →
``_transport`` (the only user of aiohttp's client; ``_decoding`` undoes compression) →
``_response`` / ``_converter`` / ``_models`` → your code, or an exception from ``_errors``.
``AsyncAzureImages`` (``_azure``) differs only in its route (``_routing``); ``images.files``
is ``_stored_files``. The sync ``Images`` is generated into ``_sync_client``, ``AzureImages``
into ``_sync_azure`` and the sync ``files`` into ``_sync_stored_files``; ``run_many`` is
``_fanout``; the command line is ``cli/`` and the offline emulator ``testing/``.
"""

import importlib
import sys
from typing import TYPE_CHECKING, TypeVar

# What a client's construction needs is imported now; every other public name is imported
# on first use (PEP 562 ``__getattr__`` below), so ``import images_async`` does not pay for
# request values, response parsing, fan-outs or the sync facade until they are used.
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
    InsecureConnectionWarning,
    InternalServerError,
    InvalidFileError,
    InvalidRequestError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TokenProviderError,
    UnprocessableEntityError,
    UnsupportedFileInputError,
)
from ._observe import AttemptEvent, AttemptHook
from ._retry import RetryPolicy
from ._transport import HTTPSession, PoolStats
from ._version import __version__

if TYPE_CHECKING:
    from ._azure import AsyncAzureImages
    from ._batch_lines import BatchLineError, SavedOutcome
    from ._batches import (
        AsyncBatches,
        BatchJob,
        BatchNotFinishedError,
        BatchNotRunError,
        BatchRequestCounts,
        BatchState,
        BatchTimeoutError,
    )
    from ._fanout import FanOutProgress, Outcome, RequestT_co
    from ._files import FileContent, FileTypes
    from ._image_refs import (
        FileID,
        FileIDParam,
        ImageInput,
        ImageReference,
        ImageURL,
        ImageURLParam,
    )
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
    from ._routing import AzureADTokenProvider
    from ._stored_files import AsyncStoredFiles, StoredFile
    from ._stream_saving import SavedImages
    from ._sync_azure import AzureImages
    from ._sync_batches import Batches
    from ._sync_client import Images
    from ._sync_responses import (
        ImagesWithRawResponse,
        ImagesWithStreamingResponse,
        SyncImageEventStream,
        SyncStreamedResponse,
    )
    from ._sync_runtime import SyncFacade
    from ._sync_stored_files import StoredFiles
    from ._views import AsyncImagesWithRawResponse, AsyncImagesWithStreamingResponse

#: The module defining each public name imported on first use; keep in step with the
#: ``TYPE_CHECKING`` imports above, which are what type checkers see.
_LAZY_NAMES = {
    "AsyncAzureImages": "._azure",
    "BatchLineError": "._batch_lines",
    "AsyncBatches": "._batches",
    "BatchJob": "._batches",
    "BatchNotFinishedError": "._batches",
    "BatchNotRunError": "._batches",
    "BatchRequestCounts": "._batches",
    "BatchState": "._batches",
    "BatchTimeoutError": "._batches",
    "FanOutProgress": "._fanout",
    "Outcome": "._fanout",
    "RequestT_co": "._fanout",
    "FileContent": "._files",
    "FileTypes": "._files",
    "FileID": "._image_refs",
    "FileIDParam": "._image_refs",
    "ImageInput": "._image_refs",
    "ImageReference": "._image_refs",
    "ImageURL": "._image_refs",
    "ImageURLParam": "._image_refs",
    "CompletedImageEvent": "._models",
    "Image": "._models",
    "ImagesResponse": "._models",
    "ImageStreamEvent": "._models",
    "InputTokensDetails": "._models",
    "OutputTokensDetails": "._models",
    "PartialImageEvent": "._models",
    "UnknownStreamEvent": "._models",
    "Usage": "._models",
    "PacerState": "._pacing",
    "EditRequest": "._request_values",
    "GenerateRequest": "._request_values",
    "ImageRequest": "._request_values",
    "RequestOptions": "._request_values",
    "RequestT": "._request_values",
    "VariationRequest": "._request_values",
    "AzureADTokenProvider": "._routing",
    "AsyncStoredFiles": "._stored_files",
    "StoredFile": "._stored_files",
    "ImageEventStream": "._response",
    "IncompleteStreamError": "._response",
    "RawResponse": "._response",
    "RawResponseContext": "._response",
    "SavedImages": "._stream_saving",
    "SavedOutcome": "._batch_lines",
    "ResponseInfo": "._response",
    "StreamedResponse": "._response",
    "StreamingResponseContext": "._response",
    "AzureImages": "._sync_azure",
    "Batches": "._sync_batches",
    "Images": "._sync_client",
    "ImagesWithRawResponse": "._sync_responses",
    "ImagesWithStreamingResponse": "._sync_responses",
    "SyncImageEventStream": "._sync_responses",
    "SyncStreamedResponse": "._sync_responses",
    "SyncFacade": "._sync_runtime",
    "StoredFiles": "._sync_stored_files",
    "AsyncImagesWithRawResponse": "._views",
    "AsyncImagesWithStreamingResponse": "._views",
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "AsyncAzureImages",
    "AsyncBatches",
    "AsyncImages",
    "AsyncImagesWithRawResponse",
    "AsyncImagesWithStreamingResponse",
    "AsyncStoredFiles",
    "AttemptEvent",
    "AttemptHook",
    "AuthenticationError",
    "AzureADTokenProvider",
    "AzureImages",
    "BadRequestError",
    "BatchJob",
    "BatchLineError",
    "BatchNotFinishedError",
    "BatchNotRunError",
    "BatchRequestCounts",
    "BatchState",
    "BatchTimeoutError",
    "Batches",
    "ClientClosedError",
    "CompletedImageEvent",
    "ConfigurationError",
    "ConflictError",
    "EditRequest",
    "FanOutProgress",
    "FileContent",
    "FileID",
    "FileIDParam",
    "FileTypes",
    "GenerateRequest",
    "HTTPSession",
    "Image",
    "ImageDecodeError",
    "ImageEventStream",
    "ImageInput",
    "ImageReference",
    "ImageRequest",
    "ImageStreamEvent",
    "ImageURL",
    "ImageURLParam",
    "Images",
    "ImagesError",
    "ImagesResponse",
    "ImagesWithRawResponse",
    "ImagesWithStreamingResponse",
    "IncompleteStreamError",
    "InputTokensDetails",
    "InsecureConnectionWarning",
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
    "SavedImages",
    "SavedOutcome",
    "StoredFile",
    "StoredFiles",
    "StreamedResponse",
    "StreamingResponseContext",
    "SyncFacade",
    "SyncImageEventStream",
    "SyncStreamedResponse",
    "Timeout",
    "TokenProviderError",
    "UnknownStreamEvent",
    "UnprocessableEntityError",
    "UnsupportedFileInputError",
    "Usage",
    "VariationRequest",
    "__version__",
]


def _present_as_public(value: object) -> None:
    # Each public class says it lives here, where users import it from, rather than in the
    # private module that defines it: reprs, tracebacks, pickles and the docs' cross
    # references then all name ``images_async.X``.
    is_named = isinstance(value, (type, TypeVar))
    if is_named and value.__module__.startswith(f"{__name__}._"):
        value.__module__ = __name__


def _load_lazy_name(name: str) -> object:
    """Import the module defining ``name``, present what it loaded, and keep ``name`` here."""
    importlib.import_module(_LAZY_NAMES[name], __name__)
    # Importing one module may load others that define public names too (the sync facade
    # loads nearly all of them), and a client's calls load some before any is named here:
    # present every public name whose module is loaded by now, not only ``name``.
    for lazy_name, module_name in _LAZY_NAMES.items():
        module = sys.modules.get(f"{__name__}{module_name}")
        if module is not None and lazy_name not in globals():
            value = getattr(module, lazy_name)
            _present_as_public(value)
            globals()[lazy_name] = value
    return globals()[name]


if not TYPE_CHECKING:  # type checkers see the imports above, and flag misspelt names

    def __getattr__(name: str) -> object:
        if name in _LAZY_NAMES:
            return _load_lazy_name(name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


for _name in __all__:
    if _name not in _LAZY_NAMES:
        _present_as_public(globals()[_name])
del _name
