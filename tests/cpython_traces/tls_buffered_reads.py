"""Prints the CPython traces of tests/tls_layer/reading.rs
t16_t17_a_buffered_app_gets_one_buffer_per_pass_as_cpython_hands_them: a TLS server writes 35
bytes in one record (and waits for the client's close); the client's buffered protocol lends
10-byte buffers, logs each buffer_updated (`buN(n)`) and queues from it a callback logging
`xN`, so the log shows which loop turn each ran in. The second trace pauses the app's reading
in the first buffer_updated and queues its resume.

    python3.11 tests/cpython_traces/tls_buffered_reads.py

Needs the `openssl` command (a throw-away self-signed certificate in a temporary directory).
"""
import asyncio
import os
import ssl
import subprocess
import tempfile


class TenByTen(asyncio.BufferedProtocol):
    def __init__(self, log, pause):
        self.log, self.pause, self.buf, self.calls = log, pause, bytearray(10), 0

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, size_hint):
        return self.buf

    def buffer_updated(self, n):
        self.calls += 1
        k = self.calls
        self.log.append(f'bu{k}({n})')
        loop = asyncio.get_running_loop()
        loop.call_soon(self.log.append, f'x{k}')
        if self.pause and k == 1:
            self.transport.pause_reading()
            self.log.append('paused')
            loop.call_soon(self.resume)

    def resume(self):
        self.log.append('resume')
        self.transport.resume_reading()

    def eof_received(self):
        self.log.append('eof')


async def trace(cert, key, pause):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    handled = asyncio.Event()

    async def handler(reader, writer):
        writer.write(b'a' * 35)  # one record
        await reader.read()  # until the client's close
        writer.close()
        handled.set()

    server = await asyncio.start_server(handler, '127.0.0.1', 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    log = []
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(
        lambda: TenByTen(log, pause), '127.0.0.1', port, ssl=client_ctx)
    for _ in range(1000):
        if log and log[-1] == 'x4':
            break
        await asyncio.sleep(0)
    seen = ' '.join(log)
    transport.close()
    await asyncio.wait_for(handled.wait(), 10)
    server.close()
    await server.wait_closed()
    return seen


def main():
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                        '-keyout', key, '-out', cert, '-days', '1',
                        '-subj', '/CN=localhost'], check=True, capture_output=True)
        for pause in (False, True):
            print(f'pause={pause}: {asyncio.run(trace(cert, key, pause))}')


main()
