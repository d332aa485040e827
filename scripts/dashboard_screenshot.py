"""Take the screenshot of the emulator's live page that the docs show.

It serves an emulator with its page on, makes a handful of varied calls (generations with
base64 and with URLs, a download, two injected faults, an edit, a variation, a stream, one
finished batch and one still running), opens the page in headless Chromium with the same
driver as the tests (``tests/plugins/browser.py``) and saves a 1200x800 PNG.

Usage::

    python scripts/dashboard_screenshot.py [--output docs/images/dashboard.png]

Run it again when the page or the emulator's pictures change; review the new picture like
any other change. It needs Chromium on PATH (``chromium``, ``chromium-browser`` or
``google-chrome``) and the ``testing`` extra (Pillow).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from PIL import Image

from images_async import APIStatusError, AsyncImages
from images_async.testing import Emulator, EmulatorConfig, FaultPlan

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "images" / "dashboard.png"
# The browser driver lives with the tests, which use it too.
sys.path.insert(0, str(ROOT / "tests"))
from plugins.browser import find_browser, headless_browser  # noqa: E402 (needs the path)

API_KEY = "sk-screenshot-0123456789abcdef"
GENERATIONS = "/v1/images/generations"
WIDTH, HEIGHT = 1200, 800
#: Upper bound of the wait for the finished batch, in seconds.
BATCH_SECONDS = 30.0


def _photo() -> bytes:
    image = Image.new("RGB", (256, 256), (70, 120, 180))
    image.paste((235, 190, 60), (0, 160, 256, 256))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def _batch(emulator: Emulator, http: aiohttp.ClientSession, prompts: Sequence[str]) -> str:
    """Start a batch of generations of ``prompts`` (the last one refused); its id."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    bodies: list[dict[str, object]] = [
        {"model": "gpt-image-1", "prompt": prompt, "quality": "low"} for prompt in prompts
    ]
    bodies[-1] = {"model": "dall-e-3", "prompt": prompts[-1], "n": 3}  # dall-e-3 draws one
    lines = [
        {"custom_id": f"{i}", "method": "POST", "url": GENERATIONS, "body": body}
        for i, body in enumerate(bodies)
    ]
    form = aiohttp.FormData()
    form.add_field("purpose", "batch")
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    form.add_field("file", content, filename="jobs.jsonl", content_type="application/jsonl")
    async with http.post(f"{emulator.base_url}/files", data=form, headers=headers) as answer:
        file_id = (await answer.json())["id"]
    create = {"input_file_id": file_id, "endpoint": GENERATIONS, "completion_window": "24h"}
    async with http.post(f"{emulator.base_url}/batches", json=create, headers=headers) as answer:
        batch_id: str = (await answer.json())["id"]
    return batch_id


async def _wait(emulator: Emulator, http: aiohttp.ClientSession, batch_id: str) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for _ in range(round(BATCH_SECONDS / 0.5)):
        await asyncio.sleep(0.5)  # a few polls only: each is a row on the page
        async with http.get(f"{emulator.base_url}/batches/{batch_id}", headers=headers) as answer:
            if (await answer.json())["status"] == "completed":
                return
    raise RuntimeError(f"the batch {batch_id} did not finish in {BATCH_SECONDS} s")


async def make_calls(emulator: Emulator, images: AsyncImages, http: aiohttp.ClientSession) -> None:
    """The calls the screenshot shows, oldest first."""
    await _wait(emulator, http, await _batch(emulator, http, ["a red kite", "a blue boat", "x"]))
    await images.generate(prompt="a lighthouse at dusk", model="gpt-image-1", quality="low")
    response = await images.generate(
        prompt="a paper crane", model="dall-e-2", n=2, size="256x256", response_format="url"
    )
    async with http.get(str(response.data[0].url)) as download:
        await download.read()
    emulator.config.faults = FaultPlan.scripted("429", "500")
    for _ in range(2):
        with contextlib.suppress(APIStatusError):  # the faults asked for
            await images.generate(prompt="a storm at sea", model="gpt-image-1", size="1536x1024")
    emulator.config.faults = None
    await images.edit(image=("photo.png", _photo()), prompt="add a moon", model="gpt-image-1")
    await images.create_variation(image=("photo.png", _photo()), n=3, size="256x256")
    stream = await images.generate(
        prompt="a fox in the snow", model="gpt-image-1", stream=True, partial_images=2
    )
    async with stream:
        async for _event in stream:
            pass
    emulator.config.batch_lines_per_second = 0.2  # the second batch is still running
    await _batch(emulator, http, ["a green hill", "an orange sun", "a grey cat", "y"])
    await asyncio.sleep(6)  # long enough for a line or so to finish


async def take() -> bytes:
    """Make the calls, load the page in Chromium and return its screenshot (a PNG)."""
    executable = find_browser()
    if executable is None:
        raise SystemExit("no chromium, chromium-browser or google-chrome on PATH")
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), dashboard=True)
    async with (
        Emulator(config) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images,
        aiohttp.ClientSession() as http,
    ):
        await make_calls(emulator, images, http)
        async with headless_browser(executable) as browser:
            page = await browser.new_page(width=WIDTH, height=HEIGHT)
            await page.goto(emulator.dashboard_url)
            await page.wait_for("[...document.images].every(i => i.complete && i.naturalWidth)")
            await page.wait_for("document.getElementById('state').textContent !== 'live'")
            return await page.screenshot()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    screenshot = asyncio.run(take())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(screenshot)
    print(f"{args.output}: {WIDTH}x{HEIGHT}, {len(screenshot)} bytes")


if __name__ == "__main__":
    main()
