"""Durable appends from async handlers: one writer thread, group commit.

A handler awaits ``append``; it returns once the event's transaction is on disk (the
record's ``synchronous=FULL``), and only then does the handler answer. Events that arrive
while one commit runs go into the next one together, so under load many requests share one
fsync instead of queueing for one each (Postfix's rule: acknowledge only what is on disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading

from newsletter.record import Event, Record, RecordError

_BATCH = 512  # events per transaction at most


class WriterClosed(RecordError):
    """The service is shutting down: the event was not stored."""


class Writer:
    """Appends events to ``record`` from a thread of its own; ``close`` drains the queue."""

    def __init__(self, record: Record) -> None:
        self._record = record
        self._queue: queue.SimpleQueue[
            tuple[Event, asyncio.Future[None], asyncio.AbstractEventLoop] | None
        ] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    async def append(self, event: Event) -> None:
        """Store ``event``; ``RecordError`` if it could not be stored durably."""
        if self._closed:
            raise WriterClosed("the service is stopping")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((event, future, loop))
        await future

    def close(self) -> None:
        """Store what is queued, stop the thread, close the record."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._record.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < _BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            error: BaseException | None = None
            try:
                self._record.append_many([event for event, _, _ in batch])
            except (RecordError, ValueError) as exc:
                error = exc
            # One wake-up per event loop and batch, not one per event.
            waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, future, loop in batch:
                waiting.setdefault(loop, []).append(future)
            for loop, futures in waiting.items():
                # A closed loop (RuntimeError) means nobody waits for the answer.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client gone); the event is stored
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
