"""The emulator's live page: its recent calls and batches at ``GET /``, with thumbnails.

This module owns what the page shows and how: the HTML page (inline CSS and a few lines of
script, no external assets), the fragment (``/emulator/dashboard/live``) its script fetches
every second to replace the live part without a reload, the escaping of everything a request
sent, and the thumbnails of the images each call answered (``/emulator/thumbnails/...``,
:class:`Thumbnails`). The server decides when the page is served and hands in the records
(:class:`~._config.RecordedCall`) and the batches, as the API describes them.

Thumbnails are made lazily. The pictures of the last :data:`KEPT_CALLS` calls are kept as
drawn (the bytes of the answer, not a copy), and each is shrunk in the emulator's executor
the first time the page asks for it, then kept in place of its picture. So an API answer
never waits for a thumbnail, and no picture is decoded unless someone looks at it;
:data:`KEPT_BYTES` caps what the pictures not yet shrunk may hold (past it, the oldest
calls' pictures are dropped, and the page says so in place of their thumbnails).

Nothing a request sent reaches the page unescaped or whole (a cell shows at most 160
characters of a value; text that is not valid Unicode shows as its escapes), and no header
is shown at all, so neither the API key nor any other credential appears on it (not even
masked). The page allows itself nothing else: its Content-Security-Policy names the hashes
of its own style and script and lets it load only from the emulator.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import datetime
import hashlib
import html
import io
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import attrs
from aiohttp import web

from ._config import EmulatorConfig, RecordedCall
from ._pillow import Image

__all__ = [
    "KEPT_BYTES",
    "KEPT_CALLS",
    "LIVE_PATH",
    "THUMBNAIL_SIDE",
    "Dashboard",
    "Thumbnails",
    "render_live",
    "render_page",
    "shrink",
]

#: How many calls the page lists, and keeps the pictures of.
KEPT_CALLS = 200
#: How many bytes the pictures not yet shrunk to thumbnails may hold together.
KEPT_BYTES = 256 * 1024 * 1024
#: The longest side of a thumbnail, in pixels.
THUMBNAIL_SIDE = 128
#: The path of the live part of the page, which the page's script fetches.
LIVE_PATH = "/emulator/dashboard/live"
_THUMBNAIL_PATH = "/emulator/thumbnails"
# The most characters of one value a cell shows, and of a prompt's tooltip: whatever a
# request sent (a model name of a megabyte, say), each row of the page stays small.
_SHOWN = 160
_PROMPT_TITLE = 1000
# An image index has at most this many digits (a call answers at most a few images); longer
# ones are not looked up, and int() would refuse thousands of digits with an error.
_INDEX_DIGITS = 4

#: An aiohttp handler of one of the page's routes.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- thumbnails ----------------------------------------------------------------------------


def shrink(picture: bytes, side: int = THUMBNAIL_SIDE) -> bytes:
    """A PNG thumbnail of ``picture`` (PNG, JPEG or WEBP) whose longest side is ``side``."""
    with Image.open(io.BytesIO(picture)) as image:
        shrunk = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image.copy()
    shrunk.thumbnail((side, side))
    buffer = io.BytesIO()
    shrunk.save(buffer, "PNG")
    return buffer.getvalue()


@attrs.define
class _Kept:
    """One image of a call: its picture as drawn, until it is shrunk to its thumbnail."""

    data: bytes
    shrunk: bool = False


class Thumbnails:
    """The images of the last ``keep_calls`` calls, each shrunk when first asked for."""

    def __init__(self, keep_calls: int = KEPT_CALLS, keep_bytes: int = KEPT_BYTES) -> None:
        self._keep_calls = keep_calls
        self._keep_bytes = keep_bytes
        self._calls: collections.OrderedDict[str, list[_Kept]] = collections.OrderedDict()
        self._unshrunk_bytes = 0

    def keep(self, request_id: str, pictures: Sequence[bytes]) -> None:
        """Keep the pictures a call answered; the oldest calls' go past the limits."""
        self._calls[request_id] = [_Kept(picture) for picture in pictures]
        self._unshrunk_bytes += sum(map(len, pictures))
        while len(self._calls) > 1 and (
            len(self._calls) > self._keep_calls or self._unshrunk_bytes > self._keep_bytes
        ):
            _request_id, dropped = self._calls.popitem(last=False)
            self._unshrunk_bytes -= sum(len(kept.data) for kept in dropped if not kept.shrunk)

    def count(self, request_id: str) -> int:
        """How many thumbnails the call has (0 when its pictures were dropped or never kept)."""
        return len(self._calls.get(request_id, ()))

    async def thumbnail(
        self, request_id: str, index: int, executor: concurrent.futures.Executor | None
    ) -> bytes | None:
        """The PNG thumbnail of the call's image ``index``, or None when it is not kept."""
        kept_images = self._calls.get(request_id)
        if kept_images is None or not 0 <= index < len(kept_images):
            return None
        kept = kept_images[index]
        if kept.shrunk:
            return kept.data
        picture = kept.data
        loop = asyncio.get_running_loop()
        try:
            thumbnail = await loop.run_in_executor(executor, shrink, picture)
        except (OSError, ValueError):  # not a picture Pillow reads: nothing to show
            return None
        except RuntimeError:  # the emulator is closing: its executor takes no more work
            return None
        # Another request may have shrunk it, or the call been dropped, meanwhile.
        if not kept.shrunk and self._calls.get(request_id) is kept_images:
            self._unshrunk_bytes -= len(picture)
            kept.data, kept.shrunk = thumbnail, True
        return thumbnail


