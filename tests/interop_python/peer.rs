//! The Python peer: the script `PEER` that `python3 -c` runs in one of its modes, and
//! `Peer`, our handle on that child (its stdout lines wake the loop; dropped early, it kills
//! the child).

use super::*;

/// The Python peer. `python3 -c PEER MODE ARGS…`; an address is `tcp:PORT`, `unix:PATH`, or
/// for servers `tcp` (bind port 0). Servers print `LISTENING <port|path>` once listening, serve
/// one connection, then print `OK`; clients print `OK` when every check passed. Any failed
/// check raises, so Python exits non-zero with a traceback on stderr.
const PEER: &str = r#"
import array, asyncio, sys

def pattern(n):
    # Word i (4 bytes, little-endian) holds i: a lost, doubled or moved chunk shows.
    a = array.array('I', range((n + 3) // 4))
    assert a.itemsize == 4
    if sys.byteorder == 'big':
        a.byteswap()
    return a.tobytes()[:n]

def response(req):
    return b'got %d bytes\n' % len(req) + req[::-1]

def lines():
    return [b'line %d %s\n' % (i, b'x' * (i * 37 % 500)) for i in range(200)]

def say(*words):
    print(*words, flush=True)

async def connect(addr):
    kind, _, where = addr.partition(':')
    if kind == 'tcp':
        return await asyncio.open_connection('127.0.0.1', int(where))
    return await asyncio.open_unix_connection(where)

async def serve_one(handler, addr):
    done = asyncio.get_running_loop().create_future()
    async def cb(reader, writer):
        try:
            await handler(reader, writer)
        except BaseException as e:
            if not done.done():
                done.set_exception(e)
            raise
        if not done.done():
            done.set_result(None)
    kind, _, where = addr.partition(':')
    if kind == 'tcp':
        server = await asyncio.start_server(cb, '127.0.0.1', 0)
        say('LISTENING', server.sockets[0].getsockname()[1])
    else:
        server = await asyncio.start_unix_server(cb, where)
        say('LISTENING', where)
    try:
        await done
    finally:
        server.close()
    say('OK')

async def echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()

async def echo_server(addr):
    await serve_one(echo, addr)

async def echo_client(addr):
    reader, writer = await connect(addr)
    want = lines()
    for line in want[:100]:  # one at a time
        writer.write(line)
        await writer.drain()
        got = await reader.readline()
        assert got == line, (got[:40], line[:40])
    writer.writelines(want[100:])  # pipelined
    await writer.drain()
    for line in want[100:]:
        got = await reader.readline()
        assert got == line, (got[:40], line[:40])
    writer.write_eof()
    rest = await reader.read()  # the server closes once it has seen our EOF
    assert rest == b'', rest[:40]
    writer.close()
    await writer.wait_closed()
    say('OK')

async def many_clients(addr, n):
    async def one(i):
        reader, writer = await connect(addr)
        msg = b'client %d\n' % i * 100
        writer.write(msg)
        writer.write_eof()
        got = await reader.read()
        assert got == msg, (i, len(got))
        writer.close()
        await writer.wait_closed()
    await asyncio.gather(*(one(i) for i in range(int(n))))
    say('OK')

async def half_close_client(addr, size):
    reader, writer = await connect(addr)
    req = pattern(int(size))
    writer.write(req)
    await writer.drain()
    assert writer.can_write_eof()
    writer.write_eof()
    resp = await reader.read()
    assert resp == response(req), (len(resp), resp[:40])
    assert reader.at_eof()
    writer.close()
    await writer.wait_closed()
    say('OK')

async def half_close_server(addr, size):
    async def handler(reader, writer):
        req = await reader.read()
        assert req == pattern(int(size)), len(req)
        writer.write(response(req))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    await serve_one(handler, addr)

async def bulk_client(addr, size):
    size = int(size)
    reader, writer = await connect(addr)
    data = pattern(size)
    async def send():
        view = memoryview(data)
        for i in range(0, size, 100_000):
            writer.write(view[i:i + 100_000])
            await writer.drain()
        writer.write_eof()
    sender = asyncio.create_task(send())
    got = bytearray()
    while chunk := await reader.read(65536):
        got += chunk
    await sender
    assert len(got) == size, len(got)
    assert got == data, next(i for i in range(size) if got[i] != data[i])
    writer.close()
    await writer.wait_closed()
    say('OK')

async def fragments_server(addr):
    async def handler(reader, writer):
        async def send(*parts):
            for part in parts:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.002)  # let each fragment travel on its own
        await send(b'hello wor', b'ld\n')
        await send(*[bytes([b]) for b in b'one byte at a time\n'])
        sep = b'--END--'
        for k in range(1, len(sep)):
            await send(b'rec%d' % k + sep[:k], sep[k:])
        await send(b'false --EN', b'D- start--END--')
        await send(b'HEAD: 1\r', b'\n', b'\r', b'\nBO', b'DY')
        await send(b'0123', b'456789')
        big = pattern(300_000)
        await send(big[:7], big[7:65543], big[65543:])
        await send(b'CRLF line\r', b'\nLF line\n')
        await send(b'tail\n', b'rest--EN')
        writer.write_eof()
        rest = await reader.read()  # until the client closes
        assert rest == b'', rest[:40]
        writer.close()
        await writer.wait_closed()
    await serve_one(handler, addr)

async def main():
    mode, *args = sys.argv[1:]
    await asyncio.wait_for(globals()[mode](*args), 15)

asyncio.run(main())
"#;

/// What the stdout thread hands the loop.
#[derive(Default)]
struct Stdout {
    /// Lines not yet taken, oldest first.
    lines: VecDeque<String>,
    /// The child closed its stdout (it exited or is exiting).
    eof: bool,
    /// The task waiting in [`Peer::line`], woken from the stdout thread.
    waker: Option<Waker>,
}

/// A running Python peer. Dropping it before [`finish`](Peer::finish) kills the child and
/// prints what it wrote to stderr.
pub(crate) struct Peer {
    child: Option<Child>,
    stdout: Arc<Mutex<Stdout>>,
    stderr: Option<JoinHandle<String>>,
}

impl Peer {
    /// Starts `python3 -c PEER mode args…`.
    pub(crate) fn spawn(mode: &str, args: &[&str]) -> Peer {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PEER)
            .arg(mode)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let stdout = Arc::new(Mutex::new(Stdout::default()));
        let shared = stdout.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            loop {
                let line = lines.next().and_then(Result::ok);
                // Push under the lock, wake after it: `line` registers under the same lock,
                // so no wake-up is lost.
                let waker = {
                    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                    match &line {
                        Some(l) => s.lines.push_back(l.clone()),
                        None => s.eof = true,
                    }
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
                if line.is_none() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Peer {
            child: Some(child),
            stdout,
            stderr: Some(stderr),
        }
    }

    /// The child's next stdout line; `None` once its stdout has closed.
    async fn line(&self) -> Option<String> {
        poll_fn(|cx| {
            let mut s = self.stdout.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(l) = s.lines.pop_front() {
                return Poll::Ready(Some(l));
            }
            if s.eof {
                return Poll::Ready(None);
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Waits for a server peer's `LISTENING <where>` line and returns `<where>`.
    pub(crate) async fn listening(&self) -> String {
        let line = self.line().await;
        match line.as_deref().and_then(|l| l.strip_prefix("LISTENING ")) {
            Some(at) => at.to_string(),
            None => panic!("expected LISTENING from python, got {line:?}"),
        }
    }

    /// Like [`listening`](Self::listening), parsed as a TCP port.
    pub(crate) async fn port(&self) -> u16 {
        let at = self.listening().await;
        at.parse()
            .unwrap_or_else(|_| panic!("python listens on {at:?}, not a port"))
    }

    /// Waits for the child to print `OK` as its last line and to exit with status 0.
    pub(crate) async fn finish(mut self) {
        let mut rest = Vec::new();
        while let Some(l) = self.line().await {
            rest.push(l);
        }
        let status = loop {
            let child = self.child.as_mut().expect("finished once");
            if let Some(status) = child.try_wait().expect("try_wait on python") {
                break status;
            }
            // Its stdout has closed, so it is exiting: poll for its exit. Bounded by LIMIT;
            // if that expires, dropping `self` kills it.
            asyncio::sleep(Duration::from_millis(2)).await;
        };
        self.child = None; // reaped: nothing left for Drop to kill
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        let stderr = stderr.unwrap_or_default();
        assert!(
            status.success() && rest == ["OK"],
            "python peer: {status}, stdout {rest:?}, stderr:\n{stderr}"
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = child.kill();
        let _ = child.wait();
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        eprintln!(
            "python peer killed; its stderr:\n{}",
            stderr.unwrap_or_default()
        );
    }
}
