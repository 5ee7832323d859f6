//! Against CPython 3.11's own `create_datagram_endpoint`: our client and a Python echo
//! server, a Python client and our echo server (skipped with a printed reason without python3).

use super::*;

/// The Python interop peer's scripts (CPython 3.11's own `create_datagram_endpoint`).
const PY_ECHO_SERVER: &str = r#"
import asyncio
class Echo(asyncio.DatagramProtocol):
    def __init__(self, done): self.done = done
    def connection_made(self, t): self.t = t
    def datagram_received(self, data, addr):
        self.t.sendto(b'py:' + data, addr)
        if not self.done.done(): self.done.set_result(None)
async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    t, _ = await loop.create_datagram_endpoint(lambda: Echo(done), local_addr=('127.0.0.1', 0))
    print(t.get_extra_info('sockname')[1], flush=True)
    await asyncio.wait_for(done, 15)
    t.close()
asyncio.run(main())
"#;

const PY_CLIENT: &str = r#"
import asyncio, sys
class Client(asyncio.DatagramProtocol):
    def __init__(self, fut): self.fut = fut
    def connection_made(self, t): t.sendto(b'hello from python')
    def datagram_received(self, data, addr): self.fut.set_result(data)
    def error_received(self, exc): self.fut.set_exception(exc)
async def main():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    t, _ = await loop.create_datagram_endpoint(lambda: Client(fut), remote_addr=('127.0.0.1', int(sys.argv[1])))
    print((await asyncio.wait_for(fut, 15)).decode(), flush=True)
    t.close()
asyncio.run(main())
"#;

fn have_python() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import asyncio"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Our client against a Python asyncio UDP echo server.
#[test]
fn interop_our_client_python_server() {
    if !have_python() {
        eprintln!("skipped: python3 with asyncio is not installed");
        return;
    }
    run_clean(async {
        let py = asyncio::create_subprocess_exec("python3", ["-c", PY_ECHO_SERVER])
            .stdout(asyncio::Stdio::Pipe)
            .await?;
        let line = py.stdout.as_ref().unwrap().readline().await?;
        let port: u16 = String::from_utf8_lossy(&line).trim().parse().expect("port");
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", port)
            .await?;
        t.sendto(b"hello from rust", None)?;
        until(&p, |r| !r.got.is_empty()).await;
        assert_eq!(p.borrow().got[0].0, b"py:hello from rust");
        t.close();
        assert_eq!(py.wait().await, 0);
        Ok(())
    });
}

/// A Python asyncio UDP client against our echo server.
#[test]
fn interop_python_client_our_server() {
    if !have_python() {
        eprintln!("skipped: python3 with asyncio is not installed");
        return;
    }
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (server, sp) = lp
            .create_datagram_endpoint(Rec::echo)
            .local_addr("127.0.0.1", 0)
            .await?;
        let port = port_of(&server).to_string();
        let py = asyncio::create_subprocess_exec("python3", ["-c", PY_CLIENT, &port])
            .stdout(asyncio::Stdio::Pipe)
            .await?;
        let line = py.stdout.as_ref().unwrap().readline().await?;
        assert_eq!(line, b"hello from python\n");
        assert_eq!(py.wait().await, 0);
        assert_eq!(sp.borrow().got[0].0, b"hello from python");
        server.close();
        Ok(())
    });
}
