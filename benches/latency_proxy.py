#!/usr/bin/env python3
"""A TCP proxy on loopback that adds a fixed delay to every byte a client sends, so that an
S3-compatible server on the same machine answers as if it were a network round trip away
(the kernel's netem is not available on every machine). Bytes are held, not throttled: a
burst sent at t is forwarded at t + delay, in order, whatever else is in flight, so the
proxy adds latency and nothing else.

    benches/latency_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS
"""
import asyncio
import sys


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk `delay` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            at, data = await queue.get()
            if data is None:
                break
            wait = at + delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            queue.put_nowait((loop.time(), data))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time(), None))
    try:
        await sender
    except ConnectionError:
        pass


async def main(listen, target, delay):
    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            pump(client_r, server_w, delay), pump(server_r, client_w, 0.0)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000))
