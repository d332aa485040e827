"""Client configuration: defaults, the environment, the option rules, and frozen values.

* :class:`Timeout` and the ``DEFAULT_*`` values;
* the ``checked_*`` rules: a client's constructor and ``with_options`` get the value to use
  or a :class:`ConfigurationError` naming the option; the per-call ``timeout``,
  ``max_retries``, ``extra_headers`` and ``extra_query`` follow the same rules but fail with
  :class:`InvalidRequestError`, as any other call parameter does. Options left out are read
  from the environment here;
* :func:`checked_retry_policy`: a :class:`RetryPolicy` whose every field is usable;
* :func:`checked_proxy_rules` and :func:`checked_ssl`: how connections are made (proxies,
  certificate checks);
* :class:`ClientOptions`, the frozen per-client settings a derived client evolves.

Credentials are described, never quoted: not the API key, the organization or the project,
nor a user or password written into the base URL.
"""

from __future__ import annotations

import math
import os
import re
import ssl as ssl_module
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

import attrs
from yarl import URL

from ._errors import ConfigurationError, InsecureConnectionWarning, InvalidRequestError
from ._proxy import ProxyChoice, ProxyRules, proxy_url
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from ._observe import AttemptHook

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_CONNECTIONS = 100
#: Ten 4K PNGs as base64 fit comfortably; a larger body means a broken or hostile server.
DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024 * 1024


@attrs.frozen(kw_only=True)
class Timeout:
    """Time limits of one attempt, in seconds; None means no limit."""

    total: float | None = 600.0
    """Limit for the whole attempt (connecting, sending, waiting, reading the body)."""
    connect: float | None = None
    """Limit for getting a connection (waiting for a free one in the pool, or opening one)."""
    read: float | None = None
    """The longest silence between two reads of the response."""


TimeoutTypes: TypeAlias = "float | Timeout | None"
"""A timeout: seconds for the whole attempt, a :class:`Timeout`, or None for no limit."""

# A CR or LF in a header value would end the header and start one of the sender's choosing;
# aiohttp refuses every control character there. A tab is legal in a header value, but not
# in a credential.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
#: Where a URL may hold a secret: before an "@", or in its query string or fragment.
_SECRET_PARTS = re.compile(r"[@?#]")
#: What a header name may be made of (an RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: The user information of a URL as written, found even when the URL does not parse.
_USER_INFO = re.compile(r"^[^/?#]*//[^/?#]*@")
#: Where this package's modules live: frames from files under it are not the caller's.
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CREDENTIALS = "must not contain credentials (user:password@); pass the API key as api_key"


def _fail(option: str, problem: str, variable: str | None = None) -> ConfigurationError:
    source = f" (read from {variable})" if variable else ""
    return ConfigurationError(f"{option}: {problem}{source}", option=option)


def _fail_as(option: str, problem: str, *, per_call: bool) -> Exception:
    if per_call:
        return InvalidRequestError(f"{option}: {problem}", param=option)
    return _fail(option, problem)


def _from_environment(given: object, variable: str) -> tuple[object, str | None]:
    """``given``, or the environment's value when it is None or empty, and where it came from."""
    if given is not None and given != "":
        return given, None
    value = os.environ.get(variable) or None
    return value, variable if value is not None else None


# -- credentials, headers and query strings --------------------------------------------------


def checked_credential(option: str, given: object, variable: str) -> str | None:
    """``api_key``, ``organization`` or ``project``: a string an HTTP header can carry."""
    value, source = _from_environment(given, variable)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(option, f"must be a string, not {type(value).__name__}", source)
    if found := _CONTROL.search(value):
        # Most often a line break left over from reading the value from a file.
        problem = f"contains the control character {found[0]!r}; remove it"
        raise _fail(option, problem, source)
    return value


def checked_headers(
    headers: object, *, option: str = "default_headers", per_call: bool = False
) -> Mapping[str, str] | None:
    """``default_headers`` (or, ``per_call``, ``extra_headers``): names that are HTTP tokens,
    string values without line breaks.

    Values are never quoted: a header may carry a secret of its own.
    """
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        problem = f"must be a mapping, not {type(headers).__name__}"
        raise _fail_as(option, problem, per_call=per_call)
    for name, value in headers.items():
        if not isinstance(name, str):
            problem = f"names must be strings, not {type(name).__name__}"
            raise _fail_as(option, problem, per_call=per_call)
        if not _HEADER_NAME.fullmatch(name):
            raise _fail_as(option, f"{name!r} is not a valid header name", per_call=per_call)
        if not isinstance(value, str):
            problem = f"the value of {name} must be a string, not {type(value).__name__}"
            raise _fail_as(option, problem, per_call=per_call)
        if found := _CONTROL_BUT_TAB.search(value):
            problem = f"the value of {name} contains the control character {found[0]!r}"
            raise _fail_as(option, problem, per_call=per_call)
    return headers


