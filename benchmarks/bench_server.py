"""A minimal Images API server with precomputed answers, run in its own process.

Running this file serves ``POST /v1/images/generations`` on 127.0.0.1 (ephemeral port) and
answers every request with one of two fixed bodies (:mod:`bench_payloads`), so the server
does as little work as possible and none of it is counted as client CPU. It prints one JSON
line (port and decoded image sizes) when ready, and stops when its stdin closes or on
SIGTERM/SIGINT. :class:`ServerProcess` starts and stops it from the benchmark runner.
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
from bench_payloads import LARGE_MARKER, images_response_body, large_png, small_png

HOST = "127.0.0.1"
#: How long the runner waits for the server to come up, and then to go away.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LARGE_MARKER_BYTES = LARGE_MARKER.encode()


def _app(small_body: bytes, large_body: bytes) -> web.Application:
    headers = {"x-request-id": "req_bench", "openai-processing-ms": "1"}

    async def generations(request: web.Request) -> web.Response:
        sent = await request.read()
        body = large_body if _LARGE_MARKER_BYTES in sent else small_body
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_post("/v1/images/generations", generations)
    return app


def _stop_on_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """The runner closes our stdin to stop us (also when it dies without cleaning up)."""
    while sys.stdin.buffer.read(4096):
        pass
    loop.call_soon_threadsafe(stop.set)


async def _serve() -> None:
    small, large = small_png(), large_png()
    runner = web.AppRunner(
        _app(images_response_body(small), images_response_body(large)), access_log=None
    )
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
    print(json.dumps({"port": port, "small_size": len(small), "large_size": len(large)}))
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
        self.small_size = 0
        self.large_size = 0

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
        self.small_size = int(hello["small_size"])
        self.large_size = int(hello["large_size"])
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
