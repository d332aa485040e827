"""The fixed images and response bodies of the benchmark, built the same way on every run.

Three ``ImagesResponse`` bodies in the shape a GPT image model answers with: ``small`` carries
an 8x8 PNG (100 base64 characters), ``large`` a 1024x1024 RGB PNG of about 1.1 MB (about
1.5 MB of base64), like a real ``gpt-image-1`` answer, and ``save`` ten 8 MB PNGs in one
response (about 112 MB of JSON). The batch scenario's output file is ``BATCH_LINES`` lines,
each a ``large`` body (about 300 MB in all). The upload scenario sends a 3.5 MB square PNG.
Every PNG is a real, decodable image made of random pixels, so it does not compress.
"""

from __future__ import annotations

import base64
import json
import random

from images_async.testing.sample_images import png_from_rows, solid_png

#: Which body a generate request gets is chosen by a word in its prompt (the server only
#: searches the raw request body for it, so every client sends the same kind of request).
LARGE_MARKER = "large"
SAVE_MARKER = "tenfold"
#: A batch worker retrieves the batch its prompt names: the large one with this word.
BATCH_MARKER = "offloaded"
SMALL_PROMPT = "small: a sea otter in a beret"
LARGE_PROMPT = f"{LARGE_MARKER}: a sea otter in a beret"
SAVE_PROMPT = f"{SAVE_MARKER}: a sea otter in a beret"
EDIT_PROMPT = "put a beret on the sea otter"
BATCH_PROMPT = f"{BATCH_MARKER}: a sea otter in a beret"

#: Lines of the large batch's output file (each a ``large`` body); the small batch has one
#: line of the ``small`` body.
BATCH_LINES = 200

#: Images in the ``save`` response (``n=10``).
SAVE_IMAGES = 10
_LARGE_SIDE = 1024
_RGB = 3
#: Random bytes per row of the large image (the rest is zeros): tuned so the PNG compresses
#: to about 1.1 MB, the size of a real 1024x1024 answer.
_RANDOM_BYTES_PER_ROW = 1100
#: Square RGB images of random pixels: 1672 x 1672 x 3 is 8.0 MiB, 1080 x 1080 x 3 is 3.5 MB.
_SAVE_SIDE = 1672
_UPLOAD_SIDE = 1080


def small_png() -> bytes:
    """A tiny PNG: 8x8 pixels of one colour."""
    return solid_png(8, 8)


def large_png() -> bytes:
    """A 1024x1024 PNG that does not compress well, about 1.1 MB."""
    rng = random.Random(_LARGE_SIDE)
    padding = bytes(_LARGE_SIDE * _RGB - _RANDOM_BYTES_PER_ROW)
    rows = [rng.randbytes(_RANDOM_BYTES_PER_ROW) + padding for _ in range(_LARGE_SIDE)]
    return png_from_rows(_LARGE_SIDE, _LARGE_SIDE, rows, alpha=False)


def _noise_png(side: int) -> bytes:
    """A square RGB PNG of random pixels: its size is about ``side * side * 3`` bytes."""
    rng = random.Random(side)
    return png_from_rows(side, side, (rng.randbytes(side * _RGB) for _ in range(side)), alpha=False)


def save_png() -> bytes:
    """One image of the ``save`` response: 8 MB of PNG that does not compress."""
    return _noise_png(_SAVE_SIDE)


def upload_png() -> bytes:
    """The image every edit uploads: a 3.5 MB square PNG that does not compress."""
    return _noise_png(_UPLOAD_SIDE)


def b64_length(size: int) -> int:
    """How many base64 characters encode ``size`` bytes."""
    return 4 * ((size + 2) // 3)


def images_response_body(png: bytes, count: int = 1) -> bytes:
    """A compact JSON ``ImagesResponse`` with ``count`` copies of one ``b64_json`` image."""
    encoded = base64.b64encode(png).decode("ascii")
    document = {
        "created": 1_764_028_800,
        "data": [{"b64_json": encoded} for _ in range(count)],
        "background": "opaque",
        "output_format": "png",
        "quality": "low",
        "size": "1024x1024",
        "usage": {
            "input_tokens": 12,
            "output_tokens": 272 * count,
            "total_tokens": 12 + 272 * count,
            "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
            "output_tokens_details": {"image_tokens": 272 * count, "text_tokens": 0},
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def batch_id_for(prompt: str) -> str:
    """The batch a batch worker retrieves for ``prompt``: ``batch_large`` or ``batch_small``."""
    return "batch_large" if BATCH_MARKER in prompt else "batch_small"


def batch_input_line(index: int) -> bytes:
    """One line of a batch input file (a ``BatchRequestInput``)."""
    body = {"model": "gpt-image-1", "prompt": f"a sea otter in a beret, take {index}"}
    line = {
        "custom_id": f"request-{index}",
        "method": "POST",
        "url": "/v1/images/generations",
        "body": body,
    }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def batch_output_line(index: int, body: bytes) -> list[bytes]:
    """One line of a batch output file answering request ``index`` with ``body``, in
    pieces (so the server never joins a line: ``body`` is sent as it is)."""
    head = (
        f'{{"id":"batch_req_{index}","custom_id":"request-{index}",'
        f'"response":{{"status_code":200,"request_id":"req_{index}","body":'
    )
    return [head.encode(), body, b'},"error":null}\n']
