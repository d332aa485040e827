"""How the command line reaches the API: Azure OpenAI, a proxy, a CA bundle.

Each command runs in-process (``main(argv)``, on a worker thread, as it runs its own event
loop) against servers on 127.0.0.1: the recording Images API, served on the test's loop on
both URL layouts, or the emulator, served from its thread with its Azure checks. A proxy is
either the recording API itself, which records each request line's target (a client sends
a proxy the absolute URL: ``POST http://api.images.invalid/v1/... HTTP/1.1``), or the test
forward proxy in front of the emulator; the base URLs name hosts that do not resolve, so
only the proxy path can work. The TLS test serves the recording API with a certificate
from a CA made in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs
import pytest
import trustme
from aiohttp import web
from plugins.api_server import FakeImagesAPI, serving
from plugins.forward_proxy import ForwardProxy, basic_credentials
from yarl import URL

from images_async.cli import main
from images_async.cli.parser import build_parser
from images_async.testing import Emulator
from images_async.testing.sample_images import image_size, solid_png

API_KEY = "sk-cli-network-0123456789abcdef"
AZURE_KEY = "azure-cli-key-0123456789abcdef"
API_VERSION = "2025-04-01-preview"
PROXY_PASSWORD = "proxy-secret-0123456789"
#: A host that never resolves: only a proxy can take a request for it anywhere.
UNRESOLVABLE = "api.images.invalid"
#: Upper bound of one command run on the worker thread.
CALL_TIMEOUT = 60.0
API_COMMANDS = ("generate", "edit", "variations", "batch")
#: Every setting the commands read from the environment; a test sets those it needs.
SETTINGS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test gives: none from the machine running the tests."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingAPI(FakeImagesAPI):
    """The recording Images API on the OpenAI and Azure layouts, and the request targets."""

    def __init__(self) -> None:
        super().__init__()
        #: Each request's target as it was sent: absolute (``http://host/...``) via a proxy.
        self.targets: list[str] = []

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post(
            "/openai/deployments/{deployment}/images/{endpoint}", self.handle_images
        )
        targets = self.targets

        @web.middleware
        async def record_target(request: web.Request, handler: _Handler) -> web.StreamResponse:
            # The request line's target as sent: the absolute URL when the client took this
            # server for its proxy, else the path alone.
            targets.append(request.raw_path)
            return await handler(request)

        app.middlewares.append(record_target)
        return app


@pytest.fixture
async def api() -> AsyncIterator[RecordingAPI]:
    recording = RecordingAPI()
    async with serving(recording.app()) as recording.base_url:
        yield recording


async def run_main(argv: list[str]) -> int:
    """``main(argv)`` on a worker thread; its usage errors as their exit status."""

    def run() -> int:
        try:
            return main(argv)
        except SystemExit as exit:
            return int(exit.code or 0)

    return await asyncio.wait_for(asyncio.to_thread(run), CALL_TIMEOUT)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A PNG to edit and vary, and a one-line batch file."""
    (tmp_path / "input.png").write_bytes(solid_png(8, 8))
    (tmp_path / "requests.jsonl").write_text(
        json.dumps({"prompt": "a kite", "model": "gpt-image-1"}) + "\n"
    )
    return tmp_path


def command_args(command: str, inputs: Path) -> list[str]:
    """The command with its inputs, writing under ``inputs/out``."""
    out = ["--out", str(inputs / "out")]
    if command == "generate":
        return ["generate", "a kite", "--model", "gpt-image-1", *out]
    if command == "edit":
        return [
            "edit",
            str(inputs / "input.png"),
            "--prompt",
            "red",
            "--model",
            "gpt-image-1",
            *out,
        ]
    if command == "variations":
        return ["variations", str(inputs / "input.png"), "--model", "dall-e-2", *out]
    return ["batch", str(inputs / "requests.jsonl"), *out]


ENDPOINT_OF = {
    "generate": "generations",
    "edit": "edits",
    "variations": "variations",
    "batch": "generations",
}


def written_pngs(inputs: Path) -> list[tuple[int, int]]:
    return [image_size(path.read_bytes()) for path in sorted((inputs / "out").glob("*.png"))]


# -- Azure OpenAI --------------------------------------------------------------------------


@pytest.mark.parametrize("command", API_COMMANDS)
async def test_every_api_command_calls_azure_with_the_azure_options(
    api: RecordingAPI, inputs: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    azure = ["--azure-endpoint", api.base_url, "--api-version", API_VERSION]
    status = await run_main([*command_args(command, inputs), *azure, "--azure-deployment", "dep"])

    assert status == 0
    [request] = api.requests
    assert request.path == f"/openai/deployments/dep/images/{ENDPOINT_OF[command]}"
    assert dict(request.query) == {"api-version": API_VERSION}
    assert request.headers["api-key"] == AZURE_KEY
    assert "Authorization" not in request.headers
    assert written_pngs(inputs)


async def test_azure_settings_from_the_environment_and_deployment_from_model(
    api: RecordingAPI, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", api.base_url)
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "entra-token-0123")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)  # not used: the endpoint selects Azure

    assert await run_main(command_args("generate", inputs)) == 0

    assert api.last.path == "/openai/deployments/gpt-image-1/images/generations"
    assert api.last.query["api-version"] == API_VERSION
    assert api.last.headers["Authorization"] == "Bearer entra-token-0123"


