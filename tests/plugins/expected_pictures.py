"""What the emulator answers for an edit, computed the way it draws one.

JSON edits (references to images) must draw exactly what multipart edits of the same images
draw; the tests of both compare the emulator's answers with this.
"""

from __future__ import annotations

from images_async.testing.pictures import edited_picture, encode_picture


def expected_edit(
    picture: bytes,
    prompt: str,
    width: int,
    height: int,
    *,
    mask: bytes | None,
    count: int = 1,
    quality: str = "high",
) -> bytes:
    """The PNG the emulator answers first for an edit of ``picture`` (an RGBA picture stays
    RGBA) asking for ``count`` images of ``quality``."""
    drawn = edited_picture(picture, prompt, width, height, mask=mask, count=count, quality=quality)
    return encode_picture(drawn, "png")
