"""Echo server on CPython asyncio streams, for benches/latency.rs.

Listens on 127.0.0.1 (an OS-chosen port), prints ``PORT <n>`` once listening, and echoes each
connection with ``read(65536)`` / ``write`` / ``drain`` until EOF, like the Rust servers.
Run: ``python3 benches/python/echo_asyncio.py``. asyncio sets TCP_NODELAY on its transports.
"""
import asyncio


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve())
