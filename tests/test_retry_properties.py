"""Properties of the retry schedule (_retry) and header parsing (_headers), without a server.

* The rules are the documented ones, written out here: 408, 409, 429 and every status from
  500 up are retried; a ``RetryPolicy()`` retries twice, from 0.5 s up to 8 s, and waits at
  most 60 s for a server.

* ``RetryPolicy.backoff`` stays within [0.75, 1] x min(initial * 2**n, max_delay).
* ``delay_before_retry`` gives up (None) exactly when retries are exhausted, the status is
  not retryable, ``x-should-retry: false`` says so, the quota is exhausted, or the server
  asks for a wait above the cap; otherwise it waits what the server asked, or backs off.
* ``decide_retry`` (whose wait ``delay_before_retry`` is) says why it does not retry: not
  worth it, retries exhausted, or too long a wait asked for, in that order.
* ``server_requested_wait`` reads any non-negative number of seconds or milliseconds, and
  HTTP dates in every zone spelling, against a fixed ``now``.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from images_async import RetryPolicy
from images_async._headers import server_requested_wait
from images_async._retry import (
    NOT_WORTH_RETRYING,
    decide_retry,
    delay_before_retry,
    should_retry_status,
)

#: A fixed "now" (a whole second, as HTTP dates have whole seconds).
NOW = 1_700_000_000.0
STATUSES = [400, 401, 403, 404, 408, 409, 422, 429, 499, 500, 501, 502, 503, 504, 505, 520, 599]
VERDICTS = [None, "true", "false", "TRUE", " False ", "maybe"]
ERROR_CODES = [None, "insufficient_quota", "rate_limit_exceeded"]

policies = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 6),
    initial_delay=st.floats(0.001, 5.0),
    max_delay=st.floats(0.001, 60.0),
    max_retry_wait=st.floats(0.0, 100.0),
)
#: A server wait as (header name, header value, seconds it means), or None for no header.
server_waits = st.one_of(
    st.none(),
    st.floats(0.0, 200.0).map(lambda s: ("Retry-After", repr(s), s)),
    st.floats(0.0, 200_000.0).map(lambda ms: ("retry-after-ms", repr(ms), ms / 1000.0)),
)


def documented_retryable(status: int) -> bool:
    """Whether the API's documentation says a status is retried, written out rather than
    read from the code under test: 408, 409, 429 and every status from 500 up."""
    return status in (408, 409, 429) or status >= 500


def ceiling(policy: RetryPolicy, retries_taken: int) -> float:
    """The backoff before jitter, computed without overflowing for huge ``retries_taken``."""
    if retries_taken > 1023:
        return policy.max_delay
    return min(policy.initial_delay * 2.0**retries_taken, policy.max_delay)


@contextlib.contextmanager
def local_time_zone(name: str) -> Iterator[None]:
    """Run with ``TZ=name`` (naive datetimes then mean that zone), restoring it after."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


# --- the documented rules ------------------------------------------------------------------


def test_the_default_policy_is_the_documented_one() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.initial_delay, policy.max_delay) == (2, 0.5, 8.0)
    assert policy.max_retry_wait == 60.0


@pytest.mark.parametrize("status", range(400, 600))
def test_the_documented_statuses_are_retried(status: int) -> None:
    assert should_retry_status(status, CIMultiDict(), None) == documented_retryable(status)


# --- backoff ------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    policy=policies,
    retries_taken=st.integers(0, 3000),
    jitter=st.floats(0.0, 1.0, exclude_max=True),
)
def test_backoff_stays_within_a_quarter_below_the_capped_exponential(
    policy: RetryPolicy, retries_taken: int, jitter: float
) -> None:
    delay = policy.backoff(retries_taken, jitter=lambda: jitter)
    top = ceiling(policy, retries_taken)
    assert 0.75 * top <= delay <= top
    assert delay <= policy.max_delay