# -- the page ------------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light; --line: #d8dce3; --muted: #5b6472; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
header { padding: 12px 20px; background: #1d2430; color: #fff; display: flex; gap: 16px;
  align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header code { color: #cfe3ff; }
#state { margin-left: auto; font-size: 12px; }
#state.stale { color: #ffb4a8; }
main { padding: 12px 20px; }
h2 { font-size: 15px; margin: 16px 0 6px; }
.summary { color: var(--muted); margin: 0 0 6px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: middle; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #eef0f4; }
td.prompt { max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.status { font-weight: 600; }
tr.ok td.status { color: #17733a; }
tr.refused td.status { color: #a15c00; }
tr.failed td.status, td.fault { color: #b3261e; }
code { font-size: 12px; }
.images img { height: 48px; margin-right: 4px; border: 1px solid var(--line);
  background: repeating-conic-gradient(#e4e7ec 0 25%, #fff 0 50%) 0 0 / 12px 12px; }
.note, .none { color: var(--muted); }
progress { width: 140px; vertical-align: middle; }
"""

# Replaces the live part with a fresh copy every second, only when it changed (so the
# thumbnails are not rebuilt for nothing); without script the page still renders, and
# reloads itself every few seconds (the <noscript> refresh).
_SCRIPT = """
const live = document.getElementById("live");
const state = document.getElementById("state");
let shown = null;
async function refresh() {
  try {
    const answer = await fetch("{live_path}", { cache: "no-store" });
    if (!answer.ok) throw new Error(String(answer.status));
    const fragment = await answer.text();
    if (fragment !== shown) { live.innerHTML = fragment; shown = fragment; }
    state.textContent = "live, checked " + new Date().toLocaleTimeString();
    state.className = "";
  } catch (error) {
    state.textContent = "not reachable; retrying"; state.className = "stale";
  }
  setTimeout(refresh, 1000);
}
setTimeout(refresh, 1000);
""".replace("{live_path}", LIVE_PATH)


def _source_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


#: The page may run only its own script and style, and load only from the emulator.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self'; connect-src 'self'; "
    f"style-src {_source_hash(_STYLE)}; script-src {_source_hash(_SCRIPT)}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


_NOTHING = '<span class="none">\N{EM DASH}</span>'


def _text(value: object) -> str:
    """``value`` as page text, escaped and cut to :data:`_SHOWN` characters (an ellipsis
    marks the cut); None and empty values show as a muted dash."""
    if value is None or value == "":
        return _NOTHING
    text = str(value)
    return html.escape(text if len(text) <= _SHOWN else text[:_SHOWN] + "\N{HORIZONTAL ELLIPSIS}")


def _clock(seconds: float) -> str:
    """A ``<time>`` showing the server's local time of day; milliseconds unless whole."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    shown = time.strftime("%H:%M:%S", time.localtime(seconds))
    if not isinstance(seconds, int):  # the API's own times (batches) are whole seconds
        shown += f".{int(seconds * 1000) % 1000:03d}"
    return f'<time datetime="{moment.isoformat(timespec="milliseconds")}">{shown}</time>'


def _outcome(status: int | None) -> str:
    if status is None:
        return "pending"
    if status < 400:
        return "ok"
    return "refused" if status < 500 else "failed"


def _images_cell(call: RecordedCall, thumbnails: Thumbnails) -> str:
    request_id = html.escape(call.request_id)
    tags = [
        f'<img src="{_THUMBNAIL_PATH}/{request_id}/{index}" alt="image {index + 1}">'
        for index in range(thumbnails.count(call.request_id))
    ]
    if call.images_answered and not tags:
        tags.append(f'<span class="note">{call.images_answered} (no longer kept)</span>')
    return "".join(tags)


def _call_row(call: RecordedCall, thumbnails: Thumbnails) -> str:
    prompt = call.params.get("prompt")
    prompt = prompt if isinstance(prompt, str) else None
    title = "" if prompt is None else f' title="{html.escape(prompt[:_PROMPT_TITLE])}"'
    # A path the emulator does not serve is shown as sent (escaped): it is the clue.
    endpoint = call.endpoint or f"{call.method} {call.path}"
    cells = (
        f'<td class="time">{_clock(call.started_at)}</td>',
        f'<td class="endpoint">{_text(endpoint)}</td>',
        f'<td class="model">{_text(call.model)}</td>',
        f'<td class="size">{_text(call.size)}</td>',
        f'<td class="status">{_text(call.status if call.status is not None else "…")}</td>',
        f'<td class="fault">{_text(call.fault)}</td>',
        f'<td class="request-id"><code>{_text(call.request_id)}</code></td>',
        f'<td class="prompt"{title}>{_text(prompt)}</td>',
        f'<td class="images">{_images_cell(call, thumbnails)}</td>',
    )
    return f'<tr class="call {_outcome(call.status)}">{"".join(cells)}</tr>'


def _progress(counts: Mapping[str, object]) -> str:
    def count(name: str) -> int:
        value = counts.get(name)
        return value if isinstance(value, int) else 0

    total, completed, failed = count("total"), count("completed"), count("failed")
    # No total yet (still validating): an indeterminate bar.
    bar = (
        f'<progress value="{completed + failed}" max="{total}"></progress>'
        if total
        else ("<progress></progress>")
    )
    return f"{bar} {completed} completed, {failed} failed, {total} total"


def _batch_row(batch: Mapping[str, object]) -> str:
    created = batch.get("created_at")
    counts = batch.get("request_counts")
    cells = (
        f'<td class="time">{_clock(created) if isinstance(created, int) else _NOTHING}</td>',
        f'<td class="batch-id"><code>{_text(batch.get("id"))}</code></td>',
        f'<td class="endpoint">{_text(batch.get("endpoint"))}</td>',
        f'<td class="batch-status">{_text(batch.get("status"))}</td>',
        f'<td class="progress">{_progress(counts if isinstance(counts, Mapping) else {})}</td>',
    )
    return f'<tr class="batch">{"".join(cells)}</tr>'


def render_live(
    calls: Sequence[RecordedCall],
    batches: Sequence[Mapping[str, object]],
    thumbnails: Thumbnails,
) -> str:
    """The live part of the page: ``batches`` (newest first already), then the newest
    :data:`KEPT_CALLS` of ``calls`` (listed in arrival order), newest first."""
    newest = list(itertools.islice(reversed(calls), KEPT_CALLS))
    shown = f"the newest {len(newest)}" if len(calls) > len(newest) else "all"
    call_rows = "".join(_call_row(call, thumbnails) for call in newest)
    if not call_rows:
        call_rows = '<tr><td colspan="9" class="none">No calls yet.</td></tr>'
    batch_rows = "".join(_batch_row(batch) for batch in batches)
    if not batch_rows:
        batch_rows = '<tr><td colspan="5" class="none">No batches yet.</td></tr>'
    # Batches first: there are few, and each stands for many calls.
    return (
        '<h2>Batches</h2><table id="batches"><thead><tr><th>Created</th><th>Batch</th>'
        "<th>Endpoint</th><th>Status</th><th>Progress</th></tr></thead>"
        f"<tbody>{batch_rows}</tbody></table>"
        f'<h2>Calls</h2><p class="summary">{len(calls)} recorded, {shown} shown, newest '
        "first.</p>"
        '<table id="calls"><thead><tr><th>Time</th><th>Endpoint</th><th>Model</th>'
        "<th>Size</th><th>Status</th><th>Fault</th><th>Request id</th><th>Prompt</th>"
        f"<th>Images</th></tr></thead><tbody>{call_rows}</tbody></table>"
    )


def render_page(api_root: str, live: str) -> str:
    """The whole page around ``live`` (from :func:`render_live`), naming ``api_root``."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Images API emulator</title>"
        '<noscript><meta http-equiv="refresh" content="5"></noscript>'
        f"<style>{_STYLE}</style></head><body>"
        f"<header><h1>Images API emulator</h1><span>API root <code>{_text(api_root)}</code>"
        '</span><span id="state">live</span></header>'
        f'<main id="live">{live}</main><script>{_SCRIPT}</script></body></html>'
    )


# -- serving it ----------------------------------------------------------------------------


class Watched(Protocol):
    """What the page reads of an emulator."""

    @property
    def requests(self) -> Sequence[RecordedCall]:
        """Every call recorded, in arrival order."""

    @property
    def config(self) -> EmulatorConfig:
        """The configuration, whose ``dashboard`` says whether the page is served."""


class Dashboard:
    """The page's routes over an emulator's records and batches, and its thumbnails.

    ``batches(limit)`` gives the newest batches as the API describes them; ``executor()``
    the executor to shrink pictures in (None: the event loop's default).
    """

    def __init__(
        self,
        emulator: Watched,
        batches: Callable[[int], Sequence[Mapping[str, object]]],
        executor: Callable[[], concurrent.futures.Executor | None],
    ) -> None:
        self._emulator = emulator
        self._batches = batches
        self._executor = executor
        #: The pictures kept for the page, and their thumbnails.
        self.thumbnails = Thumbnails()

    def routes(
        self, origin: Callable[[web.Request], str], *, otherwise: Handler
    ) -> list[tuple[str, Handler]]:
        """(path, handler) of each GET route of the page; ``origin`` gives the server's
        ``scheme://host:port`` for a request, ``otherwise`` answers while the page is off."""

        async def page(request: web.Request) -> web.StreamResponse:
            return _html(render_page(origin(request) + "/v1", self._live()))

        async def live(_request: web.Request) -> web.StreamResponse:
            return _html(self._live())

        def when_on(show: Handler) -> Handler:
            async def handle(request: web.Request) -> web.StreamResponse:
                # The page's own requests are not recorded: it polls, and would list itself.
                on = self._emulator.config.dashboard
                return await (show(request) if on else otherwise(request))

            return handle

        async def no_icon(_request: web.Request) -> web.StreamResponse:
            # Browsers ask for one with the page: without it, each visit would be recorded
            # (a 404) and listed as a call.
            return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})

        return [
            ("/", when_on(page)),
            ("/favicon.ico", when_on(no_icon)),
            (LIVE_PATH, when_on(live)),
            (_THUMBNAIL_PATH + "/{request_id}/{index:[0-9]+}", when_on(self._thumbnail)),
        ]

    def _live(self) -> str:
        calls = self._emulator.requests
        return render_live(calls, self._batches(KEPT_CALLS), self.thumbnails)

    async def _thumbnail(self, request: web.Request) -> web.StreamResponse:
        request_id, digits = request.match_info["request_id"], request.match_info["index"]
        index = int(digits) if len(digits) <= _INDEX_DIGITS else -1  # -1: no such image
        thumbnail = await self.thumbnails.thumbnail(request_id, index, self._executor())
        if thumbnail is None:
            raise web.HTTPNotFound(text="No thumbnail here (its call is no longer kept).")
        # A thumbnail never changes: its address names the call and the image.
        headers = {"Cache-Control": "private, max-age=86400, immutable"}
        return web.Response(body=thumbnail, content_type="image/png", headers=headers)


def _html(text: str) -> web.Response:
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    # A request may send text that is not valid Unicode (a JSON "\ud800" escape, which the
    # API refuses): the page shows such a character as that escape, and still renders.
    body = text.encode("utf-8", "backslashreplace")
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)