async def test_without_azure_options_the_openai_layout_is_used(
    api: RecordingAPI, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)  # alone, it selects nothing
    args = [*command_args("generate", inputs), "--base-url", f"{api.base_url}/v1"]

    assert await run_main(args) == 0

    assert api.last.path == "/v1/images/generations"
    assert api.last.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "api-key" not in api.last.headers


async def test_missing_api_version_is_one_line_and_sends_nothing(
    api: RecordingAPI,
    inputs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    args = [*command_args("generate", inputs), "--azure-endpoint", api.base_url]

    assert await run_main(args) == 1

    err = capsys.readouterr().err
    assert err.startswith("images-async: error: api_version: required on Azure OpenAI")
    assert len(err.splitlines()) == 1
    assert api.requests == []


async def test_base_url_and_azure_options_are_a_usage_error(
    api: RecordingAPI, inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        *command_args("generate", inputs),
        "--base-url",
        api.base_url,
        "--api-version",
        API_VERSION,
    ]

    assert await run_main(args) == 2

    err = capsys.readouterr().err
    assert "--base-url is for the OpenAI API; it cannot go with --api-version" in err
    assert "Traceback" not in err
    assert api.requests == []


# -- proxy ---------------------------------------------------------------------------------


async def test_proxy_option_carries_every_api_command(
    api: RecordingAPI, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    for command in API_COMMANDS:
        base = ["--base-url", f"http://{UNRESOLVABLE}/v1", "--proxy", api.base_url]
        assert await run_main([*command_args(command, inputs), *base]) == 0, command

    assert api.targets == [
        f"http://{UNRESOLVABLE}/v1/images/{ENDPOINT_OF[command]}" for command in API_COMMANDS
    ]
    assert all(r.headers["Authorization"] == f"Bearer {API_KEY}" for r in api.requests)
    assert len(written_pngs(inputs)) == len(API_COMMANDS)


async def test_proxy_and_azure_together(
    api: RecordingAPI, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    azure = ["--azure-endpoint", "http://azure.images.invalid", "--api-version", API_VERSION]
    args = [*command_args("generate", inputs), *azure, "--proxy", api.base_url]

    assert await run_main(args) == 0

    assert api.targets == [
        "http://azure.images.invalid/openai/deployments/gpt-image-1/images/generations"
        f"?api-version={API_VERSION}"
    ]
    assert api.last.headers["api-key"] == AZURE_KEY


async def test_proxy_from_the_environment_without_the_option(
    api: RecordingAPI, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("HTTP_PROXY", api.base_url)
    args = [*command_args("generate", inputs), "--base-url", f"http://{UNRESOLVABLE}/v1"]

    assert await run_main(args) == 0

    assert api.targets == [f"http://{UNRESOLVABLE}/v1/images/generations"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_an_unreachable_proxy_is_one_line_without_its_password(
    inputs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    proxy = f"http://user:{PROXY_PASSWORD}@127.0.0.1:{closed_port()}"
    args = [*command_args("generate", inputs), "--base-url", f"http://{UNRESOLVABLE}/v1"]

    assert await run_main([*args, "--proxy", proxy, "--max-retries", "0"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("images-async: error: ")
    assert len(err.splitlines()) == 1
    assert PROXY_PASSWORD not in err
    assert API_KEY not in err


async def test_a_bad_proxy_url_is_one_line_without_its_password(
    inputs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    args = [*command_args("generate", inputs), "--proxy", f"ftp://user:{PROXY_PASSWORD}@host"]

    assert await run_main(args) == 1

    err = capsys.readouterr().err
    assert err.startswith("images-async: error: proxy: ")
    assert PROXY_PASSWORD not in err


# -- CA bundle -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextlib.asynccontextmanager
async def serving_tls(app: web.Application, ca: trustme.CA) -> AsyncIterator[str]:
    """Serve ``app`` over TLS on 127.0.0.1 with a certificate ``ca`` issued for that address."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_ca_bundle_trusts_a_private_ca(
    inputs: Path,
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    bundle = inputs / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    recording = RecordingAPI()
    async with serving_tls(recording.app(), ca) as base_url:
        args = [
            *command_args("generate", inputs),
            "--base-url",
            f"{base_url}/v1",
            "--max-retries",
            "0",
        ]
        untrusted = await run_main(args)
        first_error = capsys.readouterr().err
        trusted = await run_main([*args, "--ca-bundle", str(bundle)])

    assert untrusted == 1
    assert "certificate" in first_error.lower()
    assert trusted == 0
    assert [request.path for request in recording.requests] == ["/v1/images/generations"]
    assert recording.last.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: None, "no such file"),
        (lambda path: path.write_text("not a certificate\n"), "holds no CA certificate in PEM"),
        (lambda path: path.mkdir(), "cannot read it"),
    ],
    ids=["missing", "not-pem", "directory"],
)
@pytest.mark.parametrize("command", API_COMMANDS)
async def test_a_bad_ca_bundle_is_a_usage_error(
    api: RecordingAPI,
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    make: Callable[[Path], object],
    message: str,
) -> None:
    bundle = inputs / "bundle.pem"
    make(bundle)

    assert await run_main([*command_args(command, inputs), "--ca-bundle", str(bundle)]) == 2

    err = capsys.readouterr().err
    assert f"argument --ca-bundle: {bundle}: {message}" in err
    assert "Traceback" not in err
    assert api.requests == []
    assert not (inputs / "out").exists()


# -- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", API_COMMANDS)
def test_help_documents_the_network_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args([command, "--help"])
    assert exit.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for text in (
        "--azure-endpoint URL",
        "--api-version VERSION",
        "--azure-deployment NAME",
        "--proxy URL",
        "--ca-bundle PATH",
        "AZURE_OPENAI_ENDPOINT in the environment, selects Azure OpenAI",
        "AZURE_OPENAI_API_KEY",
        "HTTPS_PROXY, HTTP_PROXY and NO_PROXY",
    ):
        assert text in shown, text


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_offline_commands_take_no_network_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    assert "--azure-endpoint" not in capsys.readouterr().out


# -- against the emulator ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["generate", "edit"])
async def test_azure_options_against_the_emulator(
    emulator: Emulator, inputs: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator refuses a wrong version, key or deployment: success proves all three."""
    emulator.config = attrs.evolve(
        emulator.config,
        api_keys=frozenset({AZURE_KEY}),
        azure_api_versions=frozenset({API_VERSION}),
        azure_deployments={"images-dep": "gpt-image-1"},
    )
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    azure = ["--azure-endpoint", emulator.azure_endpoint, "--api-version", API_VERSION]

    status = await run_main(
        [*command_args(command, inputs), *azure, "--azure-deployment", "images-dep"]
    )

    assert status == 0
    [call] = [call for call in list(emulator.requests) if call.method == "POST"]
    assert call.path == f"/openai/deployments/images-dep/images/{ENDPOINT_OF[command]}"
    assert (call.deployment, call.api_version, call.status) == ("images-dep", API_VERSION, 200)
    assert "api-key" in call.headers
    assert "Authorization" not in call.headers
    assert written_pngs(inputs)


async def test_a_wrong_azure_key_is_refused_by_the_emulator(
    emulator: Emulator,
    inputs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.config = attrs.evolve(emulator.config, api_keys=frozenset({AZURE_KEY}))
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-wrong-key-0123456789")
    azure = ["--azure-endpoint", emulator.azure_endpoint, "--api-version", API_VERSION]

    assert await run_main([*command_args("generate", inputs), *azure]) == 1

    err = capsys.readouterr().err
    assert err.startswith("images-async: error: ")
    assert "azure-wrong-key-0123456789" not in err
    assert [call.status for call in emulator.requests] == [401]


async def test_proxy_with_credentials_to_the_emulator(
    emulator: Emulator, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the test forward proxy, which insists on its credentials: only it can reach
    the unresolvable host, and it passes the call on to the emulator."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    upstream = URL(emulator.base_url).port
    assert upstream is not None
    async with ForwardProxy(upstream, credentials=("user", PROXY_PASSWORD)) as proxy:
        proxy_url = URL(proxy.url).with_user("user").with_password(PROXY_PASSWORD)
        args = ["--base-url", f"http://{UNRESOLVABLE}/v1", "--proxy", str(proxy_url)]
        assert await run_main([*command_args("generate", inputs), *args]) == 0

    [proxied] = proxy.requests
    assert proxied.request_line == f"POST http://{UNRESOLVABLE}/v1/images/generations HTTP/1.1"
    assert proxied.proxy_authorization == basic_credentials("user", PROXY_PASSWORD)
    [call] = [call for call in list(emulator.requests) if call.method == "POST"]
    assert (call.path, call.status) == ("/v1/images/generations", 200)
    assert written_pngs(inputs)


async def test_azure_through_the_forward_proxy_to_the_emulator(
    emulator: Emulator, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.config = attrs.evolve(emulator.config, api_keys=frozenset({AZURE_KEY}))
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)
    upstream = URL(emulator.base_url).port
    assert upstream is not None
    async with ForwardProxy(upstream) as proxy:
        args = ["--azure-endpoint", "http://azure.images.invalid", "--proxy", proxy.url]
        assert await run_main([*command_args("variations", inputs), *args]) == 0

    # dall-e-2 answers with an image URL: its download goes through the proxy too.
    call_request, download = proxy.requests
    assert call_request.target == (
        "http://azure.images.invalid/openai/deployments/dall-e-2/images/variations"
        f"?api-version={API_VERSION}"
    )
    assert download.method == "GET"
    assert download.target.startswith("http://azure.images.invalid/")  # the Host it saw
    assert len(written_pngs(inputs)) == 1
    [call] = [call for call in list(emulator.requests) if call.method == "POST"]
    assert (call.deployment, call.api_version, call.status) == ("dall-e-2", API_VERSION, 200)