@settings(max_examples=100, deadline=None)
@given(policy=policies, retries_taken=st.integers(0, 3000))
def test_backoff_with_its_own_random_jitter_stays_in_range(
    policy: RetryPolicy, retries_taken: int
) -> None:
    delay = policy.backoff(retries_taken)
    assert 0.75 * ceiling(policy, retries_taken) <= delay <= policy.max_delay


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    assert [policy.backoff(n, jitter=lambda: 0.0) for n in range(7)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
        8.0,
    ]
    assert policy.backoff(0, jitter=lambda: 1.0) == 0.375


def test_backoff_jitter_varies_between_calls() -> None:
    policy = RetryPolicy()
    assert len({policy.backoff(3) for _ in range(20)}) > 1


# --- delay_before_retry -------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    policy=policies,
    retries_taken=st.integers(0, 7),
    status=st.sampled_from(STATUSES),
    verdict=st.sampled_from(VERDICTS),
    error_code=st.sampled_from(ERROR_CODES),
    wait=server_waits,
)
def test_delay_before_retry_gives_up_exactly_when_it_should(
    policy: RetryPolicy,
    retries_taken: int,
    status: int,
    verdict: str | None,
    error_code: str | None,
    wait: tuple[str, str, float] | None,
) -> None:
    headers: CIMultiDict[str] = CIMultiDict()
    if verdict is not None:
        headers["x-should-retry"] = verdict
    if wait is not None:
        headers[wait[0]] = wait[1]
    spoken = None if verdict is None else verdict.strip().lower()
    retryable = spoken == "true" or (spoken != "false" and documented_retryable(status))
    quota_exhausted = status == 429 and error_code == "insufficient_quota"
    above_cap = wait is not None and wait[2] > policy.max_retry_wait
    gives_up = retries_taken >= policy.max_retries or not retryable or quota_exhausted or above_cap

    delay = delay_before_retry(
        policy, retries_taken, status=status, headers=headers, error_code=error_code
    )

    if gives_up:
        assert delay is None
    elif wait is not None:
        assert delay == wait[2]
    else:
        assert delay is not None
        assert 0.75 * ceiling(policy, retries_taken) <= delay <= ceiling(policy, retries_taken)


@settings(max_examples=100, deadline=None)
@given(
    policy=policies,
    retries_taken=st.integers(0, 7),
    status=st.sampled_from(STATUSES),
    error_code=st.sampled_from(ERROR_CODES),
    wait=server_waits,
)
def test_the_decision_says_why_it_does_not_retry(
    policy: RetryPolicy,
    retries_taken: int,
    status: int,
    error_code: str | None,
    wait: tuple[str, str, float] | None,
) -> None:
    headers: CIMultiDict[str] = CIMultiDict()
    if wait is not None:
        headers[wait[0]] = wait[1]
    quota_exhausted = status == 429 and error_code == "insufficient_quota"

    decision = decide_retry(
        policy, retries_taken, status=status, headers=headers, error_code=error_code
    )

    if not documented_retryable(status) or quota_exhausted:
        assert decision == NOT_WORTH_RETRYING
        assert decision.why_not == "not worth retrying"
        assert not decision.worth_retrying
        return
    assert decision.worth_retrying
    if retries_taken >= policy.max_retries:
        assert decision.wait is None
        assert decision.why_not == f"retries exhausted ({retries_taken} of {policy.max_retries})"
    elif wait is not None and wait[2] > policy.max_retry_wait:
        assert decision.wait is None
        assert decision.why_not == (
            f"the server asked to wait {wait[2]:g}s, "
            f"longer than max_retry_wait={policy.max_retry_wait:g}s"
        )
    else:
        assert decision.wait is not None
        assert decision.why_not is None


@settings(max_examples=100, deadline=None)
@given(policy=policies, retries_taken=st.integers(0, 7))
def test_failures_without_a_response_back_off_until_retries_run_out(
    policy: RetryPolicy, retries_taken: int
) -> None:
    delay = delay_before_retry(policy, retries_taken)
    if retries_taken >= policy.max_retries:
        assert delay is None
    else:
        assert delay is not None
        assert 0.75 * ceiling(policy, retries_taken) <= delay <= ceiling(policy, retries_taken)


