"""A minimal Images API server with precomputed answers, run in its own process.

Running this file serves ``POST /v1/images/generations`` and ``POST /v1/images/edits`` on
127.0.0.1 (ephemeral port). A generation gets one of three fixed bodies (:mod:`bench_payloads`),
chosen by a word in the request; an edit reads the whole multipart upload and gets the small
body. Two finished batches (``GET /v1/batches/{id}``: ``batch_small`` of one small line,
``batch_large`` of ``BATCH_LINES`` large ones) have input and output files
(``GET /v1/files/{id}/content``), streamed line by line as a provider streams them. The
server does as little work as possible and none of it is counted as client CPU.
It prints one JSON line (port, decoded image sizes, body sizes) when ready, and stops when
its stdin closes or on SIGTERM/SIGINT. :class:`ServerProcess` starts and stops it from the
benchmark runner.
"""

from __future__ import annotations

import asyncio
import json
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from aiohttp import web
from bench_payloads import (
    BATCH_LINES,
    LARGE_MARKER,
    SAVE_IMAGES,
    SAVE_MARKER,
    batch_input_line,
    batch_output_line,
    images_response_body,
    large_png,
    save_png,
    small_png,
)

HOST = "127.0.0.1"
#: How long the runner waits for the server to come up, and then to go away.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LARGE_MARKER_BYTES = LARGE_MARKER.encode()
_SAVE_MARKER_BYTES = SAVE_MARKER.encode()
#: Larger than any upload the benchmark sends (aiohttp refuses bodies above 1 MiB by default).
_MAX_UPLOAD = 64 * 1024 * 1024


def _app(small_body: bytes, large_body: bytes, save_body: bytes) -> web.Application:
    headers = {"x-request-id": "req_bench", "openai-processing-ms": "1"}

    async def generations(request: web.Request) -> web.Response:
        sent = await request.read()
        if _LARGE_MARKER_BYTES in sent:
            body = large_body
        elif _SAVE_MARKER_BYTES in sent:
            body = save_body
        else:
            body = small_body
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def edits(request: web.Request) -> web.Response:
        await request.read()  # the whole upload, as a real server must before answering
        return web.Response(body=small_body, content_type="application/json", headers=headers)

    app = web.Application(client_max_size=_MAX_UPLOAD)
    app.router.add_post("/v1/images/generations", generations)
    app.router.add_post("/v1/images/edits", edits)
    _add_batches(app, {"small": (1, small_body), "large": (BATCH_LINES, large_body)})
    return app


def _add_batches(app: web.Application, batches: dict[str, tuple[int, bytes]]) -> None:
    """``batch_<name>``: finished, its output ``lines`` copies of ``body`` (one per request)."""

    async def batch(request: web.Request) -> web.Response:
        name = request.match_info["id"].removeprefix("batch_")
        if name not in batches:
            raise web.HTTPNotFound()
        lines, _ = batches[name]
        document = {
            "id": f"batch_{name}",
            "object": "batch",
            "endpoint": "/v1/images/generations",
            "status": "completed",
            "input_file_id": f"file-in-{name}",
            "output_file_id": f"file-out-{name}",
            "error_file_id": None,
            "completion_window": "24h",
            "created_at": 1_764_028_800,
            "request_counts": {"total": lines, "completed": lines, "failed": 0},
        }
        return web.json_response(document)

    async def content(request: web.Request) -> web.StreamResponse:
        kind, _, name = request.match_info["id"].removeprefix("file-").partition("-")
        if name not in batches or kind not in ("in", "out"):
            raise web.HTTPNotFound()
        lines, body = batches[name]
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for index in range(lines):
            pieces = [batch_input_line(index)] if kind == "in" else batch_output_line(index, body)
            for piece in pieces:
                await response.write(piece)
        await response.write_eof()
        return response

    app.router.add_get("/v1/batches/{id}", batch)
    app.router.add_get("/v1/files/{id}/content", content)


def _stop_on_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """The runner closes our stdin to stop us (also when it dies without cleaning up)."""
    while sys.stdin.buffer.read(4096):
        pass
    loop.call_soon_threadsafe(stop.set)


async def _serve() -> None:
    small, large, save = small_png(), large_png(), save_png()
    bodies = {
        "small": images_response_body(small),
        "large": images_response_body(large),
        "save": images_response_body(save, SAVE_IMAGES),
    }
    batch_output = sum(len(piece) for piece in batch_output_line(BATCH_LINES, bodies["large"]))
    runner = web.AppRunner(_app(bodies["small"], bodies["large"], bodies["save"]), access_log=None)
    await runner.setup()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    port: int = listener.getsockname()[1]
    await web.SockSite(runner, listener, backlog=1024).start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    threading.Thread(target=_stop_on_stdin_eof, args=(loop, stop), daemon=True).start()
    hello = {
        "port": port,
        "image_sizes": {
            "small": len(small),
            "large": len(large),
            "save": len(save),
            "batch": len(large),
        },
        "body_sizes": {
            **{name: len(body) for name, body in bodies.items()},
            "batch": BATCH_LINES * batch_output,  # the whole output file (ids vary a little)
        },
    }
    print(json.dumps(hello))
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class ServerProcess:
    """Runs this module as a child process; ``base_url`` once entered."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.image_sizes: dict[str, int] = {}
        """Decoded bytes of one image of each body (``small``, ``large``, ``save``, and
        ``batch``: one image of a line of the large batch)."""
        self.body_sizes: dict[str, int] = {}
        """Bytes of each response body."""

    def __enter__(self) -> ServerProcess:
        process = subprocess.Popen(
            [sys.executable, "-W", "default", str(Path(__file__))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._process = process
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
            line = process.stdout.readline() if ready else b""
            if not line:
                raise RuntimeError("the benchmark server did not start")
            hello = json.loads(line)
        except BaseException:
            self._stop()
            raise
        self.base_url = f"http://{HOST}:{hello['port']}/v1"
        self.image_sizes = {name: int(size) for name, size in hello["image_sizes"].items()}
        self.body_sizes = {name: int(size) for name, size in hello["body_sizes"].items()}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


if __name__ == "__main__":
    asyncio.run(_serve())
