"""Group commit: the journal's writes queued on the event loop and made durable by one
writer thread, in as few transactions as keep up (``journal.Journal`` for SQLite,
``pgjournal.PostgresJournal`` for PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable

from newsletter.errors import SendError

Op = tuple[str, tuple[object, ...]]
Done = Callable[[], None]


class GroupCommit:
    """Queued writes, committed by one writer thread in as few transactions as keep up.

    The store's part is ``_write`` (one transaction of the queued operations) and the errors
    it raises (``ERRORS``); the rest, and the rule that the first write error ends all
    writing, is the same for every back end of the journal.

    A commit costs the event loop two hand-offs: the batch put on the writer's queue, and
    one ``call_soon_threadsafe`` when it is durable, which completes every future and
    callback of that batch. A commit starts when someone waits for it (``durable``) or, for
    writes nobody waits for (results), ``LATER`` seconds after the first of them, unless a
    commit they can ride along with starts first.
    """

    ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)
    LATER = 0.05  # seconds a write nobody waits for may wait for a commit to ride along with

    def __init__(self, where: str) -> None:
        self.where = where  # the file or database, as messages show it
        self._queued: list[Op] = []
        self._done: list[Done] = []  # called once what is queued now is durable
        self._waiters: list[asyncio.Future[None]] = []
        self._writing = False  # a batch is in the writer thread
        self._later: asyncio.TimerHandle | None = None
        self._thread = _Writer(self._write)
        self.broken: SendError | None = None  # the first write error: nothing is written after
        self.on_error: Callable[[SendError], None] | None = None

    def _write(self, queued: list[Op]) -> None:
        raise NotImplementedError

    def durable(self) -> asyncio.Future[None]:
        """A future done when every update queued so far is on disk (``SendError`` if not).

        Group commit: one writer thread commits (and fsyncs) while the event loop goes on;
        whatever is queued meanwhile goes into the next transaction, with all its waiters.
        """
        waiter = asyncio.get_running_loop().create_future()
        if self.broken is not None:
            waiter.set_exception(self.broken)
            waiter.exception()  # retrieved: a worker that is cancelled may never await it
            return waiter
        self._waiters.append(waiter)
        if not self._writing:
            self._start()
        return waiter

    async def commit(self) -> None:
        await self.durable()

    def commit_soon(self) -> None:
        """Commit what is queued now (without waiting for it)."""
        if not self._writing and self.broken is None and (self._queued or self._waiters):
            self._start()

    def commit_later(self) -> None:
        """Commit what is queued within ``LATER`` seconds (with an earlier commit, if any)."""
        if self._later is None and self.broken is None:
            self._later = asyncio.get_running_loop().call_later(self.LATER, self._due)

    def _due(self) -> None:
        self._later = None
        if self._writing:  # what is queued goes with the commit after this one
            self.commit_later()
        else:
            self.commit_soon()

    def _start(self) -> None:
        """Hand what is queued, its callbacks and its waiters to the writer thread."""
        batch = (asyncio.get_running_loop(), self._queued, self._done, self._waiters)
        self._queued, self._done, self._waiters = [], [], []
        self._writing = True
        self._thread.put(batch, self._written)

    def _written(self, done: list[Done], waiters: list[asyncio.Future[None]],
                 exc: Exception | None) -> None:
        """On the event loop, once per commit: the batch is durable (or ``exc``)."""
        self._writing = False
        if exc is not None:
            # Nothing of this batch is durable and nothing after it may be written: a later
            # batch could record a reader whose earlier row is missing. Stop here.
            error = self._fail(exc)
            for waiter in (*waiters, *self._waiters):
                if not waiter.done():
                    waiter.set_exception(error)
                    waiter.exception()
            self._queued, self._done, self._waiters = [], [], []
            if self.on_error is not None:
                self.on_error(error)
            return
        for callback in done:
            callback()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if self._waiters:
            self._start()
        elif self._queued:
            self.commit_later()

    def _fail(self, exc: Exception) -> SendError:
        if self.broken is None:
            self.broken = SendError(f"cannot write the journal: {exc}", path=self.where)
        return self.broken

    def flush(self) -> None:
        """Write what is queued now, synchronously (after what the writer thread has)."""
        self._thread.wait()
        queued, self._queued = self._queued, []
        done, self._done = self._done, []
        if queued and self.broken is None:
            try:
                self._write(queued)
            except self.ERRORS as exc:
                raise self._fail(exc) from exc
            for callback in done:
                callback()


_Batch = tuple[asyncio.AbstractEventLoop, list[Op], list[Done], list[asyncio.Future[None]]]
_Written = Callable[[list[Done], list[asyncio.Future[None]], Exception | None], None]


class _Writer:
    """The writer thread, started with its first batch: writes each batch, then tells the
    batch's event loop with one ``call_soon_threadsafe``."""

    def __init__(self, write: Callable[[list[Op]], None]) -> None:
        self._write = write
        self._work: queue.SimpleQueue[tuple[_Batch, _Written] | threading.Event | None] = (
            queue.SimpleQueue())
        self._thread: threading.Thread | None = None

    def put(self, batch: _Batch, written: _Written) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
            self._thread.start()
        self._work.put((batch, written))

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            (loop, queued, done, waiters), written = item
            error: Exception | None = None
            try:
                self._write(queued)
            except Exception as exc:  # any error ends all writing, named
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(written, done, waiters, error)

    def wait(self) -> None:
        """Until every batch given so far is written."""
        if self._thread is not None:
            passed = threading.Event()
            self._work.put(passed)
            passed.wait()

    def shutdown(self) -> None:
        """End the thread once what it was given is written."""
        if self._thread is not None:
            self._work.put(None)
            self._thread.join()
            self._thread = None
