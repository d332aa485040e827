"""Per-model parameter rules and the client-side validation built on them.

What each known model accepts comes from the API reference. The checks follow one principle:
reject only what the server is documented to reject. A model this table does not know, and a
value outside the known vocabulary of a parameter, pass through untouched, because a newer
server may accept them. When no model is given, only the rules that hold for every model
apply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import attrs
from yarl import URL

from ._endpoints import EndpointName
from ._errors import InvalidFileError, InvalidRequestError
from ._files import UploadFile, image_labels
from ._image_refs import ImageURL, Reference, data_url_content
from ._imageinfo import inspect_image

QUALITIES = frozenset({"standard", "hd", "low", "medium", "high", "auto"})
STYLES = frozenset({"vivid", "natural"})
BACKGROUNDS = frozenset({"transparent", "opaque", "auto"})
MODERATIONS = frozenset({"low", "auto"})
OUTPUT_FORMATS = frozenset({"png", "jpeg", "webp"})
RESPONSE_FORMATS = frozenset({"url", "b64_json"})
INPUT_FIDELITIES = frozenset({"high", "low"})

#: Parameters that only the GPT image models take.
GPT_ONLY_PARAMS = (
    "background",
    "moderation",
    "output_format",
    "output_compression",
    "partial_images",
    "stream",
)

#: The longest ``image_url`` a reference may carry (the spec's limit): about 15 MB as base64.
MAX_IMAGE_URL_CHARACTERS = 20_971_520
REFERENCE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})

MAX_PROMPT_ANY_MODEL = 32_000
MAX_N = 10
MAX_EDIT_IMAGES = 16
MAX_PARTIAL_IMAGES = 3
DALLE2_MAX_FILE_BYTES = 4 * 1024 * 1024
GPT_MAX_FILE_BYTES = 50 * 1024 * 1024

_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,15}):")
_SIZE_PATTERN = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_DALLE2_SIZES = frozenset({"256x256", "512x512", "1024x1024"})
_DALLE3_SIZES = frozenset({"1024x1024", "1792x1024", "1024x1792"})
_GPT_SIZES = frozenset({"auto", "1024x1024", "1536x1024", "1024x1536"})

# Flexible sizes of gpt-image-2: both edges multiples of 16, aspect ratio within 1:3..3:1,
# at most 3840x2160 worth of pixels and 3840 on the long edge.
_FLEX_EDGE_MULTIPLE = 16
_FLEX_MAX_EDGE = 3840
_FLEX_MAX_PIXELS = 3840 * 2160
_FLEX_MAX_RATIO = 3


@attrs.frozen(kw_only=True)
class ModelRules:
    """What one known model accepts."""

    name: str
    endpoints: frozenset[EndpointName]
    prompt_limit: int
    max_n: int = MAX_N
    sizes: frozenset[str]
    flexible_sizes: bool = False
    qualities: frozenset[str]
    styles: frozenset[str] = frozenset()
    gpt_options: bool = False
    response_format: bool = False
    input_fidelity: bool = False
    max_edit_images: int = 1
    #: dall-e-2's uploads: one square PNG under 4 MB.
    square_png_uploads: bool = False


def _gpt(name: str, *, flexible: bool = False, input_fidelity: bool = True) -> ModelRules:
    return ModelRules(
        name=name,
        endpoints=frozenset({"generate", "edit"}),
        prompt_limit=32_000,
        sizes=_GPT_SIZES,
        flexible_sizes=flexible,
        qualities=frozenset({"low", "medium", "high", "auto"}),
        gpt_options=True,
        input_fidelity=input_fidelity,
        max_edit_images=MAX_EDIT_IMAGES,
    )


KNOWN_MODELS: Mapping[str, ModelRules] = {
    rules.name: rules
    for rules in (
        ModelRules(
            name="dall-e-2",
            endpoints=frozenset({"generate", "edit", "variation"}),
            prompt_limit=1000,
            sizes=_DALLE2_SIZES,
            qualities=frozenset({"standard", "auto"}),
            response_format=True,
            square_png_uploads=True,
        ),
        ModelRules(
            name="dall-e-3",
            endpoints=frozenset({"generate"}),
            prompt_limit=4000,
            max_n=1,
            sizes=_DALLE3_SIZES,
            qualities=frozenset({"standard", "hd", "auto"}),
            styles=STYLES,
            response_format=True,
        ),
        _gpt("gpt-image-1"),
        _gpt("gpt-image-1-mini", input_fidelity=False),
        _gpt("gpt-image-1.5"),
        _gpt("gpt-image-2", flexible=True),
        _gpt("gpt-image-2-2026-04-21", flexible=True),
        _gpt("chatgpt-image-latest"),
    )
}


def given_parameters(**params: object) -> dict[str, object]:
    """The parameters the caller actually passed: None means "not sent"."""
    return {name: value for name, value in params.items() if value is not None}


def _fail(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{param}: {message}", param=param)


def _check_vocabulary(
    params: Mapping[str, object], name: str, vocabulary: frozenset[str], allowed: frozenset[str]
) -> None:
    """Reject a known value the model does not take; unknown values pass through."""
    value = params.get(name)
    if isinstance(value, str) and value in vocabulary and value not in allowed:
        choices = ", ".join(sorted(allowed)) or "none"
        raise _fail(name, f"{value!r} is not accepted by this model (accepted: {choices})")


def check_prompt(params: Mapping[str, object], rules: ModelRules | None) -> None:
    """A prompt is required text; its length limit is the model's.

    Without a model the server picks a known one, so the largest known limit holds; a model
    the table does not know has no known limit, and none is applied.
    """
    prompt = params.get("prompt")
    if prompt is None:
        raise _fail("prompt", "is required")
    if not isinstance(prompt, str):
        raise _fail("prompt", f"must be a string, not {type(prompt).__name__}")
    if not prompt:
        raise _fail("prompt", "must not be empty")
    if rules is None and params.get("model") is not None:
        return
    limit = rules.prompt_limit if rules else MAX_PROMPT_ANY_MODEL
    if len(prompt) > limit:
        model = rules.name if rules else "any model"
        raise _fail("prompt", f"is {len(prompt)} characters; the limit for {model} is {limit}")


def _check_int_range(params: Mapping[str, object], name: str, low: int, high: int) -> None:
    value = params.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, f"must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise _fail(name, f"must be between {low} and {high}, got {value}")


def parse_size(size: str) -> tuple[int, int] | None:
    """``(width, height)`` of a ``WIDTHxHEIGHT`` string, or None for other shapes."""
    match = _SIZE_PATTERN.match(size)
    return (int(match[1]), int(match[2])) if match else None


def _flexible_size_problem(width: int, height: int) -> str | None:
    if not width or not height:
        return "width and height must be at least 1"
    if width % _FLEX_EDGE_MULTIPLE or height % _FLEX_EDGE_MULTIPLE:
        return f"width and height must both be multiples of {_FLEX_EDGE_MULTIPLE}"
    if max(width, height) > _FLEX_MAX_RATIO * min(width, height):
        return f"the aspect ratio must be between 1:{_FLEX_MAX_RATIO} and {_FLEX_MAX_RATIO}:1"
    if max(width, height) > _FLEX_MAX_EDGE or width * height > _FLEX_MAX_PIXELS:
        return "the largest supported resolution is 3840x2160"
    return None


def _check_size(params: Mapping[str, object], rules: ModelRules) -> None:
    size = params.get("size")
    if not isinstance(size, str) or size in rules.sizes:
        return
    dimensions = parse_size(size)
    if dimensions is None and size != "auto":
        return  # a shape of value this client does not know: let the server judge
    if rules.flexible_sizes and dimensions is not None:
        problem = _flexible_size_problem(*dimensions)
        if problem:
            raise _fail("size", f"{size!r} is not accepted by {rules.name}: {problem}")
        return
    choices = ", ".join(sorted(rules.sizes))
    raise _fail("size", f"{size!r} is not accepted by {rules.name} (accepted: {choices})")


def _reject_unsupported(params: Mapping[str, object], rules: ModelRules) -> None:
    unsupported: list[str] = []
    if not rules.gpt_options:
        unsupported += GPT_ONLY_PARAMS
    if not rules.styles:
        unsupported.append("style")
    if not rules.response_format:
        unsupported.append("response_format")
    if not rules.input_fidelity:
        unsupported.append("input_fidelity")
    for name in unsupported:
        # stream=False asks for what every model does anyway, so it is not an error.
        if params.get(name) is not None and not (name == "stream" and params[name] is False):
            raise _fail(name, f"is not supported by {rules.name}")


def _check_model_values(params: Mapping[str, object], rules: ModelRules) -> None:
    _reject_unsupported(params, rules)
    _check_size(params, rules)
    _check_vocabulary(params, "quality", QUALITIES, rules.qualities)
    _check_vocabulary(params, "style", STYLES, rules.styles)
    n = params.get("n")
    if isinstance(n, int) and n > rules.max_n:  # the type and 1..10 were checked before
        limit = "only supports n=1" if rules.max_n == 1 else f"supports n up to {rules.max_n}"
        raise _fail("n", f"{rules.name} {limit}, got {n}")
    if rules.gpt_options:
        _check_output_options(params)


def _check_output_options(params: Mapping[str, object]) -> None:
    """Combinations the GPT image models document as invalid."""
    output_format = params.get("output_format")
    if params.get("output_compression") is not None and output_format == "png":
        raise _fail("output_compression", "only applies to the jpeg and webp output formats")
    if params.get("background") == "transparent" and output_format == "jpeg":
        raise _fail("background", "a transparent background needs output_format png or webp")


def _check_common(params: Mapping[str, object]) -> None:
    """Rules that hold whatever the model."""
    _check_int_range(params, "n", 1, MAX_N)
    _check_int_range(params, "output_compression", 0, 100)
    _check_int_range(params, "partial_images", 0, MAX_PARTIAL_IMAGES)
    stream = params.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _fail("stream", f"must be a bool, not {type(stream).__name__}")


def rules_for(model: object, endpoint: EndpointName) -> ModelRules | None:
    """The rules of a known model, after checking it serves ``endpoint``; None if unknown."""
    if model is None:
        return None
    if not isinstance(model, str):
        raise _fail("model", f"must be a string, not {type(model).__name__}")
    if not model:
        raise _fail("model", "must not be empty")
    rules = KNOWN_MODELS.get(model)
    if rules is not None and endpoint not in rules.endpoints:
        served = ", ".join(m.name for m in KNOWN_MODELS.values() if endpoint in m.endpoints)
        raise _fail("model", f"{model} does not support {endpoint} requests (models: {served})")
    return rules


def validate_generate(params: Mapping[str, object]) -> None:
    """Check the parameters of a generation request."""
    rules = rules_for(params.get("model"), "generate")
    check_prompt(params, rules)
    _check_common(params)
    if rules:
        _check_model_values(params, rules)


def _check_upload_type(upload: UploadFile, param: str, *, png_only: bool) -> None:
    if upload.info is None:
        kinds = "a PNG" if png_only else "a PNG, JPEG or WEBP image"
        raise InvalidFileError(f"{param}: {upload.filename!r} is not {kinds}", param=param)
    if png_only and upload.info.format != "png":
        raise InvalidFileError(
            f"{param}: {upload.filename!r} is a {upload.info.format.upper()}; a PNG is required",
            param=param,
        )
    if upload.info.width is None or upload.info.height is None:
        raise InvalidFileError(
            f"{param}: {upload.filename!r} has a damaged {upload.info.format.upper()} header",
            param=param,
        )


def _check_upload_size(upload: UploadFile, param: str, limit: int) -> None:
    if len(upload.content) >= limit:
        raise InvalidFileError(
            f"{param}: {upload.filename!r} is {len(upload.content):,} bytes; "
            f"it must be smaller than {limit // (1024 * 1024)} MB",
            param=param,
        )


def _check_square_png(upload: UploadFile, param: str) -> None:
    _check_upload_type(upload, param, png_only=True)
    _check_upload_size(upload, param, DALLE2_MAX_FILE_BYTES)
    assert upload.info is not None  # checked just above
    if not upload.info.is_square:
        raise InvalidFileError(
            f"{param}: {upload.filename!r} is {upload.info.width}x{upload.info.height}; "
            "it must be square",
            param=param,
        )


def _check_mask_file(mask: UploadFile) -> None:
    _check_upload_type(mask, "mask", png_only=True)
    _check_upload_size(mask, "mask", DALLE2_MAX_FILE_BYTES)


def _check_mask(mask: UploadFile, image: UploadFile) -> None:
    _check_mask_file(mask)
    assert mask.info is not None
    assert image.info is not None
    mask_size = (mask.info.width, mask.info.height)
    image_size = (image.info.width, image.info.height)
    if mask_size != image_size:
        raise InvalidFileError(
            f"mask: {mask.filename!r} is {mask_size[0]}x{mask_size[1]} but the image "
            f"{image.filename!r} is {image_size[0]}x{image_size[1]}; they must match",
            param="mask",
        )


def validate_edit_parameters(params: Mapping[str, object]) -> ModelRules | None:
    """Check what an edit request says besides its files; returns the model's rules."""
    rules = rules_for(params.get("model"), "edit")
    check_prompt(params, rules)
    _check_common(params)
    if rules:
        _check_model_values(params, rules)
    return rules


