"""The emulator's live page (``GET /`` with ``EmulatorConfig(dashboard=True)``).

Plain HTTP tests read the page and its live fragment as HTML: the rows (newest first, what
each call was and how it ended), the escaping of what requests sent, the absence of the
key, the thumbnails and their bounds, the batches' progress, and ``images-async serve``
printing the page's address. One test loads the page in a headless Chromium (driven by
``plugins.browser``): the rows, the thumbnails rendered, the key nowhere in the DOM, an
update without reload, and a screenshot. Without a browser it is skipped, except under CI
(``CI`` set), where it fails.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from plugins.browser import Browser, find_browser, headless_browser

from images_async import AsyncImages, BadRequestError, InternalServerError
from images_async.testing import Emulator, EmulatorConfig, FaultPlan
from images_async.testing._dashboard import KEPT_CALLS, LIVE_PATH, Thumbnails, shrink
from images_async.testing.sample_images import ImageFormat, encoded_image

API_KEY = "sk-dashboard-secret-0123456789-KEYTAIL"
HOSTILE_PROMPT = "<script>alert(1)</script> \"double\" 'single' & <img src=x onerror=alert(2)>"
GENERATIONS = "/v1/images/generations"
#: Upper bound of any wait here (a batch to finish, a child process to answer), in seconds.
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.02


class _Rows(HTMLParser):
    """The rows of the page's tables: each cell's text by its class, the thumbnails' sources
    (``thumbnails``) and the progress bar's value and maximum (``bar``)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self._cell: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "tr" and (found.get("class") or "").split()[:1] in (["call"], ["batch"]):
            self.rows.append({"kind": (found["class"] or "").split()[0], "thumbnails": []})
        elif tag == "td" and self.rows:
            self._cell = found.get("class")
            if self._cell:
                self.rows[-1][self._cell] = ""
        elif tag == "img" and self.rows:
            self.rows[-1]["thumbnails"].append(found["src"])
        elif tag == "progress" and self.rows:
            self.rows[-1]["bar"] = (found.get("value"), found.get("max"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell and self.rows:
            self.rows[-1][self._cell] += data


def rows_of(page: str, kind: str = "call") -> list[dict[str, Any]]:
    parser = _Rows()
    parser.feed(page)
    return [row for row in parser.rows if row["kind"] == kind]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), dashboard=True)
    async with Emulator(config) as started:
        yield started


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[AsyncImages]:
    async with AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images:
        yield images