@pytest.mark.parametrize("verdict", ["true", "false", None])
def test_insufficient_quota_is_never_retried_whatever_the_headers_say(
    verdict: str | None,
) -> None:
    headers = CIMultiDict({"Retry-After": "1"})
    if verdict is not None:
        headers["x-should-retry"] = verdict
    assert not should_retry_status(429, headers, "insufficient_quota")
    delay = delay_before_retry(
        RetryPolicy(), 0, status=429, headers=headers, error_code="insufficient_quota"
    )
    assert delay is None


# --- server_requested_wait ----------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(seconds=st.floats(0.0, 1e12))
def test_any_non_negative_number_of_seconds_is_read(seconds: float) -> None:
    assert server_requested_wait({"retry-after": repr(seconds)}) == seconds
    assert server_requested_wait({"retry-after-ms": repr(seconds)}) == seconds / 1000.0


@settings(max_examples=100, deadline=None)
@given(whole=st.integers(0, 10**9))
def test_whole_numbers_are_read_in_both_headers(whole: int) -> None:
    assert server_requested_wait({"retry-after": str(whole)}) == whole
    assert server_requested_wait({"retry-after-ms": str(whole)}) == whole / 1000.0


@settings(max_examples=100, deadline=None)
@given(seconds=st.floats(0.0, 1e6), milliseconds=st.floats(0.0, 1e6))
def test_milliseconds_win_over_seconds(seconds: float, milliseconds: float) -> None:
    headers = {"retry-after": repr(seconds), "retry-after-ms": repr(milliseconds)}
    assert server_requested_wait(headers) == milliseconds / 1000.0


@settings(max_examples=100, deadline=None)
@given(negative=st.floats(max_value=-1e-9, allow_nan=False))
def test_negative_waits_mean_no_wait(negative: float) -> None:
    assert server_requested_wait({"retry-after": repr(negative)}) == 0.0
    assert server_requested_wait({"retry-after-ms": repr(negative)}) == 0.0


@settings(max_examples=100, deadline=None)
@given(
    offset=st.integers(0, 10**8),
    spelling=st.sampled_from(["GMT", "-0000", "+0000", "+0530", "-0800"]),
)
def test_http_dates_in_the_future_are_read_against_now(offset: int, spelling: str) -> None:
    when = datetime.datetime.fromtimestamp(NOW + offset, tz=datetime.timezone.utc)
    if spelling == "GMT":
        text = email.utils.format_datetime(when, usegmt=True)
    elif spelling == "-0000":
        text = email.utils.format_datetime(when.replace(tzinfo=None))
    else:
        sign = 1 if spelling[0] == "+" else -1
        zone = datetime.timedelta(hours=int(spelling[1:3]), minutes=int(spelling[3:]))
        text = email.utils.format_datetime(when.astimezone(datetime.timezone(sign * zone)))
    assert text.endswith(spelling)
    # Not UTC, so a "-0000" date read as local time would be hours off.
    with local_time_zone("America/New_York"):
        assert server_requested_wait(CIMultiDict({"Retry-After": text}), now=lambda: NOW) == offset


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(1, 10**8))
def test_http_dates_in_the_past_mean_no_wait(offset: int) -> None:
    text = email.utils.formatdate(NOW - offset, usegmt=True)
    assert server_requested_wait(CIMultiDict({"Retry-After": text}), now=lambda: NOW) == 0.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"retry-after": "soon"},
        {"retry-after": ""},
        {"retry-after": "nan"},
        {"retry-after-ms": "nan"},
        {"retry-after-ms": "later"},
        {"retry-after": "Mon, 99 Foo 2024 25:61:61 GMT"},
    ],
)
def test_unusable_headers_ask_for_no_particular_wait(headers: dict[str, str]) -> None:
    assert server_requested_wait(headers, now=lambda: NOW) is None


def test_unusable_milliseconds_fall_back_to_seconds() -> None:
    assert server_requested_wait({"retry-after-ms": "soon", "retry-after": "2"}) == 2.0


def test_an_unusable_wait_backs_off_instead_of_giving_up() -> None:
    policy = RetryPolicy(initial_delay=1.0)
    delay = delay_before_retry(policy, 0, status=429, headers=CIMultiDict({"retry-after": "nan"}))
    assert delay is not None
    assert 0.75 <= delay <= 1.0
