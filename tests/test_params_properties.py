"""Property tests of the validators in images_async._params, called as pure functions.

Each property states a rule from the API reference over a whole range of inputs, on both
sides of its boundary, so a validator that rejects too much fails as surely as one that
rejects too little.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from images_async import InvalidRequestError
from images_async._files import UploadFile
from images_async._imageinfo import inspect_image
from images_async._params import (
    KNOWN_MODELS,
    validate_edit,
    validate_generate,
    validate_variation,
)
from images_async.testing.sample_images import jpeg_header_bytes, solid_png, webp_header_bytes

fast = settings(max_examples=100, deadline=None)

GPT_MODELS = sorted(name for name, rules in KNOWN_MODELS.items() if rules.gpt_options)
FLEXIBLE_MODELS = ("gpt-image-2", "gpt-image-2-2026-04-21")
MODEL_ENDPOINTS = sorted(
    (name, endpoint)
    for name, rules in KNOWN_MODELS.items()
    for endpoint in rules.endpoints
    if endpoint != "variation"  # variations take no prompt
)
DOCUMENTED_PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
GPT_PROMPT_LIMIT = 32_000
MAX_RATIO = 3
MAX_EDGE = 3840
MAX_PIXELS = 3840 * 2160


def upload(content: bytes, filename: str = "image") -> UploadFile:
    """An upload as the client builds it: the bytes and what their header says."""
    info = inspect_image(content)
    content_type = info.content_type if info else "application/octet-stream"
    return UploadFile(filename=filename, content=content, content_type=content_type, info=info)


SQUARE_PNG = upload(solid_png(16, 16))


def rejection(call: Callable[..., None], *args: object) -> InvalidRequestError | None:
    """Call a validator; the error it raised, or None when it passes."""
    try:
        call(*args)
    except InvalidRequestError as error:
        return error
    return None


def param_of(call: Callable[..., None], *args: object) -> str | None:
    """Call a validator; the rejected parameter's name, or None when it passes."""
    error = rejection(call, *args)
    return None if error is None else error.param


def validate(endpoint: str, params: Mapping[str, object], images: Sequence[UploadFile]) -> None:
    if endpoint == "generate":
        validate_generate(params)
    elif endpoint == "edit":
        validate_edit(params, images, None)
    else:
        validate_variation(params, images[0])


def prompt_limit(model: str) -> int:
    return DOCUMENTED_PROMPT_LIMITS.get(model, GPT_PROMPT_LIMIT)


def test_limits_table_covers_every_known_model() -> None:
    """The properties below use the documented limits; check they speak of the same models."""
    assert {m for m in KNOWN_MODELS if m not in DOCUMENTED_PROMPT_LIMITS} == set(GPT_MODELS)
    assert set(FLEXIBLE_MODELS) == {m for m, rules in KNOWN_MODELS.items() if rules.flexible_sizes}


# --- n -------------------------------------------------------------------------------------


@fast
@given(n=st.integers(1, 10), endpoint=st.sampled_from(["generate", "edit"]))
def test_any_n_from_1_to_10_passes_gpt_image_1(n: int, endpoint: str) -> None:
    validate(endpoint, {"prompt": "p", "model": "gpt-image-1", "n": n}, [SQUARE_PNG])


@fast
@given(
    n=st.integers().filter(lambda n: not 1 <= n <= 10),
    model=st.sampled_from([None, "gpt-image-1", "dall-e-2", "gpt-image-9"]),
    endpoint=st.sampled_from(["generate", "edit", "variation"]),
)
def test_any_n_outside_1_to_10_fails_on_n(n: int, model: str | None, endpoint: str) -> None:
    assume(not (endpoint == "variation" and model == "gpt-image-1"))
    params = {"prompt": "p", "n": n, **({"model": model} if model else {})}
    assert param_of(validate, endpoint, params, [SQUARE_PNG]) == "n"


@fast
@given(n=st.integers(-5, 20))
def test_dall_e_3_takes_only_n_1(n: int) -> None:
    rejected = param_of(validate_generate, {"prompt": "p", "model": "dall-e-3", "n": n})
    assert rejected == (None if n == 1 else "n")


# --- prompt --------------------------------------------------------------------------------


@fast
@given(model_endpoint=st.sampled_from(MODEL_ENDPOINTS), data=st.data())
def test_any_prompt_up_to_the_limit_passes(
    model_endpoint: tuple[str, str], data: st.DataObject
) -> None:
    model, endpoint = model_endpoint
    length = data.draw(st.integers(1, prompt_limit(model)), label="length")
    char = data.draw(st.characters(), label="char")
    validate(endpoint, {"prompt": char * length, "model": model}, [SQUARE_PNG])