def checked_query(
    query: object, *, option: str = "default_query", per_call: bool = False
) -> Mapping[str, str] | None:
    """``default_query`` (or, ``per_call``, ``extra_query``): string names, each with a string,
    a whole number or a finite float, which comes back as its text.

    Any character is fine (it is percent-encoded on the wire). Values are never quoted: a
    query string may carry a key of its own.
    """
    if query is None:
        return None
    if not isinstance(query, Mapping):
        problem = f"must be a mapping of names to values, not {type(query).__name__}"
        raise _fail_as(option, problem, per_call=per_call)
    checked: dict[str, str] = {}
    for name, value in query.items():
        if not isinstance(name, str):
            problem = f"names must be strings, not {type(name).__name__}"
            raise _fail_as(option, problem, per_call=per_call)
        if isinstance(value, str):
            checked[name] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            checked[name] = str(int(value))
        elif isinstance(value, float) and math.isfinite(value):
            checked[name] = str(float(value))
        else:
            kind = "a non-finite float" if isinstance(value, float) else type(value).__name__
            problem = f"the value of {name!r} must be a string or a finite number, not {kind}"
            raise _fail_as(option, problem, per_call=per_call)
    return checked


# -- the base URL --------------------------------------------------------------------------


def checked_base_url(
    given: object,
    option: str = "base_url",
    variable: str = "OPENAI_BASE_URL",
    default: str | None = DEFAULT_BASE_URL,
) -> URL:
    """``base_url`` (or ``OPENAI_BASE_URL``, or the default): an http(s) URL with a host.

    Credentials are refused, since every request would carry them and messages could show
    them; a query string or fragment too, since joining a path to the URL drops them. Other
    root URLs (``azure_endpoint``) pass their own option, variable and default (None: the
    option is required).
    """
    value, source = _from_environment(given, variable)
    if value is None:
        if default is None:
            raise _fail(option, f"required: pass {option}=... or set {variable}")
        return URL(default)
    if not isinstance(value, (str, URL)):
        raise _fail(option, f"must be a string or a yarl.URL, not {type(value).__name__}")
    text = str(value)
    if _USER_INFO.search(text):
        raise _fail(option, _CREDENTIALS, source)
    if _WHITESPACE_OR_CONTROL.search(text):
        problem = f"{_quoted(text)} contains white space or a control character"
        raise _fail(option, problem, source)
    url = _parsed(text, source, option)
    if url.user is not None or url.password is not None:  # an "@" the pattern did not see
        raise _fail(option, _CREDENTIALS, source)
    if url.scheme not in ("http", "https"):
        scheme = f"not {url.scheme}://" if url.scheme else "it has none"
        problem = f"{_quoted(text)} must start with http:// or https:// ({scheme})"
        raise _fail(option, problem, source)
    if not url.host:
        raise _fail(option, f"{_quoted(text)} has no host", source)
    if url.query_string or url.fragment:
        # Not quoted: a query string may hold a key of its own.
        problem = "must not have a query string or fragment; pass query parameters as default_query"
        raise _fail(option, problem, source)
    return url


def _parsed(text: str, source: str | None, option: str) -> URL:
    try:
        url = URL(text.rstrip("/"))
        # Older yarl releases check the port only when it is read.
        if url.port == 0:
            raise ValueError("port 0")
    except ValueError as exc:
        # yarl's reason may quote a part of the URL: shown only if no part can hold a secret.
        reason = "" if _SECRET_PARTS.search(text) else f" ({exc})"
        raise _fail(option, f"{_quoted(text)} is not a valid URL{reason}", source) from None
    return url


def _quoted(text: str) -> str:
    """The URL as a message may show it: without a query string or fragment, which may hold a
    key, and not at all when it holds an ``@`` (user information, perhaps)."""
    if "@" in text:
        return "the URL"
    return repr(_SECRET_PARTS.split(text, maxsplit=1)[0])


# -- connections: proxies and TLS ----------------------------------------------------------


def checked_proxy_rules(proxy: object, trust_env: object) -> ProxyRules:
    """``proxy`` (an http(s) URL, maybe with ``user:password@``) for every request, or with
    ``trust_env`` the environment's proxy variables (see :mod:`._proxy`), or no proxy."""
    trusted = checked_flag("trust_env", trust_env)
    if proxy is None or proxy == "":
        return ProxyRules.from_environment() if trusted else ProxyRules()
    if not isinstance(proxy, (str, URL)):
        raise _fail("proxy", f"must be a string or a yarl.URL, not {type(proxy).__name__}")
    text = str(proxy)
    url = None if _WHITESPACE_OR_CONTROL.search(text) or "://" not in text else proxy_url(text)
    if url is None:
        # Quoted only without user information, which may hold a password.
        shown = "the proxy URL" if "@" in text else repr(text)
        raise _fail("proxy", f"{shown} is not an http:// or https:// URL with a host")
    return ProxyRules(explicit=ProxyChoice.of(url))


