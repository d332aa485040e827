"""The rules for the client's options, checked before any connection exists.

A client's constructor and ``with_options`` use the ``checked_*`` functions, which return the
value to use or raise :class:`ConfigurationError` naming the option; the per-call ``timeout``
and ``max_retries`` follow the same rules but fail with :class:`InvalidRequestError`, as any
other call parameter does. Options left out are read from the environment here too.

Credentials are described, never quoted: not the API key, the organization or the project,
nor a user or password written into the base URL.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

from yarl import URL

from ._errors import ConfigurationError, InvalidRequestError
from ._transport import DEFAULT_BASE_URL, Timeout, TimeoutTypes

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
_CREDENTIALS = "must not contain credentials (user:password@); pass the API key as api_key"


def _fail(option: str, problem: str, variable: str | None = None) -> ConfigurationError:
    source = f" (read from {variable})" if variable else ""
    return ConfigurationError(f"{option}: {problem}{source}", option=option)


def _from_environment(given: object, variable: str) -> tuple[object, str | None]:
    """``given``, or the environment's value when it is None or empty, and where it came from."""
    if given is not None and given != "":
        return given, None
    value = os.environ.get(variable) or None
    return value, variable if value is not None else None


# -- credentials and headers ---------------------------------------------------------------


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


def checked_headers(headers: object) -> Mapping[str, str] | None:
    """``default_headers``: names that are HTTP tokens, string values without line breaks.

    Values are never quoted: a header may carry a secret of its own.
    """
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise _fail("default_headers", f"must be a mapping, not {type(headers).__name__}")
    for name, value in headers.items():
        if not isinstance(name, str):
            raise _fail("default_headers", f"names must be strings, not {type(name).__name__}")
        if not _HEADER_NAME.fullmatch(name):
            raise _fail("default_headers", f"{name!r} is not a valid header name")
        if not isinstance(value, str):
            problem = f"the value of {name} must be a string, not {type(value).__name__}"
            raise _fail("default_headers", problem)
        if found := _CONTROL_BUT_TAB.search(value):
            problem = f"the value of {name} contains the control character {found[0]!r}"
            raise _fail("default_headers", problem)
    return headers


# -- the base URL --------------------------------------------------------------------------


def checked_base_url(given: object) -> URL:
    """``base_url`` (or ``OPENAI_BASE_URL``, or the default): an http(s) URL with a host.

    Credentials are refused, since every request would carry them and messages could show
    them; a query string or fragment too, since joining a path to the URL drops them.
    """
    value, source = _from_environment(given, "OPENAI_BASE_URL")
    if value is None:
        return URL(DEFAULT_BASE_URL)
    if not isinstance(value, (str, URL)):
        raise _fail("base_url", f"must be a string or a yarl.URL, not {type(value).__name__}")
    text = str(value)
    if _USER_INFO.search(text):
        raise _fail("base_url", _CREDENTIALS, source)
    if _WHITESPACE_OR_CONTROL.search(text):
        problem = f"{_quoted(text)} contains white space or a control character"
        raise _fail("base_url", problem, source)
    url = _parsed(text, source)
    if url.user is not None or url.password is not None:  # an "@" the pattern did not see
        raise _fail("base_url", _CREDENTIALS, source)
    if url.scheme not in ("http", "https"):
        scheme = f"not {url.scheme}://" if url.scheme else "it has none"
        problem = f"{_quoted(text)} must start with http:// or https:// ({scheme})"
        raise _fail("base_url", problem, source)
    if not url.host:
        raise _fail("base_url", f"{_quoted(text)} has no host", source)
    if url.query_string or url.fragment:
        # Not quoted: a query string may hold a key of its own.
        problem = "must not have a query string or fragment; pass query parameters as default_query"
        raise _fail("base_url", problem, source)
    return url


def _parsed(text: str, source: str | None) -> URL:
    try:
        url = URL(text.rstrip("/"))
        # Older yarl releases check the port only when it is read.
        if url.port == 0:
            raise ValueError("port 0")
    except ValueError as exc:
        # yarl's reason may quote a part of the URL: shown only if no part can hold a secret.
        reason = "" if _SECRET_PARTS.search(text) else f" ({exc})"
        raise _fail("base_url", f"{_quoted(text)} is not a valid URL{reason}", source) from None
    return url


def _quoted(text: str) -> str:
    """The URL as a message may show it: without a query string or fragment, which may hold a
    key, and not at all when it holds an ``@`` (user information, perhaps)."""
    if "@" in text:
        return "the URL"
    return repr(_SECRET_PARTS.split(text, maxsplit=1)[0])


# -- numbers and flags ---------------------------------------------------------------------


def _fail_as(option: str, problem: str, *, per_call: bool) -> Exception:
    if per_call:
        return InvalidRequestError(f"{option}: {problem}", param=option)
    return _fail(option, problem)


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


def checked_retries(max_retries: object, *, per_call: bool = False) -> int:
    """A whole number of retries >= 0 (``per_call``: as for :func:`checked_timeout`)."""
    if isinstance(max_retries, int) and not isinstance(max_retries, bool) and max_retries >= 0:
        return max_retries
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


def checked_flag(option: str, value: object) -> bool:
    """``True`` or ``False``, nothing merely truthy."""
    if isinstance(value, bool):
        return value
    raise _fail(option, f"must be True or False, not {value!r}")