@pytest.mark.parametrize(("model", "endpoint"), MODEL_ENDPOINTS)
def test_a_prompt_one_over_the_limit_fails(model: str, endpoint: str) -> None:
    params = {"prompt": "x" * (prompt_limit(model) + 1), "model": model}
    assert param_of(validate, endpoint, params, [SQUARE_PNG]) == "prompt"


@fast
@given(length=st.integers(1, GPT_PROMPT_LIMIT + 1), endpoint=st.sampled_from(["generate", "edit"]))
def test_without_a_model_only_the_largest_prompt_limit_applies(length: int, endpoint: str) -> None:
    rejected = param_of(validate, endpoint, {"prompt": "x" * length}, [SQUARE_PNG])
    assert rejected == (None if length <= GPT_PROMPT_LIMIT else "prompt")


# --- unknown models ------------------------------------------------------------------------

STRING_PARAMS = (
    "size",
    "quality",
    "style",
    "response_format",
    "background",
    "moderation",
    "output_format",
    "input_fidelity",
    "user",
)
KNOWN_VALUES = (
    "auto", "1024x1024", "1792x1024", "512x512", "1000x1000", "4096x4096", "0x0", "hd",
    "standard", "high", "ultra", "vivid", "natural", "url", "b64_json", "transparent",
    "opaque", "low", "png", "jpeg", "webp", "gif", "",
)  # fmt: skip
string_values = st.sampled_from(KNOWN_VALUES) | st.text(max_size=12)
unknown_models = st.text(min_size=1, max_size=30).filter(lambda m: m not in KNOWN_MODELS)
any_bytes = st.sampled_from(
    [
        solid_png(16, 8, alpha=False),
        jpeg_header_bytes(30, 20),
        webp_header_bytes(64, 48, alpha=True),
        b"not an image",
    ]
) | st.binary(min_size=1, max_size=64)


@fast
@example(
    model="gpt-image-9",
    values={"background": "transparent", "output_format": "jpeg"},
    endpoint="variation",
    files=[b"?"],
    mask=None,
)
@given(
    model=unknown_models,
    values=st.dictionaries(st.sampled_from(STRING_PARAMS), string_values),
    endpoint=st.sampled_from(["generate", "edit", "variation"]),
    files=st.lists(any_bytes, min_size=1, max_size=16),
    mask=st.none() | any_bytes,
)
def test_unknown_models_are_never_blocked(
    model: str,
    values: dict[str, str],
    endpoint: str,
    files: list[bytes],
    mask: bytes | None,
) -> None:
    """Whatever the strings and files, a model this client does not know is never blocked."""
    params = {"prompt": "p", "model": model, **values}
    uploads = [upload(content) for content in files]
    if endpoint == "edit":
        error = rejection(validate_edit, params, uploads, None if mask is None else upload(mask))
    else:
        error = rejection(validate, endpoint, params, uploads)
    assert error is None, str(error)


@fast
@example(model="gpt-image-9", length=GPT_PROMPT_LIMIT + 1, endpoint="generate")
@example(model="dall-e-4", length=DOCUMENTED_PROMPT_LIMITS["dall-e-2"] + 1, endpoint="edit")
@given(
    model=unknown_models,
    length=st.integers(1, 4 * GPT_PROMPT_LIMIT),
    endpoint=st.sampled_from(["generate", "edit"]),
)
def test_unknown_models_have_no_prompt_limit(model: str, length: int, endpoint: str) -> None:
    """The documented limits are per model: for a model not in the table none is known."""
    error = rejection(validate, endpoint, {"prompt": "x" * length, "model": model}, [SQUARE_PNG])
    assert error is None, str(error)


# --- sizes ---------------------------------------------------------------------------------


def flexible_size_ok(width: int, height: int) -> bool:
    """gpt-image-2's documented size rule, written independently of the validator."""
    return (
        width > 0
        and height > 0
        and width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= MAX_RATIO * min(width, height)
        and max(width, height) <= MAX_EDGE
        and width * height <= MAX_PIXELS
    )


