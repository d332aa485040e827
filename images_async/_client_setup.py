"""Making a client: its checked options and its transport, from a constructor's arguments.

Each client class checks its own credentials and builds its route (:mod:`._routing`); the
options every client shares are checked (by the rules of :mod:`._config`) and assembled
here, once, in one order, so a bad option is reported the same way by every client.
"""

from __future__ import annotations

from ._config import (
    ClientOptions,
    checked_headers,
    checked_limit,
    checked_proxy_rules,
    checked_query,
    checked_ssl,
)
from ._errors import ConfigurationError
from ._observe import log_to_stderr_if_asked
from ._transport import HTTPSession, Route, Transport


def client_parts(
    route: Route,
    *,
    timeout: object,
    max_retries: object,
    max_retry_wait: object,
    retry_policy: object,
    default_headers: object,
    default_query: object,
    max_connections: object,
    max_response_bytes: object,
    validate_requests: object,
    proxy: object,
    trust_env: object,
    ssl: object,
    on_attempt: object,
    http_session: HTTPSession | None,
) -> tuple[ClientOptions, Transport]:
    """The options and the transport of a client whose calls go over ``route``.

    :class:`ConfigurationError` names the first option that is refused.
    """
    log_to_stderr_if_asked()
    limit = checked_limit("max_connections", max_connections)
    options = ClientOptions.checked(
        timeout=timeout,
        retry_policy=retry_policy,
        max_retries=max_retries,
        max_retry_wait=max_retry_wait,
        max_response_bytes=max_response_bytes,
        validate_requests=validate_requests,
        on_attempt=on_attempt,
    )
    if http_session is not None and getattr(http_session, "trust_env", False):
        # Such a session looks proxies up on its own, past NO_PROXY and trust_env=False,
        # and sends ~/.netrc credentials: neither is this client's to allow.
        raise ConfigurationError(
            "http_session: made with trust_env=True, which would also send ~/.netrc "
            "credentials; make it with trust_env=False (the client reads HTTP_PROXY, "
            "HTTPS_PROXY and NO_PROXY itself, see trust_env)",
            option="http_session",
        )
    transport = Transport(
        route=route,
        default_headers=checked_headers(default_headers),
        default_query=checked_query(default_query),
        # aiohttp's connector takes 0 for "no limit".
        max_connections=0 if limit is None else limit,
        http_session=http_session,
        proxies=checked_proxy_rules(proxy, trust_env),
        ssl=checked_ssl(ssl),
    )
    return options, transport
