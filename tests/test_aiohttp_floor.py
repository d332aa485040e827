"""The emulator needs nothing newer than the aiohttp the project declares as its floor (3.9).

aiohttp 3.14 brought ``web.RequestKey`` (and ``web.ResponseKey``), and warns about plain
string keys on requests; 3.9 has neither key type. A child interpreter with both removed
from ``aiohttp.web`` stands in for 3.9: it serves the emulator under ``-W error`` and checks,
over loopback HTTP, that every answer still carries the request id of its recorded call.
Running the whole suite on the floor itself is a job for a session pinned to it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: Upper bound of the child interpreter's run.
CHILD_SECONDS = 60.0

CHILD = textwrap.dedent(
    """
    import asyncio

    import aiohttp
    from aiohttp import web

    for newer in ("RequestKey", "ResponseKey"):
        if hasattr(web, newer):
            delattr(web, newer)

    from images_async.testing import Emulator

    AUTH = {"Authorization": "Bearer sk-floor-0123456789abcdef"}

    async def main() -> None:
        async with Emulator() as emulator, aiohttp.ClientSession() as session:
            ids = []
            body = {"prompt": "a floor", "size": "256x256"}
            url = f"{emulator.base_url}/images/generations"
            async with session.post(url, json=body, headers=AUTH) as response:
                assert response.status == 200, await response.text()
                ids.append(response.headers["x-request-id"])
                image_url = (await response.json())["data"][0]["url"]
            async with session.get(image_url) as response:
                assert response.status == 200
                ids.append(response.headers["x-request-id"])
            async with session.post(url, json={}, headers=AUTH) as response:
                assert response.status == 400
                ids.append(response.headers["x-request-id"])
            async with session.get(f"{emulator.base_url}/models") as response:
                assert response.status == 404
                ids.append(response.headers["x-request-id"])
            assert ids == [call.request_id for call in emulator.requests], ids
        print("served on the floor")

    asyncio.run(main())
    """
)


def test_the_emulator_serves_without_aiohttp_request_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=CHILD_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "served on the floor"
