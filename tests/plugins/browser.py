"""A headless Chromium driven over the DevTools protocol, for tests of the emulator's page.

It owns finding a browser (``chromium``, ``chromium-browser`` or ``google-chrome`` on PATH),
starting it in a process group of its own with a throwaway profile, talking to it over one
websocket (aiohttp's client, so no new dependency), and always ending it, children
included. A :class:`Page` goes to a URL, evaluates expressions, waits for one to hold,
collects what the page logged as an error, and takes screenshots. Every wait is bounded.

Used by the dashboard's tests and by ``scripts/dashboard_screenshot.py``; nothing here
imports pytest, so the script runs without it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

#: The names a Chromium is found under on PATH, in the order they are tried.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Upper bounds, in seconds: the browser's start, one protocol command, its end.
START_SECONDS = 30.0
COMMAND_SECONDS = 20.0
STOP_SECONDS = 10.0
#: The interval of :meth:`Page.wait_for`'s polls, in seconds.
POLL_SECONDS = 0.05

# Flags for a quiet, contained browser: no sandbox (CI runs as root), no GPU, no first-run
# screens, and none of the background traffic (updates, sync, QUIC probes) a profile makes.
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--remote-debugging-port=0",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a screenshot arrives as one base64 message


class BrowserError(RuntimeError):
    """The browser did not start, or a DevTools command failed."""


def find_browser() -> str | None:
    """The path of the first of :data:`BROWSER_NAMES` on PATH, or None."""
    for name in BROWSER_NAMES:
        if (path := shutil.which(name)) is not None:
            return path
    return None


class _Connection:
    """One DevTools websocket: numbered commands with their answers, and events."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self._websocket = websocket
        self._next_id = 0
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[tuple[str, str | None, asyncio.Future[dict[str, Any]]]] = []
        self.events: deque[tuple[str | None, str, dict[str, Any]]] = deque(maxlen=1000)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self._websocket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                self._dispatch(json.loads(message.data))
        finally:
            for future in [*self._answers.values(), *(f for *_, f in self._listeners)]:
                if not future.done():
                    future.set_exception(BrowserError("the DevTools connection closed"))

    def _dispatch(self, document: dict[str, Any]) -> None:
        if "id" in document:
            answer = self._answers.pop(document["id"], None)
            if answer is not None and not answer.done():
                answer.set_result(document)
            return
        method, session = document.get("method", ""), document.get("sessionId")
        params = document.get("params", {})
        self.events.append((session, method, params))
        for listener in list(self._listeners):
            wanted, wanted_session, future = listener
            if wanted == method and wanted_session == session and not future.done():
                future.set_result(params)
                self._listeners.remove(listener)

    def expect(self, method: str, session: str | None) -> asyncio.Future[dict[str, Any]]:
        """A future of the next ``method`` event of ``session``; ask before causing it."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._listeners.append((method, session, future))
        return future

    async def send(
        self, method: str, params: Mapping[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Run one command and return its result; an error answer raises BrowserError."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        answer = self._answers[self._next_id] = asyncio.get_running_loop().create_future()
        await self._websocket.send_json(command)
        document = await asyncio.wait_for(answer, COMMAND_SECONDS)
        if "error" in document:
            raise BrowserError(f"{method}: {document['error']}")
        result: dict[str, Any] = document.get("result", {})
        return result

    async def close(self) -> None:
        await self._websocket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Page:
    """One tab of the browser."""

    def __init__(self, connection: _Connection, session: str) -> None:
        self._connection = connection
        self._session = session

    async def _send(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._connection.send(method, params, self._session)

    async def goto(self, url: str) -> None:
        """Load ``url`` and wait for its ``load`` event (images included)."""
        loaded = self._connection.expect("Page.loadEventFired", self._session)
        result = await self._send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"cannot load {url}: {result['errorText']}")
        await asyncio.wait_for(loaded, COMMAND_SECONDS)
        # The event names no document: a late one of the tab's first page (about:blank)
        # would pass for this one's, so this document must be the one shown, and loaded.
        target = json.dumps(url)
        await self.wait_for(
            f"location.href === new URL({target}).href && document.readyState === 'complete'"
        )

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON gives it."""
        result = await self._send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = COMMAND_SECONDS) -> Any:
        """Poll ``expression`` until it is truthy; its value. TimeoutError after ``seconds``."""
        # The clock ends the wait (slow evaluations on a busy machine count too; each is
        # bounded by COMMAND_SECONDS), and the count bounds the loop whatever the clock says.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        for _ in range(max(1, round(seconds / POLL_SECONDS))):
            if value := await self.evaluate(expression):
                return value
            if loop.time() >= deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"{expression!r} did not hold within {seconds} s")

    async def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        result = await self._send("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(result["data"])

    def problems(self) -> list[str]:
        """What the page logged as an error or warning (script errors, refused resources,
        violations of its Content-Security-Policy), one line each."""
        lines = []
        for session, method, params in self._connection.events:
            if session != self._session:
                continue
            if method == "Runtime.exceptionThrown":
                lines.append(str(params["exceptionDetails"].get("text")))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                lines.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
        return lines


class Browser:
    """A started headless Chromium (see :func:`headless_browser`)."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def new_page(self, width: int = 1200, height: int = 800) -> Page:
        """A new tab whose viewport is ``width`` x ``height`` CSS pixels (scale 1)."""
        target = await self._connection.send("Target.createTarget", {"url": "about:blank"})
        attached = await self._connection.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self._connection, attached["sessionId"])
        for domain in ("Page", "Runtime", "Log"):
            await page._send(f"{domain}.enable")
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        await page._send("Emulation.setDeviceMetricsOverride", metrics)
        return page


async def _devtools_address(stderr: asyncio.StreamReader, seen: deque[bytes]) -> str:
    """Read the browser's stderr until it names its DevTools websocket."""
    while line := await stderr.readline():
        seen.append(line)
        if match := _LISTENING.search(line):
            return match[1].decode()
    raise BrowserError("the browser exited before listening: " + b"".join(seen).decode("replace"))


async def _drain(stderr: asyncio.StreamReader, seen: deque[bytes]) -> None:
    # The browser keeps writing to stderr: an unread pipe would fill and stall it.
    while line := await stderr.readline():
        seen.append(line)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def headless_browser(executable: str) -> AsyncIterator[Browser]:
    """Start ``executable`` headless and connected; kill it and its children on exit."""
    profile = tempfile.mkdtemp(prefix="images-async-browser-")
    seen: deque[bytes] = deque(maxlen=40)
    process = await asyncio.create_subprocess_exec(
        executable,
        *_FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: one signal ends all its children
    )
    drain: asyncio.Task[None] | None = None
    try:
        assert process.stderr is not None
        address = await asyncio.wait_for(_devtools_address(process.stderr, seen), START_SECONDS)
        drain = asyncio.get_running_loop().create_task(_drain(process.stderr, seen))
        async with aiohttp.ClientSession() as session:
            websocket = await session.ws_connect(address, max_msg_size=_MAX_MESSAGE_BYTES)
            connection = _Connection(websocket)
            try:
                yield Browser(connection)
            finally:
                with contextlib.suppress(
                    BrowserError, asyncio.TimeoutError, ConnectionError, aiohttp.ClientError
                ):
                    await connection.send("Browser.close")
                await connection.close()
    finally:
        _kill_group(process)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        finally:
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain
            shutil.rmtree(profile, ignore_errors=True)