def validate_edit(
    params: Mapping[str, object], images: Sequence[UploadFile], mask: UploadFile | None
) -> None:
    """Check the parameters and uploads of an edit request."""
    model = params.get("model")
    rules = validate_edit_parameters(params)
    _check_image_count(len(images), rules)
    if model is not None and rules is None:
        return  # an unknown model: its upload rules are unknown too
    names = image_labels(len(images))
    for upload, name in zip(images, names, strict=True):
        if rules and rules.square_png_uploads:
            _check_square_png(upload, name)
        else:
            _check_upload_type(upload, name, png_only=False)
            _check_upload_size(upload, name, GPT_MAX_FILE_BYTES)
    if mask is not None:
        _check_mask(mask, images[0])
    elif (
        rules and rules.square_png_uploads and images[0].info and images[0].info.has_alpha is False
    ):
        raise InvalidFileError(
            f"image: {images[0].filename!r} has no transparency; without a mask dall-e-2 "
            "edits the transparent area of the image, so give a mask or an image with alpha",
            param="image",
        )


def _check_image_count(count: int, rules: ModelRules | None) -> None:
    if not count:
        raise _fail("image", "at least one image is required")
    max_images = rules.max_edit_images if rules else MAX_EDIT_IMAGES
    if count > max_images:
        model_name = rules.name if rules else "any model"
        raise _fail("image", f"{count} images given; {model_name} takes at most {max_images}")


