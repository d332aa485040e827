"""Azure OpenAI: :class:`AsyncAzureImages`, the same client over Azure's URLs and credentials.

Only the constructor differs from :class:`AsyncImages`: it checks the Azure options (from
its arguments, or ``AZURE_OPENAI_ENDPOINT``, ``OPENAI_API_VERSION``,
``AZURE_OPENAI_API_KEY`` and ``AZURE_OPENAI_AD_TOKEN``) and builds an
:class:`~._routing.AzureRoute`; every method, response mode and fan-out is inherited. The sync
twin :class:`AzureImages` is generated from this module.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from ssl import SSLContext
from typing import TYPE_CHECKING

from yarl import URL

from ._async_images import AsyncImages
from ._client_setup import client_parts
from ._config import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    Timeout,
    checked_base_url,
    checked_credential,
)
from ._errors import ConfigurationError, MissingAPIKeyError
from ._retry import RetryPolicy
from ._routing import URL_NAME, AzureADTokenProvider, AzureRoute, is_deployment_name
from ._transport import HTTPSession

if TYPE_CHECKING:
    from ._observe import AttemptHook


def _checked_api_version(given: object) -> str:
    value = checked_credential("api_version", given, "OPENAI_API_VERSION")
    if value is None:
        raise ConfigurationError(
            "api_version: required on Azure OpenAI: pass api_version=... "
            '(for example "2025-04-01-preview") or set OPENAI_API_VERSION',
            option="api_version",
        )
    if not URL_NAME.fullmatch(value):
        raise ConfigurationError(
            f"api_version: {value!r} is not an API version (such as 2025-04-01-preview)",
            option="api_version",
        )
    return value


def _checked_deployment(given: object) -> str | None:
    if given is None:
        return None
    if not is_deployment_name(given):
        shown = repr(given) if isinstance(given, str) else type(given).__name__
        raise ConfigurationError(
            f"azure_deployment: {shown} is not a deployment name "
            "(letters, digits, '.', '_' and '-')",
            option="azure_deployment",
        )
    return given


def _azure_route(
    *,
    azure_endpoint: object,
    api_version: object,
    azure_deployment: object,
    api_key: object,
    azure_ad_token: object,
    azure_ad_token_provider: object,
) -> AzureRoute:
    """The route of an Azure client: arguments first, then the environment.

    At most one credential may be passed. With none, the environment is read as the
    official SDK reads it: ``AZURE_OPENAI_AD_TOKEN`` first, then ``AZURE_OPENAI_API_KEY``.
    """
    endpoint = checked_base_url(
        azure_endpoint, option="azure_endpoint", variable="AZURE_OPENAI_ENDPOINT", default=None
    )
    version = _checked_api_version(api_version)
    deployment = _checked_deployment(azure_deployment)
    credentials = {
        "api_key": api_key,
        "azure_ad_token": azure_ad_token,
        "azure_ad_token_provider": azure_ad_token_provider,
    }
    # "" counts as not given, as everywhere else an option falls back to the environment.
    given = [name for name, value in credentials.items() if value is not None and value != ""]
    if len(given) > 1:
        raise ConfigurationError(
            f"pass one credential, not {' and '.join(given)}", option=given[-1]
        )
    route = functools.partial(
        AzureRoute, endpoint=endpoint, api_version=version, deployment=deployment
    )
    if given == ["azure_ad_token_provider"]:
        if not callable(azure_ad_token_provider):
            problem = f"must be callable, not {type(azure_ad_token_provider).__name__}"
            raise ConfigurationError(
                f"azure_ad_token_provider: {problem}", option="azure_ad_token_provider"
            )
        return route(token_provider=azure_ad_token_provider)
    if given == ["api_key"]:
        return route(api_key=checked_credential("api_key", api_key, "AZURE_OPENAI_API_KEY"))
    token = checked_credential("azure_ad_token", azure_ad_token, "AZURE_OPENAI_AD_TOKEN")
    if token is not None:
        return route(token=token)
    key = checked_credential("api_key", None, "AZURE_OPENAI_API_KEY")
    if key is not None:
        return route(api_key=key)
    raise MissingAPIKeyError(
        "no credential: pass api_key=..., azure_ad_token=... or "
        "azure_ad_token_provider=..., or set AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN"
    )


class AsyncAzureImages(AsyncImages):
    """Client for the Images API of Azure OpenAI: the methods of :class:`AsyncImages`.

    Reads ``AZURE_OPENAI_ENDPOINT``, ``OPENAI_API_VERSION``, ``AZURE_OPENAI_API_KEY`` and
    ``AZURE_OPENAI_AD_TOKEN`` from the environment when the matching argument is not given.
    Use it as a context manager (``async with``) or call :meth:`~AsyncImages.aclose` when done.
    """

    def __init__(
        self,
        *,
        azure_endpoint: str | URL | None = None,
        api_version: str | None = None,
        azure_deployment: str | None = None,
        api_key: str | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: AzureADTokenProvider | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        retry_policy: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, str] | None = None,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        validate_requests: bool = True,
        proxy: str | URL | None = None,
        trust_env: bool = True,
        ssl: SSLContext | bool | None = None,
        on_attempt: AttemptHook | Sequence[AttemptHook] | None = None,
        http_session: HTTPSession | None = None,
    ) -> None:
        """Configure the client; no connection is made until the first call.

        ``azure_endpoint`` is the resource's URL (``https://NAME.openai.azure.com``) and
        ``api_version`` is required. Calls go to
        ``{azure_endpoint}/openai/deployments/{deployment}/images/...``: the deployment is
        ``azure_deployment``, or each request's ``model`` when it is not set. Pass one
        credential: ``api_key`` (sent as an ``api-key`` header), ``azure_ad_token``, or
        ``azure_ad_token_provider``, a sync or async callable returning a Microsoft Entra
        ID token, called before every attempt so tokens renew. The other options are those
        of :class:`AsyncImages`. A bad option raises ``ConfigurationError`` naming it.
        """
        route = _azure_route(
            azure_endpoint=azure_endpoint,
            api_version=api_version,
            azure_deployment=azure_deployment,
            api_key=api_key,
            azure_ad_token=azure_ad_token,
            azure_ad_token_provider=azure_ad_token_provider,
        )
        self._options, self._transport = client_parts(
            route,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            retry_policy=retry_policy,
            default_headers=default_headers,
            default_query=default_query,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            validate_requests=validate_requests,
            proxy=proxy,
            trust_env=trust_env,
            ssl=ssl,
            on_attempt=on_attempt,
            http_session=http_session,
        )
        self._owns_transport = True

    def __repr__(self) -> str:
        route = self._transport.route
        assert isinstance(route, AzureRoute)
        return (
            f"{type(self).__name__}(azure_endpoint={str(route.base_url)!r}, "
            f"api_version={route.api_version!r}, azure_deployment={route.deployment!r})"
        )