async def get_text(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as response:
        assert response.status == 200, url
        return await response.text()


async def live(emulator: Emulator, http: aiohttp.ClientSession) -> str:
    return await get_text(http, emulator.dashboard_url.rstrip("/") + LIVE_PATH)


async def run_batch(
    emulator: Emulator, http: aiohttp.ClientSession, bodies: list[dict[str, Any]]
) -> str:
    """Upload ``bodies`` as a batch's lines, start it, and return its id (not waiting)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    lines = [
        {"custom_id": f"line-{i}", "method": "POST", "url": GENERATIONS, "body": body}
        for i, body in enumerate(bodies)
    ]
    form = aiohttp.FormData()
    form.add_field("purpose", "batch")
    content = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    form.add_field("file", content, filename="jobs.jsonl", content_type="application/jsonl")
    async with http.post(f"{emulator.base_url}/files", data=form, headers=headers) as response:
        assert response.status == 200
        file_id = (await response.json())["id"]
    create = {"input_file_id": file_id, "endpoint": GENERATIONS, "completion_window": "24h"}
    async with http.post(f"{emulator.base_url}/batches", json=create, headers=headers) as response:
        assert response.status == 200
        batch_id: str = (await response.json())["id"]
    return batch_id


async def wait_for_batch(emulator: Emulator, http: aiohttp.ClientSession, batch_id: str) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
        async with http.get(f"{emulator.base_url}/batches/{batch_id}", headers=headers) as answer:
            if (await answer.json())["status"] == "completed":
                return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"batch {batch_id} did not complete in {WAIT_SECONDS} s")


BATCH_LINES: list[dict[str, Any]] = [
    {"model": "gpt-image-1", "prompt": "a kite", "quality": "low", "size": "1024x1024"},
    {"model": "gpt-image-1", "prompt": "a boat", "quality": "low", "size": "1024x1024"},
    {"model": "dall-e-3", "prompt": "two moons", "n": 2},  # refused: dall-e-3 draws one
]


async def make_varied_calls(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    """b64 and URL generations, a download, a fault, an edit, a variation and a batch."""
    await client.generate(prompt=HOSTILE_PROMPT, model="gpt-image-1", quality="low")
    urls = await client.generate(
        prompt="a cat", model="dall-e-2", n=2, size="256x256", response_format="url"
    )
    async with http.get(str(urls.data[0].url)) as download:
        assert download.status == 200
    emulator.config.faults = FaultPlan.scripted("500")
    with pytest.raises(InternalServerError):
        await client.generate(prompt="a storm", model="gpt-image-1", size="1536x1024")
    emulator.config.faults = None
    await client.edit(
        image=("photo.png", encoded_image(256, 256)), prompt="add a hat", model="gpt-image-1"
    )
    await client.create_variation(
        image=("photo.png", encoded_image(256, 256)), size="256x256", response_format="b64_json"
    )
    await wait_for_batch(emulator, http, await run_batch(emulator, http, BATCH_LINES))


# -- the page over plain HTTP --------------------------------------------------------------


async def test_the_page_is_off_unless_configured(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emulator:
        root = emulator.dashboard_url.rstrip("/")
        for path in ("/", LIVE_PATH, "/emulator/thumbnails/req_0/0", "/favicon.ico"):
            async with http.get(root + path) as response:
                assert response.status == 404, path
                assert "error" in await response.json()
        # As before the page existed: unknown paths are recorded, served by no endpoint.
        assert [(call.path, call.endpoint) for call in emulator.requests] == [
            ("/", None),
            (LIVE_PATH, None),
            ("/emulator/thumbnails/req_0/0", None),
            ("/favicon.ico", None),
        ]


async def test_rows_are_the_calls_newest_first(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    await make_varied_calls(emulator, client, http)
    rows = rows_of(await live(emulator, http))
    calls = emulator.requests[::-1]

    assert [row["request-id"] for row in rows] == [call.request_id for call in calls]
    oldest_first = [(r["endpoint"], r["status"], r["fault"]) for r in rows[::-1]]
    assert oldest_first[:7] == [
        ("generate", "200", "—"),
        ("generate", "200", "—"),
        ("download", "200", "—"),
        ("generate", "500", "500"),
        ("edit", "200", "—"),
        ("variation", "200", "—"),
        ("files", "200", "—"),
    ]
    assert oldest_first[7] == ("batches", "200", "—")  # the creation; then the polls
    assert {row[0] for row in oldest_first[8:]} == {"batches"}
    described = [(r["model"], r["size"], len(r["thumbnails"])) for r in rows[::-1][:6]]
    assert described == [
        ("gpt-image-1", "1024x1024", 1),
        ("dall-e-2", "256x256", 2),
        ("—", "—", 0),
        ("gpt-image-1", "1536x1024", 0),  # as requested: the fault came first
        ("gpt-image-1", "1024x1024", 1),
        ("dall-e-2", "256x256", 1),
    ]


async def test_what_requests_sent_is_escaped(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    await client.generate(prompt=HOSTILE_PROMPT, model='<b>"bold"</b>', quality="low")
    async with http.get(emulator.dashboard_url + "%3Cscript%3Ealert(3)%3C/script%3E") as missing:
        assert missing.status == 404
    page = await get_text(http, emulator.dashboard_url)

    for raw in ("<script>alert", "<img src=x", "<b>", '"double"', "'single'"):
        assert raw not in page
    parser = _Rows()
    parser.feed(page)
    assert parser.scripts == 1  # the page's own
    unknown, generated = rows_of(page)
    assert generated["prompt"] == HOSTILE_PROMPT  # shown as text, exactly as sent
    assert generated["model"] == '<b>"bold"</b>'
    assert unknown["endpoint"] == "GET /<script>alert(3)</script>"


async def test_text_that_is_not_unicode_shows_as_its_escape(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    # Valid JSON, but lone surrogates: the API refuses it, and the page lists the refusal.
    body = b'{"prompt": "a \\ud800 kite", "model": "m\\udfff", "size": "1024x1024"}'
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    async with http.post(
        emulator.base_url + "/images/generations", data=body, headers=headers
    ) as answer:
        assert answer.status == 400
    page = await get_text(http, emulator.dashboard_url)

    [refused] = rows_of(page)
    assert (refused["prompt"], refused["model"], refused["status"]) == (
        "a \\ud800 kite",
        "m\\udfff",
        "400",
    )


async def test_every_value_shown_is_cut_short(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    long_model, long_size = "m" * 100_000, "9" * 100_000
    with pytest.raises(BadRequestError):  # refused, and recorded as sent
        await client.generate(prompt="p" * 100_000, model=long_model, size=long_size)
    fragment = await live(emulator, http)

    assert len(fragment) < 5_000
    [row] = rows_of(fragment)
    for cell, sent in (("model", long_model), ("size", long_size), ("prompt", "p" * 100_000)):
        assert row[cell].endswith("\N{HORIZONTAL ELLIPSIS}")
        assert sent.startswith(row[cell][:-1])


async def test_the_key_is_nowhere_on_the_page(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    await client.generate(prompt="a key under the mat", model="gpt-image-1", quality="low")
    azure = f"{emulator.azure_endpoint}/openai/deployments/gpt-image-1/images/generations"
    async with http.post(
        azure,
        params={"api-version": "2025-04-01-preview"},
        json={"prompt": "a lock", "quality": "low"},
        headers={"api-key": API_KEY},
    ) as response:
        assert response.status == 200
    texts = [await get_text(http, emulator.dashboard_url), await live(emulator, http)]

    for text in texts:
        assert "KEYTAIL" not in text
        assert "TAIL" not in text  # not even the masked form (sk-***TAIL)
        assert "***" not in text
        assert "Bearer" not in text
    assert [row["model"] for row in rows_of(texts[1])] == ["gpt-image-1", "gpt-image-1"]


async def test_page_and_fragment_headers(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    await client.generate(prompt="a kite", model="gpt-image-1", quality="low")
    for path in ("", LIVE_PATH.lstrip("/")):
        async with http.get(emulator.dashboard_url + path) as response:
            assert response.content_type == "text/html"
            assert response.headers["Cache-Control"] == "no-store"
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy
            assert "script-src 'sha256-" in policy
            assert len(rows_of(await response.text())) == 1
    page = await get_text(http, emulator.dashboard_url)
    assert f'<main id="live">{await live(emulator, http)}</main>' in page
    assert f"<code>{emulator.base_url}</code>" in page


async def test_thumbnails_are_small_pngs_of_the_answers(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    await client.generate(prompt="wide", model="gpt-image-1", size="1536x1024", quality="low")
    await client.generate(prompt="tall", model="gpt-image-1", size="1024x1536", quality="low")
    rows = rows_of(await live(emulator, http))
    sizes = []
    for row in rows:
        (source,) = row["thumbnails"]
        async with http.get(emulator.dashboard_url.rstrip("/") + source) as response:
            assert response.status == 200
            assert response.content_type == "image/png"
            assert "immutable" in response.headers["Cache-Control"]
            thumbnail = await response.read()
        with Image.open(io.BytesIO(thumbnail)) as image:
            assert image.format == "PNG"
            sizes.append(image.size)
    assert sizes == [(85, 128), (128, 85)]  # newest first: tall, then wide
    request_id = emulator.requests[0].request_id
    # Past the images, unknown, not a number, and more digits than int() reads.
    for missing in (
        f"{request_id}/1",
        "req_unknown/0",
        f"{request_id}/x",
        f"{request_id}/{'9' * 5000}",
    ):
        async with http.get(f"{emulator.dashboard_url}emulator/thumbnails/{missing}") as answer:
            assert answer.status == 404, missing


@pytest.mark.parametrize("image_format", ["png", "jpeg", "webp"])
def test_shrink_reads_every_format_the_emulator_answers(image_format: ImageFormat) -> None:
    thumbnail = shrink(encoded_image(300, 200, image_format))
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert (image.format, image.size) == ("PNG", (128, 85))
        # Not flat: the picture's colour beside its white cross.
        assert image.getpixel((10, 10))[:3] != image.getpixel((64, 10))[:3]


async def test_thumbnails_keep_the_last_calls_only() -> None:
    small = encoded_image(512, 512)
    thumbnails = Thumbnails(keep_calls=3, keep_bytes=10 * len(small))
    for number in range(5):
        thumbnails.keep(f"req_{number}", [small, small])
    assert [thumbnails.count(f"req_{number}") for number in range(5)] == [0, 0, 2, 2, 2]
    assert await thumbnails.thumbnail("req_0", 0, None) is None
    assert await thumbnails.thumbnail("req_4", 2, None) is None

    by_bytes = Thumbnails(keep_calls=100, keep_bytes=4 * len(small))
    by_bytes.keep("req_a", [small, small])
    by_bytes.keep("req_b", [small, small])
    shrunk = await by_bytes.thumbnail("req_a", 0, None)
    assert shrunk is not None
    assert len(shrunk) < len(small)
    assert await by_bytes.thumbnail("req_a", 0, None) == shrunk  # kept, not made again
    by_bytes.keep("req_c", [small])  # fits: a shrunk picture no longer counts in full
    assert [by_bytes.count(name) for name in ("req_a", "req_b", "req_c")] == [2, 2, 1]
    by_bytes.keep("req_d", [small])  # past the budget: the oldest call goes
    assert [by_bytes.count(name) for name in ("req_a", "req_b", "req_c", "req_d")] == [0, 2, 1, 1]


async def test_the_page_lists_at_most_the_kept_calls(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    root = emulator.dashboard_url
    for number in range(KEPT_CALLS + 5):
        async with http.get(f"{root}nothing-{number}") as response:
            assert response.status == 404
    fragment = await live(emulator, http)
    rows = rows_of(fragment)
    assert len(rows) == KEPT_CALLS
    assert rows[0]["endpoint"] == f"GET /nothing-{KEPT_CALLS + 4}"
    assert rows[-1]["endpoint"] == "GET /nothing-5"
    assert f"{KEPT_CALLS + 5} recorded, the newest {KEPT_CALLS} shown" in fragment


async def test_batches_show_their_status_and_progress(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    finished = await run_batch(emulator, http, BATCH_LINES)
    await wait_for_batch(emulator, http, finished)
    emulator.config.batch_step_delay = WAIT_SECONDS * 10  # stays validating until closed
    validating = await run_batch(emulator, http, BATCH_LINES[:1])

    batches = rows_of(await live(emulator, http), "batch")
    assert [row["batch-id"] for row in batches] == [validating, finished]
    assert [row["batch-status"] for row in batches] == ["validating", "completed"]
    assert batches[0]["bar"] == (None, None)  # no total yet: an indeterminate bar
    assert batches[0]["progress"].strip() == "0 completed, 0 failed, 0 total"
    assert batches[1]["bar"] == ("3", "3")
    assert batches[1]["progress"].strip() == "2 completed, 1 failed, 3 total"


async def test_the_pages_own_requests_are_not_recorded(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    await client.generate(prompt="a kite", model="gpt-image-1", quality="low")
    (source,) = rows_of(await live(emulator, http))[0]["thumbnails"]
    root = emulator.dashboard_url.rstrip("/")
    for path in ("/", LIVE_PATH, source, "/favicon.ico"):
        async with http.get(root + path) as response:
            assert response.status in (200, 204), path
    assert len(emulator.requests) == 1


async def test_recorded_calls_say_what_the_page_shows(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession
) -> None:
    before = time.time()
    await client.generate(prompt="a kite")  # no model: the endpoint's default answers
    await client.generate(prompt="kites", model="gpt-image-1", n=3, quality="low")
    async with http.get(f"{emulator.dashboard_url}v1/models") as response:
        assert response.status == 404
    first, second, unknown = emulator.requests

    assert before <= first.started_at <= second.started_at <= unknown.started_at
    assert (first.endpoint, first.model, first.size, first.images_answered) == (
        "generate",
        "dall-e-2",
        "1024x1024",
        1,
    )
    assert (second.model, second.size, second.images_answered) == ("gpt-image-1", "1024x1024", 3)
    assert (unknown.endpoint, unknown.model, unknown.size, unknown.images_answered) == (
        None,
        None,
        None,
        0,
    )


# -- images-async serve --------------------------------------------------------------------


async def read_line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), WAIT_SECONDS)).decode()


@pytest.mark.parametrize("with_page", [True, False])
async def test_serve_prints_the_page_and_serves_it(
    http: aiohttp.ClientSession, with_page: bool
) -> None:
    options = [] if with_page else ["--no-dashboard"]
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "images_async", "serve", "--port", "0", *options),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        listening = await read_line(process.stdout)
        base_url = listening.split(" listening on ")[1].split()[0]
        page_url = base_url.removesuffix("v1")
        if with_page:
            assert await read_line(process.stdout) == f"Live page of its calls: {page_url}\n"
        async with http.get(page_url) as response:
            assert response.status == (200 if with_page else 404)
            assert response.content_type == ("text/html" if with_page else "application/json")
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), WAIT_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# -- in a real browser ---------------------------------------------------------------------


def browser_or_skip() -> str:
    """The browser to run, or skip the test; under CI (``CI`` set) a missing one fails."""
    executable = find_browser()
    if executable is not None:
        return executable
    reason = "no chromium, chromium-browser or google-chrome on PATH"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run the browser tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with headless_browser(browser_or_skip()) as started:
        yield started


def test_a_missing_browser_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no browser on it
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        browser_or_skip()


ROWS = "[...document.querySelectorAll('#calls tr.call')]"
CELLS = f"""{ROWS}.map(row => Object.fromEntries(
    [...row.cells].map(cell => [cell.className, cell.textContent])))"""
IMAGES_RENDERED = """[...document.images].map(img => img.complete && img.naturalWidth > 0)"""


async def test_the_page_in_headless_chromium(
    emulator: Emulator, client: AsyncImages, http: aiohttp.ClientSession, browser: Browser
) -> None:
    await make_varied_calls(emulator, client, http)
    page = await browser.new_page(width=1200, height=800)
    await page.goto(emulator.dashboard_url)

    cells = await page.evaluate(CELLS)
    calls = emulator.requests[::-1]
    assert [row["request-id"] for row in cells] == [call.request_id for call in calls]
    assert [row["endpoint"] for row in cells] == [call.endpoint for call in calls]
    assert [row["status"] for row in cells] == [str(call.status) for call in calls]
    assert [row["fault"] for row in cells].count("500") == 1
    assert HOSTILE_PROMPT in [row["prompt"] for row in cells]
    rendered = await page.wait_for(f"{IMAGES_RENDERED}.every(Boolean) && {IMAGES_RENDERED}")
    assert len(rendered) == sum(call.images_answered for call in calls) == 5
    assert await page.evaluate("document.scripts.length") == 1
    html = await page.evaluate("document.documentElement.outerHTML")
    assert "KEYTAIL" not in html
    assert "***" not in html
    batch_status = "document.querySelector('#batches td.batch-status').textContent"
    assert await page.evaluate(batch_status) == "completed"
    assert await page.evaluate("document.querySelector('#batches progress').value") == 3
    # The style applied: its hash matched the page's Content-Security-Policy.
    collapse = "getComputedStyle(document.querySelector('#calls')).borderCollapse"
    assert await page.evaluate(collapse) == "collapse"

    await page.evaluate("window.sameDocument = true")
    newest = await client.generate(prompt="one more", model="gpt-image-1", quality="low")
    assert newest.data
    waited = f"{ROWS}.length === {len(calls) + 1} && {ROWS}[0].querySelector('.request-id')"
    await page.wait_for(f"{waited}.textContent === '{emulator.requests[-1].request_id}'")
    assert await page.evaluate("window.sameDocument") is True  # updated without a reload
    await page.wait_for(f"{IMAGES_RENDERED}.length === 6 && {IMAGES_RENDERED}.every(Boolean)")
    assert await page.evaluate("document.getElementById('state').textContent.startsWith('live')")
    assert page.problems() == []

    screenshot = await page.screenshot()
    with Image.open(io.BytesIO(screenshot)) as image:
        assert (image.format, image.size) == ("PNG", (1200, 800))
        colors = image.getcolors(maxcolors=1200 * 800)
        assert colors is not None
        assert len(colors) > 50  # a page, not a blank
    assert len(screenshot) > 20_000


async def test_the_emulator_keeps_at_most_max_recorded_calls_newest_last() -> None:
    config = EmulatorConfig(max_recorded_calls=3)
    async with (
        Emulator(config) as emulator,
        AsyncImages(api_key=API_KEY, base_url=emulator.base_url, max_retries=0) as images,
    ):
        for number in range(5):
            await images.generate(prompt=f"picture {number}", model="gpt-image-1", quality="low")
    assert [call.params["prompt"] for call in emulator.requests] == [
        "picture 2",
        "picture 3",
        "picture 4",
    ]