def validate_reference_edit(
    params: Mapping[str, object], images: Sequence[Reference], mask: Reference | None
) -> None:
    """Check an edit whose images and mask are references (the JSON form of the call).

    Only the GPT image models take references; a model this client does not know passes, and
    so do its images' contents (as its uploads would), but not a malformed reference.
    """
    model = params.get("model")
    rules = validate_edit_parameters(params)
    if rules is not None and not rules.gpt_options:
        raise _fail(
            "model",
            f"{rules.name} cannot edit images given by reference (image_url or file_id); "
            "pass the images as local files, or use a GPT image model",
        )
    if model is None and params.get("response_format") is not None:
        raise _fail(
            "response_format",
            "is not part of an edit by reference: its GPT image models always return b64_json",
        )
    _check_image_count(len(images), rules)
    check_content = model is None or rules is not None
    labels = image_labels(len(images))
    decoded = [
        _checked_reference(reference, label, check_content)
        for reference, label in zip(images, labels, strict=True)
    ]
    if mask is None:
        return
    decoded_mask = _checked_reference(mask, "mask", check_content)
    if check_content and decoded_mask is not None:
        if decoded[0] is not None:
            _check_mask(decoded_mask, decoded[0])
        else:
            _check_mask_file(decoded_mask)


def _scheme_of(url: str) -> str:
    """What a message may say of a URL it rejects: its scheme, never the rest (which can
    hold credentials)."""
    match = _URL_SCHEME.match(url)
    return f"a {match[1]!r} URL" if match else "a URL without a scheme"


