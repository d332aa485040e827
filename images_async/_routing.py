"""Where a call goes and how it proves who sends it: the OpenAI layout, and Azure OpenAI's.

A route turns an endpoint's path (``images/edits``) and the request's model into a URL, and
gives the headers that authenticate the call: fixed ones (an API key, a static token), and
for a token provider fresh ones on every attempt, so a token that expires mid-retry is
renewed. The transport asks; it never knows which service it talks to.

Paths under an account-level collection (:data:`ACCOUNT_COLLECTIONS`: ``files``, ``batches``)
belong to no model: on Azure they sit at ``{endpoint}/openai/{path}``, not under a
deployment. Their URLs are not cached, since a path naming one file is used once or twice.

Credentials are kept out of every ``repr`` and message here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias, TypeGuard

from yarl import URL

from ._errors import InvalidRequestError, TokenProviderError

#: What Azure names in a URL (a deployment, an API version such as ``2025-04-01-preview``):
#: letters, digits, ``.``, ``_`` and ``-``, so it is one path segment or query value as is.
URL_NAME = re.compile(r"[A-Za-z0-9._-]+")

#: The first path segments of the calls that act on the account, not on a model.
ACCOUNT_COLLECTIONS = frozenset({"files", "batches"})

AzureADTokenProvider: TypeAlias = "Callable[[], str | Awaitable[str]]"
"""A callable returning a Microsoft Entra ID token, or an awaitable of one; called for every
attempt, so it can renew the token (keep a sync one quick: it runs on the event loop)."""


class OpenAIRoute:
    """``{base_url}/{path}``, with the key as a bearer token."""

    refreshes_credentials = False

    def __init__(
        self, *, base_url: URL, api_key: str, organization: str | None, project: str | None
    ) -> None:
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {api_key}"}
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self.headers: Mapping[str, str] = headers
        self._urls: dict[str, URL] = {}

    def url_for(self, path: str, model: str | None) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self.base_url / path
            if not is_account_path(path):  # once per endpoint: yarl joins cost on a hot path
                self._urls[path] = url
        return url

    async def fresh_headers(self) -> Mapping[str, str]:
        return {}

    def __repr__(self) -> str:
        return f"OpenAIRoute(base_url={str(self.base_url)!r})"


class AzureRoute:
    """``{endpoint}/openai/deployments/{deployment}/{path}?api-version=...``, or
    ``{endpoint}/openai/{path}?api-version=...`` for the account's files and batches.

    The deployment is ``azure_deployment`` when the client has one, else the request's
    ``model`` (as the official SDK does). An API key goes in an ``api-key`` header, a
    token in ``Authorization: Bearer``.
    """

    def __init__(
        self,
        *,
        endpoint: URL,
        api_version: str,
        deployment: str | None,
        api_key: str | None = None,
        token: str | None = None,
        token_provider: AzureADTokenProvider | None = None,
    ) -> None:
        self.base_url = endpoint
        self.api_version = api_version
        self.deployment = deployment
        if api_key is not None:
            self.headers: Mapping[str, str] = {"api-key": api_key}
        elif token is not None:
            self.headers = {"Authorization": f"Bearer {token}"}
        else:
            self.headers = {}
        self._token_provider = token_provider
        self.refreshes_credentials = token_provider is not None
        self._urls: dict[tuple[str, str], URL] = {}

    def url_for(self, path: str, model: str | None) -> URL:
        if is_account_path(path):
            return (self.base_url / "openai" / path).with_query({"api-version": self.api_version})
        deployment = self.deployment or model
        if not deployment:
            raise InvalidRequestError(
                "model: required on Azure OpenAI when the client has no azure_deployment "
                "(it names the deployment)",
                param="model",
            )
        if self.deployment is None and not is_deployment_name(deployment):
            # The model becomes a path segment: "a/b" or ".." would reach another URL.
            raise InvalidRequestError(
                f"model: {deployment!r} cannot name an Azure deployment (letters, digits, "
                "'.', '_' and '-'); pass azure_deployment to the client instead",
                param="model",
            )
        url = self._urls.get((path, deployment))
        if url is None:
            base = self.base_url / "openai" / "deployments" / deployment / path
            url = base.with_query({"api-version": self.api_version})
            if len(self._urls) < 64:  # deployments named by model: a few, but not trusted
                self._urls[(path, deployment)] = url
        return url

    async def fresh_headers(self) -> Mapping[str, str]:
        """The provider's current token; :class:`TokenProviderError` if it fails."""
        provider = self._token_provider
        if provider is None:
            return {}
        try:
            token = provider()
            if inspect.isawaitable(token):
                token = await token
        except Exception as exc:
            # Not quoted: a provider's message may carry what it was given.
            raise TokenProviderError(
                f"azure_ad_token_provider failed: {type(exc).__name__}"
            ) from exc
        if not isinstance(token, str) or not token or not token.isprintable():
            kind = type(token).__name__ if not isinstance(token, str) else "an unusable string"
            raise TokenProviderError(
                f"azure_ad_token_provider must return a non-empty token string, not {kind}"
            )
        return {"Authorization": f"Bearer {token}"}

    def __repr__(self) -> str:
        return (
            f"AzureRoute(endpoint={str(self.base_url)!r}, api_version={self.api_version!r}, "
            f"deployment={self.deployment!r})"
        )


def is_deployment_name(name: object) -> TypeGuard[str]:
    """True when ``name`` can be an Azure deployment: a string that is one safe path segment."""
    return (
        isinstance(name, str) and URL_NAME.fullmatch(name) is not None and name not in (".", "..")
    )


def is_account_path(path: str) -> bool:
    """True when ``path`` (``files``, ``files/{file_id}``...) acts on the account, not a model."""
    return path.partition("/")[0] in ACCOUNT_COLLECTIONS
