"""Which proxy a request goes through, if any.

An explicit ``proxy=`` carries every request. Otherwise, when the client trusts the
environment, the variables curl and most HTTP clients read decide, per request URL:
``HTTPS_PROXY`` / ``HTTP_PROXY`` (by the URL's scheme), then ``ALL_PROXY``, each in lower
or upper case (lower case first), unless ``NO_PROXY`` names the host. Only proxies are read:
aiohttp's own ``trust_env`` would also send credentials from ``~/.netrc``, which this client
never does. The environment is read once, when the client is made.

Proxy URLs may carry a user and password; they are split off here into a Basic
``Proxy-Authorization`` value and never shown. :meth:`ProxyRules.options_for` gives the
transport the proxy arguments of each request.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
from collections.abc import Mapping

import attrs
from yarl import URL

from ._errors import ConfigurationError


@attrs.frozen
class ProxyChoice:
    """The proxy one request goes through, its credentials apart."""

    url: URL
    """The proxy, without user information."""
    authorization: str | None = attrs.field(default=None, repr=False)
    """The ``Proxy-Authorization`` value (Basic) for the user and password of the URL."""

    @classmethod
    def of(cls, url: URL) -> ProxyChoice:
        """The proxy ``url`` names, its ``user:password@`` (if any) turned into a header."""
        if url.user is None:
            return cls(url)
        pair = f"{url.user}:{url.password or ''}".encode()
        return cls(url.with_user(None), f"Basic {base64.b64encode(pair).decode('ascii')}")


def _environment(
    names: tuple[str, ...], environ: Mapping[str, str]
) -> tuple[str, str] | tuple[None, None]:
    """The first variable of ``names`` set to something, and its value."""
    for name in names:
        for spelling in (name.lower(), name):
            value = environ.get(spelling, "").strip()
            if value:
                return spelling, value
    return None, None


def proxy_url(text: str) -> URL | None:
    """A proxy as the environment writes it (``host:port`` means ``http://host:port``);
    None when it is none: another scheme, no host, white space or control characters."""
    if any(character.isspace() or not character.isprintable() for character in text):
        return None
    if "://" not in text:
        text = f"http://{text}"
    try:
        url = URL(text)
    except ValueError:
        return None
    return url if url.scheme in ("http", "https") and url.host else None


def _no_proxy_entries(value: str) -> tuple[str, ...]:
    return tuple(entry.strip().lower() for entry in value.split(",") if entry.strip())


def _bypassed(host: str, port: int | None, entries: tuple[str, ...]) -> bool:
    """Whether a NO_PROXY entry names the host (and port, when it gives one): ``*``, a name
    or a domain it ends in (``example.com``, ``.example.com``, ``*.example.com``), an IP
    address (any spelling) or an address range (``10.0.0.0/8``, ``fd00::/8``)."""
    host = host.lower().rstrip(".")
    address = _address(host)
    for entry in entries:
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and str(port) != entry_port:
            continue
        name = name.strip("[]").removeprefix("*").lstrip(".")
        if address is None:
            if name and (host == name or host.endswith("." + name)):
                return True
        elif "/" in name:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(name, strict=False):
                    return True
        elif address == _address(name):  # an address is never a domain's suffix
            return True
    return False


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _has_port(entry: str) -> bool:
    """Whether a NO_PROXY entry ends in ``:port`` (not a bare IPv6 address)."""
    head, colon, tail = entry.rpartition(":")
    return bool(colon) and tail.isdigit() and (entry.count(":") == 1 or head.endswith("]"))


@attrs.frozen
class ProxyRules:
    """The proxy settings of one client: what :func:`choose` answers for each URL."""

    explicit: ProxyChoice | None = None
    http: ProxyChoice | None = None
    https: ProxyChoice | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ProxyRules:
        """The rules the environment sets; :class:`ConfigurationError` naming a variable
        that holds no usable proxy URL (rather than quietly connecting directly)."""
        environ = os.environ if environ is None else environ
        if "REQUEST_METHOD" in environ:
            # Under CGI, HTTP_PROXY holds the request's "Proxy:" header, which the caller
            # chose ("httpoxy"): the upper-case spelling is not a setting there.
            environ = {k: v for k, v in environ.items() if k != "HTTP_PROXY"}
        found: dict[str, ProxyChoice | None] = {}
        for scheme in ("http", "https"):
            variable, text = _environment((f"{scheme.upper()}_PROXY", "ALL_PROXY"), environ)
            url = None if text is None else proxy_url(text)
            if variable is not None and url is None:
                raise ConfigurationError(
                    f"{variable}: not an http:// or https:// proxy URL with a host",
                    option="trust_env",
                )
            found[scheme] = None if url is None else ProxyChoice.of(url)
        _, no_proxy = _environment(("NO_PROXY",), environ)
        return cls(
            http=found["http"], https=found["https"], no_proxy=_no_proxy_entries(no_proxy or "")
        )

    @property
    def any(self) -> bool:
        """Whether any request may go through a proxy."""
        return self.explicit is not None or self.http is not None or self.https is not None

    def choose(self, url: URL) -> ProxyChoice | None:
        """The proxy for a request to ``url``, or None to connect directly."""
        if self.explicit is not None:
            return self.explicit
        choice = self.https if url.scheme == "https" else self.http
        if choice is None or (url.host and _bypassed(url.host, url.port, self.no_proxy)):
            return None
        return choice

    def options_for(self, url: URL) -> tuple[dict[str, object], Mapping[str, str]]:
        """aiohttp's proxy arguments for a request to ``url`` (none: connect directly), and the
        headers the request itself must carry.

        Credentials go in ``proxy_headers``, which aiohttp sends in a CONNECT only, so for
        ``https://``; a plain ``http://`` request to the proxy carries them in its own
        headers. (aiohttp's ``proxy_auth`` would do both, but it is deprecated.)
        """
        choice = self.choose(url) if self.any else None
        if choice is None:
            return {}, {}
        if choice.authorization is None:
            return {"proxy": choice.url}, {}
        credentials = {"Proxy-Authorization": choice.authorization}
        options = {"proxy": choice.url, "proxy_headers": credentials}
        return options, credentials if url.scheme == "http" else {}
