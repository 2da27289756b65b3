#!/usr/bin/python3
"""A TCP proxy that adds a round trip's delay, for the benchmark's WAN row:
every byte reaches the other side RTT/2 after it was sent, in order, and a
new connection waits one RTT (its handshake) before it carries data.
Usage: delay_proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT RTT_MS
(netem is not available on these machines; this models latency only, not
bandwidth or loss)."""

import asyncio
import sys
import time

CHUNK = 256 * 1024


async def pipe(reader, writer, delay):
    """Copy reader to writer, each chunk delivered delay seconds after it
    was read; reading goes on meanwhile (the link is a pipeline)."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((time.monotonic() + delay, data or None))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
    finally:
        writer.close()


async def serve(listen_port, host, port, rtt):
    async def handle(client_reader, client_writer):
        await asyncio.sleep(rtt)    # the TCP handshake's round trip
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer, rtt / 2),
                             pipe(up_reader, client_writer, rtt / 2),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("delay_proxy: 127.0.0.1:%d -> %s:%d, %.0f ms round trip" % (
        listen_port, host, port, rtt * 1000), flush=True)
    async with server:
        await server.serve_forever()


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rtt = float(sys.argv[4]) / 1000.0
    try:
        asyncio.run(serve(listen_port, host, port, rtt))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