def _callers_level() -> int:
    """The ``stacklevel`` that points a warning at the code that made the client, whichever
    client (async, sync, Azure) and however deep in this package the check runs."""
    level, frame = 2, sys._getframe(2)  # 2: the caller of the function that warns
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    return level


def checked_ssl(ssl: object) -> ssl_module.SSLContext | bool:
    """``ssl``: a context, True (the default checks) or False (none, with a warning)."""
    if ssl is None or ssl is True:
        return True
    if ssl is False:
        warnings.warn(
            "ssl=False: server certificates are not checked, so anyone on the network path "
            "can read and change the calls, API key included",
            InsecureConnectionWarning,
            stacklevel=_callers_level(),
        )
        return False
    if isinstance(ssl, ssl_module.SSLContext):
        return ssl
    problem = f"must be an ssl.SSLContext, True or False, not {type(ssl).__name__}"
    raise _fail("ssl", problem)


# -- numbers and flags ---------------------------------------------------------------------


def _real(value: object) -> float | None:
    """``value`` as a float if it is an int or a float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _is_positive_seconds(value: object) -> bool:
    seconds = _real(value)
    return seconds is not None and 0 < seconds < math.inf


def checked_timeout(timeout: object, *, per_call: bool = False) -> TimeoutTypes:
    """Seconds (as a float), a :class:`Timeout` with positive finite limits, or None.

    ``per_call`` makes a bad value an :class:`InvalidRequestError`, as for any call parameter.
    """
    if timeout is None:
        return None
    if isinstance(timeout, Timeout):
        for field in ("total", "connect", "read"):
            value = getattr(timeout, field)
            if value is not None and not _is_positive_seconds(value):
                problem = (
                    f"Timeout.{field} must be None or a positive, finite number, not {value!r}"
                )
                raise _fail_as("timeout", problem, per_call=per_call)
        return timeout
    seconds = _real(timeout)
    if seconds is None or not 0 < seconds < math.inf:
        problem = (
            "must be a positive, finite number of seconds, a Timeout, or None for no limit; "
            f"not {timeout!r}"
        )
        raise _fail_as("timeout", problem, per_call=per_call)
    return seconds


def _whole(value: object) -> int | None:
    """``value`` if it is a whole number >= 0 (an int, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def checked_retries(max_retries: object, *, per_call: bool = False) -> int:
    """A whole number of retries >= 0 (``per_call``: as for :func:`checked_timeout`)."""
    if (retries := _whole(max_retries)) is not None:
        return retries
    problem = f"must be a whole number >= 0, not {max_retries!r}"
    raise _fail_as("max_retries", problem, per_call=per_call)


def checked_count(option: str, value: object, *, also: str = "") -> int:
    """A whole number >= 1; ``also`` adds to the message what else the option takes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _fail(option, f"must be a whole number >= 1{also}, not {value!r}")


def checked_limit(option: str, value: object) -> int | None:
    """A whole number >= 1, or None for no limit."""
    return None if value is None else checked_count(option, value, also=", or None for no limit")


def checked_seconds(option: str, value: object) -> float:
    """A finite number of seconds >= 0."""
    seconds = _real(value)
    if seconds is None or not 0 <= seconds < math.inf:
        raise _fail(option, f"must be a finite number of seconds >= 0, not {value!r}")
    return seconds


def checked_retry_policy(policy: object) -> RetryPolicy:
    """``retry_policy``: a :class:`RetryPolicy` with whole retries >= 0 and finite waits >= 0.

    The policy comes back with its waits as floats.
    """
    if not isinstance(policy, RetryPolicy):
        raise _fail("retry_policy", f"must be a RetryPolicy, not {type(policy).__name__}")
    if _whole(policy.max_retries) is None:
        problem = f"RetryPolicy.max_retries must be a whole number >= 0, not {policy.max_retries!r}"
        raise _fail("retry_policy", problem)
    initial_delay, max_delay, max_retry_wait = (
        _checked_policy_seconds(field, getattr(policy, field))
        for field in ("initial_delay", "max_delay", "max_retry_wait")
    )
    return attrs.evolve(
        policy, initial_delay=initial_delay, max_delay=max_delay, max_retry_wait=max_retry_wait
    )


def _checked_policy_seconds(field: str, value: object) -> float:
    seconds = _real(value)
    if seconds is None or not 0 <= seconds < math.inf:
        problem = f"RetryPolicy.{field} must be a finite number of seconds >= 0, not {value!r}"
        raise _fail("retry_policy", problem)
    return seconds


def checked_hooks(hooks: object) -> tuple[AttemptHook, ...]:
    """``on_attempt``: one callable, or a sequence of them (empty or None: no hooks)."""
    if hooks is None:
        return ()
    if callable(hooks):
        return (hooks,)
    if isinstance(hooks, Sequence) and not isinstance(hooks, (str, bytes)):
        for hook in hooks:
            if not callable(hook):
                problem = f"every hook must be callable, not {type(hook).__name__}"
                raise _fail("on_attempt", problem)
        return tuple(hooks)
    problem = f"must be a callable or a sequence of callables, not {type(hooks).__name__}"
    raise _fail("on_attempt", problem)


def checked_flag(option: str, value: object) -> bool:
    """``True`` or ``False``, nothing merely truthy."""
    if isinstance(value, bool):
        return value
    raise _fail(option, f"must be True or False, not {value!r}")


# -- the frozen per-client options -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class ClientOptions:
    """What a client applies to every call; ``with_options`` derives another with ``evolve``."""

    timeout: TimeoutTypes
    """Each attempt's time limits."""
    retry_policy: RetryPolicy
    """How often to retry, and how long to wait in between."""
    max_response_bytes: int
    """The most decoded bytes of a response body."""
    validate_requests: bool
    """Check parameters and files before sending (False: the server checks everything)."""
    on_attempt: tuple[AttemptHook, ...] = ()
    """Called with an :class:`AttemptEvent` after every attempt of every call."""

    @classmethod
    def checked(
        cls,
        *,
        timeout: object,
        retry_policy: object,
        max_retries: object,
        max_retry_wait: object,
        max_response_bytes: object,
        validate_requests: object,
        on_attempt: object = None,
    ) -> ClientOptions:
        """The options of a new client, each checked by its rule.

        ``retry_policy`` None means the default :class:`RetryPolicy`; ``max_retries`` and
        ``max_retry_wait``, when not None, replace its fields of the same name.
        """
        policy = RetryPolicy() if retry_policy is None else checked_retry_policy(retry_policy)
        return cls(
            timeout=checked_timeout(timeout),
            retry_policy=_with_retry_options(policy, max_retries, max_retry_wait),
            max_response_bytes=checked_count("max_response_bytes", max_response_bytes),
            validate_requests=checked_flag("validate_requests", validate_requests),
            on_attempt=checked_hooks(on_attempt),
        )

    def derived(
        self,
        *,
        timeout: object = None,
        retry_policy: object = None,
        max_retries: object = None,
        max_retry_wait: object = None,
        validate_requests: object = None,
        on_attempt: object = None,
    ) -> ClientOptions:
        """These options with the given ones (not None) replaced, each checked by its rule.

        A ``retry_policy`` replaces the whole policy; ``max_retries`` and ``max_retry_wait``
        then replace its fields of the same name.
        """
        policy = self.retry_policy if retry_policy is None else checked_retry_policy(retry_policy)
        return attrs.evolve(
            self,
            timeout=self.timeout if timeout is None else checked_timeout(timeout),
            retry_policy=_with_retry_options(policy, max_retries, max_retry_wait),
            validate_requests=(
                self.validate_requests
                if validate_requests is None
                else checked_flag("validate_requests", validate_requests)
            ),
            on_attempt=self.on_attempt if on_attempt is None else checked_hooks(on_attempt),
        )

    def for_call(self, timeout: object, max_retries: object) -> ClientOptions:
        """These options with one call's ``timeout`` / ``max_retries`` (None: keep)."""
        policy = self.retry_policy
        if max_retries is not None:
            retries = checked_retries(max_retries, per_call=True)
            policy = attrs.evolve(policy, max_retries=retries)
        if timeout is not None:
            timeout = checked_timeout(timeout, per_call=True)
        return attrs.evolve(
            self, timeout=self.timeout if timeout is None else timeout, retry_policy=policy
        )


def _with_retry_options(
    policy: RetryPolicy, max_retries: object, max_retry_wait: object
) -> RetryPolicy:
    """``policy`` with the client options ``max_retries`` / ``max_retry_wait`` (None: keep)."""
    if max_retries is not None:
        policy = attrs.evolve(policy, max_retries=checked_retries(max_retries))
    if max_retry_wait is not None:
        wait = checked_seconds("max_retry_wait", max_retry_wait)
        policy = attrs.evolve(policy, max_retry_wait=wait)
    return policy
