"""A TCP proxy on loopback that delays every byte by a fixed time in each direction.

    python benchmarks/delay_proxy.py --listen 127.0.0.1:2525 --to 127.0.0.1:25 --delay-ms 10

A relay 20 ms away (10 ms each way) on this machine: what docs/scaling.md's per-connection
arithmetic (round trips per message x round-trip time) predicts becomes a measurement.
Bytes keep their order; what arrives during a delay is not held back further (the delay is
latency, not bandwidth). Prints ``ready <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time


async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            sink.write(chunk)
            await sink.drain()
        with contextlib.suppress(OSError):
            sink.write_eof()

    writer = asyncio.create_task(deliver())
    try:
        while chunk := await source.read(262144):
            queue.put_nowait((time.monotonic() + delay, chunk))
    except OSError:
        pass
    queue.put_nowait((time.monotonic() + delay, b""))
    with contextlib.suppress(OSError):
        await writer


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--to", required=True)
    parser.add_argument("--delay-ms", type=float, default=10.0, help="each direction")
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)
    delay = args.delay_ms / 1000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(pump(reader, up_writer, delay), pump(up_reader, writer, delay))
        for each in (writer, up_writer):
            each.close()

    listen_host, listen_port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(handle, listen_host, int(listen_port))
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    sys.exit(0)
