"""How a command reaches the API: which client its options build, through which proxy,
trusting which certificates.

Every command that calls the API takes the same options: ``--base-url`` (the OpenAI URL
layout), or the Azure OpenAI ones (``--azure-endpoint``, ``--api-version``,
``--azure-deployment``; the client reads the endpoint, version and credential from the
environment when they are not given), plus ``--proxy`` and ``--ca-bundle``. A CA bundle
is read while the arguments are parsed, so a missing or unreadable file is a usage error
(exit status 2) before anything is sent.
"""

from __future__ import annotations

import argparse
import os
import ssl
from typing import Any

from .. import AsyncImages

AZURE_DESCRIPTION = """\
Any of these options, or AZURE_OPENAI_ENDPOINT in the environment, selects Azure OpenAI
(not with --base-url). The credential is AZURE_OPENAI_API_KEY (sent as an api-key
header) or AZURE_OPENAI_AD_TOKEN.
"""

NETWORK_DESCRIPTION = """\
Without --proxy, HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment apply.
"""

#: The Azure options as the parser stores them, each the client argument of the same name.
AZURE_OPTIONS = ("azure_endpoint", "api_version", "azure_deployment")


def ca_bundle(text: str) -> ssl.SSLContext:
    """An argparse type: a TLS context trusting the CA certificates of the PEM file ``text``."""
    try:
        return ssl.create_default_context(cafile=text)
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{text}: no such file") from None
    except ssl.SSLError:
        raise argparse.ArgumentTypeError(
            f"{text}: holds no CA certificate in PEM format (-----BEGIN CERTIFICATE-----)"
        ) from None
    except OSError as exc:  # a directory, a file we may not read...
        raise argparse.ArgumentTypeError(f"{text}: cannot read it: {exc.strerror}") from None


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """The Azure OpenAI, proxy and TLS options of a command that calls the API."""
    azure = parser.add_argument_group("Azure OpenAI", AZURE_DESCRIPTION)
    azure.add_argument(
        "--azure-endpoint",
        metavar="URL",
        help="the resource's URL, https://NAME.openai.azure.com ($AZURE_OPENAI_ENDPOINT)",
    )
    azure.add_argument(
        "--api-version",
        metavar="VERSION",
        help="required on Azure, e.g. 2025-04-01-preview ($OPENAI_API_VERSION)",
    )
    azure.add_argument(
        "--azure-deployment",
        metavar="NAME",
        help="the deployment to call (default: the request's --model)",
    )
    network = parser.add_argument_group("proxy and TLS", NETWORK_DESCRIPTION)
    network.add_argument(
        "--proxy", metavar="URL", help="send every request through this http(s):// proxy"
    )
    network.add_argument(
        "--ca-bundle",
        metavar="PATH",
        type=ca_bundle,
        help="trust the CA certificates in this PEM file instead of the system's",
    )


def conflicting_options(args: argparse.Namespace) -> str | None:
    """Why the options cannot go together, or None: the two URL layouts exclude each other."""
    azure = [name for name in AZURE_OPTIONS if getattr(args, name, None) is not None]
    if getattr(args, "base_url", None) and azure:
        flags = ", ".join("--" + name.replace("_", "-") for name in azure)
        return f"--base-url is for the OpenAI API; it cannot go with {flags}"
    return None


def uses_azure(args: argparse.Namespace) -> bool:
    """Whether the command calls Azure OpenAI rather than the OpenAI API."""
    if args.base_url:
        return False
    given = any(getattr(args, name) is not None for name in AZURE_OPTIONS)
    return given or bool(os.environ.get("AZURE_OPENAI_ENDPOINT"))


def client_for(args: argparse.Namespace) -> AsyncImages:
    """The client of a command: OpenAI's or Azure's, with the options the user gave.

    Options not given are left out, so the client's own defaults and environment apply.
    """
    options: dict[str, Any] = {}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.proxy:
        options["proxy"] = args.proxy
    if args.ca_bundle is not None:
        options["ssl"] = args.ca_bundle
    if not uses_azure(args):
        if args.base_url:
            options["base_url"] = args.base_url
        return AsyncImages(**options)
    # Imported here: a command on the OpenAI API never loads the Azure client.
    from .. import AsyncAzureImages

    for name in AZURE_OPTIONS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return AsyncAzureImages(**options)
