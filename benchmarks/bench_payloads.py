"""The fixed response bodies the benchmark server sends, built the same way on every run.

Two ``ImagesResponse`` bodies in the shape a GPT image model answers with: ``small`` carries
an 8x8 PNG (100 base64 characters), ``large`` a 1024x1024 RGB PNG of about 1.1 MB (about
1.5 MB of base64), like a real ``gpt-image-1`` answer. The PNGs are real, decodable images.
"""

from __future__ import annotations

import base64
import json
import random

from images_async.testing.png_codec import encode_png, solid_png

#: Which body a request gets is chosen by this word in its prompt (the server only
#: searches the raw request body for it, so every client sends the same kind of request).
LARGE_MARKER = "large"
SMALL_PROMPT = "small: a sea otter in a beret"
LARGE_PROMPT = f"{LARGE_MARKER}: a sea otter in a beret"

_LARGE_SIDE = 1024
_RGB = 3
#: Random bytes per row (the rest is zeros): tuned so the PNG compresses to about 1.1 MB.
_RANDOM_BYTES_PER_ROW = 1100


def small_png() -> bytes:
    """A tiny PNG: 8x8 pixels of one colour."""
    return solid_png(8, 8)


def large_png() -> bytes:
    """A 1024x1024 PNG that does not compress well, about 1.1 MB."""
    rng = random.Random(_LARGE_SIDE)
    padding = bytes(_LARGE_SIDE * _RGB - _RANDOM_BYTES_PER_ROW)
    rows = [rng.randbytes(_RANDOM_BYTES_PER_ROW) + padding for _ in range(_LARGE_SIDE)]
    return encode_png(_LARGE_SIDE, _LARGE_SIDE, rows, alpha=False)


def images_response_body(png: bytes) -> bytes:
    """A compact JSON ``ImagesResponse`` with one ``b64_json`` image, as the API sends it."""
    document = {
        "created": 1_764_028_800,
        "data": [{"b64_json": base64.b64encode(png).decode("ascii")}],
        "background": "opaque",
        "output_format": "png",
        "quality": "low",
        "size": "1024x1024",
        "usage": {
            "input_tokens": 12,
            "output_tokens": 272,
            "total_tokens": 284,
            "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
            "output_tokens_details": {"image_tokens": 272, "text_tokens": 0},
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()
