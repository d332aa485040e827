"""The typed runtime of a generated sync facade: :class:`SyncFacade`.

A generated facade (``Images``, or the test fixture's ``Widgets``) holds no logic: each of its
methods hands a coroutine of the async client it wraps to :meth:`SyncFacade._call` (or an
async iterator to :meth:`SyncFacade._iterate`), which runs it on the facade's private event
loop (:mod:`images_async._loop_thread`). Converting an async result (a stream) into its sync
twin is the job of the facade's own base class, called explicitly by the generated code.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._loop_thread import LoopThread

if TYPE_CHECKING:
    from typing_extensions import Self

_T = TypeVar("_T")


class AsyncClient(Protocol):
    """What the runtime needs of the async client it wraps: a way to close it."""

    def aclose(self) -> Awaitable[object]: ...


_ClientT = TypeVar("_ClientT", bound=AsyncClient)


def _shut_down(loop: LoopThread, client: AsyncClient) -> None:
    """The finalizer: it must not refer to the facade. A loop never started holds nothing,
    so it is not started now (at interpreter exit no thread could be)."""
    loop.close(client.aclose if loop.started else None)


class SyncFacade(Generic[_ClientT]):
    """Base of a generated sync client: owns the private event loop its calls run on."""

    _async: _ClientT
    _loop: LoopThread
    #: The facade a ``with_options`` client was derived from: holding it keeps its
    #: finalizer (which closes the shared loop and connections) from running too early.
    _parent: SyncFacade[_ClientT] | None = None

    def _attach(self, async_client: _ClientT) -> None:
        self._async = async_client
        self._loop = LoopThread()
        # Closes the loop and the connections if the user never calls close(): at garbage
        # collection or at interpreter exit (while the daemon loop thread still runs).
        self._finalizer = weakref.finalize(self, _shut_down, self._loop, async_client)

    def _call(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` on the private loop and return its result."""
        return self._loop.run(awaitable)

    def _iterate(self, iterator: AsyncIterator[_T]) -> Generator[_T, None, None]:
        """A sync iterator over ``iterator``; leaving it early closes ``iterator``."""
        return self._loop.iterate(iterator)

    def _release(self, release: Callable[[], Awaitable[object]]) -> None:
        """Run a clean-up step, unless the client is closed (which released everything)."""
        if not self._loop.closed:
            self._loop.run(release())

    def _derive(self, async_client: _ClientT) -> Self:
        """A facade for ``async_client`` (made by ``with_options``) sharing this one's loop."""
        derived = object.__new__(type(self))
        derived._async = async_client
        derived._loop = self._loop
        derived._parent = self
        return derived

    def close(self) -> None:
        """Cancel in-flight calls, close the connections and stop the private loop.

        A client made by ``with_options`` shares its parent's loop and connections and
        leaves them open: closing it does nothing.
        """
        if self._parent is None:
            self._finalizer.detach()
            self._loop.close(self._async.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        """The async client's repr under this class's name."""
        text = repr(self._async)
        prefix = type(self._async).__name__
        return type(self).__name__ + text[len(prefix) :] if text.startswith(prefix) else text


class SyncPart:
    """Base of a generated sync part of a client (``files``, ``batches``): it has no loop of
    its own, and runs each call on the private loop of the facade it belongs to."""

    def __init__(self, images: object, /) -> None:
        if not isinstance(images, SyncFacade):
            raise TypeError(f"{type(self).__name__} is made by Images, not directly")
        self._facade: SyncFacade[Any] = images

    def _call(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` on the client's private loop and return its result."""
        return self._facade._call(awaitable)

    def _iterate(self, iterator: AsyncIterator[_T]) -> Generator[_T, None, None]:
        """A sync iterator over ``iterator``, run on the client's private loop."""
        return self._facade._iterate(iterator)