@st.composite
def sizes_in_the_documented_box(draw: st.DrawFn) -> tuple[int, int]:
    """Multiples of 16, ratio at most 3, within 3840x2160 in either orientation."""
    long_edge = draw(st.integers(1, MAX_EDGE // 16)) * 16
    shortest = -(-long_edge // (MAX_RATIO * 16))  # in units of 16, rounded up
    short_edge = draw(st.integers(shortest, min(long_edge, 2160) // 16)) * 16
    return (long_edge, short_edge) if draw(st.booleans()) else (short_edge, long_edge)


@fast
@given(
    size=sizes_in_the_documented_box(),
    model=st.sampled_from(FLEXIBLE_MODELS),
    endpoint=st.sampled_from(["generate", "edit"]),
)
def test_any_documented_flexible_size_passes(
    size: tuple[int, int], model: str, endpoint: str
) -> None:
    width, height = size
    assert flexible_size_ok(width, height)  # the strategy itself stays honest
    validate(endpoint, {"prompt": "p", "model": model, "size": f"{width}x{height}"}, [SQUARE_PNG])


@fast
@given(
    width=st.integers(0, 5000) | st.integers(0, 300).map(lambda k: k * 16),
    height=st.integers(0, 5000) | st.integers(0, 300).map(lambda k: k * 16),
)
def test_gpt_image_2_accepts_a_size_exactly_when_the_rule_allows_it(
    width: int, height: int
) -> None:
    params = {"prompt": "p", "model": "gpt-image-2", "size": f"{width}x{height}"}
    assert param_of(validate_generate, params) == (
        None if flexible_size_ok(width, height) else "size"
    )


LISTED_SIZES = sorted({size for rules in KNOWN_MODELS.values() for size in rules.sizes})


@fast
@given(
    model=st.sampled_from([m for m in KNOWN_MODELS if m not in FLEXIBLE_MODELS]),
    size=st.sampled_from(LISTED_SIZES)
    | st.builds("{}x{}".format, st.integers(0, 4000), st.integers(0, 4000)),
)
def test_fixed_size_models_take_only_their_listed_sizes(model: str, size: str) -> None:
    rejected = param_of(validate_generate, {"prompt": "p", "model": model, "size": size})
    assert rejected == (None if size in KNOWN_MODELS[model].sizes else "size")


# --- uploads -------------------------------------------------------------------------------


@fast
@given(width=st.integers(1, 48), height=st.integers(1, 48), alpha=st.booleans())
def test_variations_take_exactly_the_square_pngs(width: int, height: int, alpha: bool) -> None:
    image = upload(solid_png(width, height, alpha=alpha))
    assert param_of(validate_variation, {}, image) == (None if width == height else "image")


@fast
@given(width=st.integers(1, 2000), height=st.integers(1, 2000))
def test_variations_refuse_every_jpeg_and_webp(width: int, height: int) -> None:
    for content in (jpeg_header_bytes(width, height), webp_header_bytes(width, height, alpha=True)):
        assert param_of(validate_variation, {"model": "dall-e-2"}, upload(content)) == "image"


@fast
@given(
    count=st.integers(1, 20),
    model=st.sampled_from(GPT_MODELS),
    mask_matches=st.booleans(),
)
def test_gpt_edits_take_up_to_16_images_and_a_mask_of_the_first_ones_size(
    count: int, model: str, mask_matches: bool
) -> None:
    images = [upload(jpeg_header_bytes(64, 48)), *[SQUARE_PNG] * (count - 1)]
    mask = upload(solid_png(64, 48) if mask_matches else solid_png(16, 16))
    expected = "image" if count > 16 else None if mask_matches else "mask"
    assert param_of(validate_edit, {"prompt": "p", "model": model}, images, mask) == expected


@fast
@given(
    image_size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    mask_size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    kind=st.sampled_from(["png", "jpeg", "webp"]),
    model=st.sampled_from([None, "gpt-image-1", "gpt-image-2"]),
)
def test_a_mask_must_have_the_first_images_exact_size(
    image_size: tuple[int, int], mask_size: tuple[int, int], kind: str, model: str | None
) -> None:
    width, height = image_size
    first = {
        "png": solid_png(width, height),
        "jpeg": jpeg_header_bytes(width, height),
        "webp": webp_header_bytes(width, height, alpha=False),
    }[kind]
    mask = upload(solid_png(*mask_size, (0, 0, 0, 0)))
    params = {"prompt": "p", **({"model": model} if model else {})}
    expected = None if image_size == mask_size else "mask"
    assert param_of(validate_edit, params, [upload(first), SQUARE_PNG], mask) == expected