def _is_https_url(url: str) -> bool:
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return parsed.scheme == "https" and bool(parsed.host)


def _checked_reference(reference: Reference, label: str, check_content: bool) -> UploadFile | None:
    """Check one reference; a data URL's image comes back as an upload, to compare with others.

    The bytes of a data URL are checked as an uploaded file's would be (when
    ``check_content``): what the server reads is the same image either way.
    """
    if not isinstance(reference, ImageURL):
        if not reference.id:
            raise _fail(label, "the file_id must not be empty")
        return None
    url = reference.url
    if len(url) > MAX_IMAGE_URL_CHARACTERS:
        raise InvalidFileError(
            f"{label}: the image_url is {len(url):,} characters; the limit is "
            f"{MAX_IMAGE_URL_CHARACTERS:,} (upload a larger image and pass its FileID)",
            param=label,
        )
    data = data_url_content(url, label)
    if data is None:
        if not _is_https_url(url):
            raise InvalidFileError(
                f"{label}: an image_url must be an https URL or a base64 data URL "
                f"(ImageURL.from_bytes makes one), not {_scheme_of(url)}",
                param=label,
            )
        return None
    if data.media_type not in REFERENCE_MEDIA_TYPES:
        kinds = ", ".join(sorted(REFERENCE_MEDIA_TYPES))
        raise InvalidFileError(
            f"{label}: a data URL of {data.media_type or 'no media type'!r}; it must be one of "
            f"{kinds}",
            param=label,
        )
    upload = UploadFile(
        filename="data URL",
        content=data.content,
        content_type=data.media_type,
        info=inspect_image(data.content),
    )
    if check_content:
        _check_upload_type(upload, label, png_only=False)
        _check_upload_size(upload, label, GPT_MAX_FILE_BYTES)
        assert upload.info is not None  # checked just above
        if upload.info.content_type != data.media_type:
            raise InvalidFileError(
                f"{label}: the data URL says {data.media_type} but holds a "
                f"{upload.info.format.upper()} image",
                param=label,
            )
    return upload


def validate_variation_parameters(params: Mapping[str, object]) -> bool:
    """Check what a variation request says besides its file; False for an unknown model."""
    model = params.get("model")
    rules = rules_for(model, "variation")
    _check_common(params)
    if model is not None and rules is None:
        return False
    _check_model_values(params, rules or KNOWN_MODELS["dall-e-2"])
    return True


def validate_variation(params: Mapping[str, object], image: UploadFile) -> None:
    """Check the parameters and upload of a variation request."""
    if validate_variation_parameters(params):
        _check_square_png(image, "image")
