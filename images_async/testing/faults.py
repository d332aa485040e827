"""Fault injection for the emulator: which API calls fail, and how.

A :class:`FaultPlan` decides, for each API call the emulator receives (``POST`` to an images
endpoint; image downloads are never faulted), whether to inject a :class:`Fault`. It is either
*scripted* — a list applied to the next calls in order, after which calls succeed — or
*random* — each call fails with a given probability, drawing the fault kind from a list
with a seeded :class:`random.Random`, so a run can be replayed exactly.

Fault kinds
-----------
``429``                 429 ``rate_limit_exceeded`` with ``Retry-After`` and ``retry-after-ms``
``500`` ``502`` ``503`` server errors (502 has an HTML body, like a gateway's)
``insufficient_quota``  429 with code ``insufficient_quota`` (not worth retrying)
``reset``               headers and part of the body are sent, then the connection is aborted
``disconnect``          the connection is closed before any response
``truncated``           200 whose body (JSON, or the event stream) is cut short, with correct
                        framing: the client sees a complete but invalid body
``slow_headers:S``      wait S seconds (a float) before answering normally
``ok``                  no fault (a placeholder inside a script)

``status:429`` (and so on) is accepted as a spelling of ``429``.

The spec string
---------------
::

    plan     := faults [";" option]*
              | "rate=" PROBABILITY ":" faults [";" option]*
    faults   := fault ["," fault]*
    option   := "seed=" INT | "retry_after=" SECONDS

``"429,500,reset"`` fails the next three calls in that order. ``"rate=0.3:429,500,reset;seed=7"``
fails 30 % of calls with one of the three kinds, reproducibly for seed 7 (default seed 0).
``retry_after`` sets the wait the 429 fault asks for (default 1 second).
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Fault", "FaultPlan", "parse_fault"]

#: The statuses a ``status`` fault can answer with.
STATUS_FAULTS: frozenset[int] = frozenset({429, 500, 502, 503})
_SIMPLE_KINDS = frozenset({"reset", "disconnect", "truncated", "insufficient_quota", "ok"})
_NUMBER = re.compile(r"\d+(\.\d*)?|\.\d+")


@attrs.frozen
class Fault:
    """One injected failure. ``kind`` is ``status``, ``slow_headers`` or a simple kind."""

    kind: str
    """What happens: ``status`` (an error status, in :attr:`status`), ``slow_headers``,
    ``reset``, ``disconnect``, ``truncated``, ``insufficient_quota`` or ``ok``."""
    status: int | None = None
    """The HTTP status of a ``status`` fault."""
    seconds: float | None = None
    """The delay of a ``slow_headers`` fault."""

    def __str__(self) -> str:
        if self.kind == "status":
            return str(self.status)
        if self.kind == "slow_headers":
            return f"slow_headers:{self.seconds:g}"
        return self.kind


def parse_fault(token: str) -> Fault:
    """Read one fault (``"429"``, ``"status:503"``, ``"slow_headers:2.5"``, ``"reset"``...)."""
    text = token.strip().lower()
    text = text.removeprefix("status:")
    if text.isdigit():
        status = int(text)
        if status not in STATUS_FAULTS:
            allowed = ", ".join(str(code) for code in sorted(STATUS_FAULTS))
            raise ValueError(f"unsupported fault status {status} (supported: {allowed})")
        return Fault("status", status=status)
    if text in _SIMPLE_KINDS:
        return Fault(text)
    name, _, argument = text.partition(":")
    if name == "slow_headers":
        if not _NUMBER.fullmatch(argument):
            raise ValueError(f"slow_headers needs seconds, as in slow_headers:2.5, not {token!r}")
        return Fault("slow_headers", seconds=float(argument))
    raise ValueError(f"unknown fault {token!r}")


def _as_fault(fault: Fault | str) -> Fault:
    return fault if isinstance(fault, Fault) else parse_fault(fault)


class FaultPlan:
    """Which API calls fail. Build one with :meth:`scripted`, :meth:`at_rate` or :meth:`parse`."""

    def __init__(
        self,
        *,
        script: Iterable[Fault | str] = (),
        rate: float = 0.0,
        kinds: Sequence[Fault | str] = (),
        seed: int = 0,
        retry_after: float = 1.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        if rate and not kinds:
            raise ValueError("a fault rate needs at least one fault kind")
        if retry_after < 0:
            raise ValueError(f"retry_after must be 0 or more, not {retry_after}")
        self._script: deque[Fault] = deque(_as_fault(fault) for fault in script)
        #: The probability that a call past the script fails.
        self.rate: float = rate
        #: The faults a failing call draws from.
        self.kinds: tuple[Fault, ...] = tuple(_as_fault(kind) for kind in kinds)
        #: The seed of the draws, so a run can be replayed.
        self.seed: int = seed
        #: Seconds a ``429`` fault asks the client to wait.
        self.retry_after: float = retry_after
        self._random = random.Random(seed)

    @classmethod
    def scripted(cls, *faults: Fault | str, retry_after: float = 1.0) -> FaultPlan:
        """Apply ``faults`` to the next calls, in order; later calls succeed."""
        return cls(script=faults, retry_after=retry_after)

    @classmethod
    def at_rate(
        cls, rate: float, kinds: Sequence[Fault | str], *, seed: int = 0, retry_after: float = 1.0
    ) -> FaultPlan:
        """Fail each call with probability ``rate``, with a kind drawn from ``kinds``."""
        return cls(rate=rate, kinds=kinds, seed=seed, retry_after=retry_after)

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """A plan from its spec string (see the module documentation for the grammar)."""
        head, *options = spec.split(";")
        seed = 0
        retry_after = 1.0
        for option in options:
            name, equals, value = option.strip().partition("=")
            try:
                if name == "seed" and equals:
                    seed = int(value)
                elif name == "retry_after" and equals:
                    retry_after = float(value)
                else:
                    raise ValueError(f"unknown fault plan option {option.strip()!r}")
            except ValueError as exc:
                raise ValueError(f"bad fault plan option {option.strip()!r}: {exc}") from None
        head = head.strip()
        if head.startswith("rate="):
            rate_text, colon, kinds = head.removeprefix("rate=").partition(":")
            if not colon or not _NUMBER.fullmatch(rate_text):
                raise ValueError(f"a rate plan reads 'rate=0.3:429,500', not {head!r}")
            return cls.at_rate(float(rate_text), _split(kinds), seed=seed, retry_after=retry_after)
        return cls(script=_split(head), seed=seed, retry_after=retry_after)

    def next_fault(self) -> Fault | None:
        """The fault for the call that just arrived, or None to answer it normally."""
        if self._script:
            fault: Fault | None = self._script.popleft()
        elif self.rate and self._random.random() < self.rate:
            fault = self._random.choice(self.kinds)
        else:
            fault = None
        return None if fault is None or fault.kind == "ok" else fault

    @property
    def remaining(self) -> int:
        """How many scripted faults are still to come."""
        return len(self._script)

    def __repr__(self) -> str:
        parts = []
        if self._script:
            parts.append(f"script={[str(fault) for fault in self._script]}")
        if self.rate:
            parts.append(f"rate={self.rate}, kinds={[str(kind) for kind in self.kinds]}")
            parts.append(f"seed={self.seed}")
        return f"FaultPlan({', '.join(parts)})"


def _split(faults: str) -> list[Fault]:
    tokens = [token for token in faults.split(",") if token.strip()]
    return [parse_fault(token) for token in tokens]
