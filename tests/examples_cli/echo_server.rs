//! `echo_server`'s options at work: `--idle-timeout`, `--unix` (with `unix_echo_client`),
//! `--workers` (every connection echoed, every listening address named), `--proxy-protocol`.

use super::*;

/// `echo_server --idle-timeout`: a client that says nothing is disconnected; one that talks is
/// echoed first. (The outcome is asserted, not how long it took.)
#[test]
fn echo_server_idle_timeout_closes_a_silent_client() {
    use std::io::Write;
    let server = ServerChild::start("echo_server", &["--port", "0", "--idle-timeout", "0.2"]);
    let first = server.line();
    let port: u16 = first
        .rsplit([':', ' '])
        .next()
        .and_then(|p| p.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.set_read_timeout(Some(BOUND)).unwrap();
    client.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    // Then silence: the server closes the connection (EOF, or a reset if bytes were in flight).
    let mut rest = Vec::new();
    match client.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn unix_echo_client_against_echo_server() {
    let dir = util::temp_dir("examples-cli-unix");
    let path = dir.join("echo.sock");
    let path = path.to_str().unwrap();
    let server = ServerChild::start("echo_server", &["--unix", path]);
    let first = server.line();
    assert_eq!(first, format!("Serving on {path}"));
    let r = run("unix_echo_client", &["--unix", path, "over unix"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Send: 'over unix'\nReceived: 'over unix'\nClose the connection\n"
    );
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `echo_server --workers 2`: one port, every connection echoed, whichever worker took it.
#[test]
fn echo_server_on_two_workers_echoes_every_connection() {
    use std::io::{Read, Write};
    let server = ServerChild::start("echo_server", &["--port", "0", "--workers", "2"]);
    let first = server.line();
    let addr = first
        .strip_prefix("Serving on ")
        .and_then(|rest| rest.strip_suffix(" (2 workers)"))
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    for i in 0..16 {
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(BOUND)).unwrap();
        let msg = format!("hello {i:2}");
        sock.write_all(msg.as_bytes()).unwrap();
        let mut echoed = [0u8; 8];
        sock.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, msg.as_bytes());
    }
}

/// `echo_server --host '' --workers 2` names every address it listens on, as the one-loop
/// server (and Python's docs example) does: 0.0.0.0 and ::, each once, each echoing. It used
/// to name the first only. Skipped where ::1 cannot be bound.
#[test]
fn echo_server_on_workers_prints_every_listening_address() {
    use std::io::{Read, Write};
    use std::net::{IpAddr, SocketAddr};
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        println!("skipped: ::1 cannot be bound here ({e})");
        return;
    }
    let args = ["--host", "", "--port", "0", "--workers", "2"];
    let server = ServerChild::start("echo_server", &args);
    let first = server.line();
    let addrs: Vec<SocketAddr> = first
        .strip_prefix("Serving on ")
        .and_then(|rest| rest.strip_suffix(" (2 workers)"))
        .map(|list| list.split(", ").map(|a| a.parse().unwrap()).collect())
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    assert_eq!(
        ips,
        ["0.0.0.0".parse::<IpAddr>().unwrap(), "::".parse().unwrap()],
        "{first}"
    );
    for (addr, loopback) in addrs.iter().zip(["127.0.0.1", "::1"]) {
        let to = SocketAddr::new(loopback.parse().unwrap(), addr.port());
        let mut sock = std::net::TcpStream::connect(to).unwrap();
        sock.set_read_timeout(Some(BOUND)).unwrap();
        sock.write_all(b"both").unwrap();
        let mut echoed = [0u8; 4];
        sock.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"both", "{to}");
    }
}

#[test]
fn echo_server_behind_a_proxy_prints_the_header_peer() {
    use std::io::{Read, Write};
    let server = ServerChild::start("echo_server", &["--port", "0", "--proxy-protocol"]);
    let first = server.line();
    let addr = first
        .strip_prefix("Serving on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(BOUND)).unwrap();
    sock.write_all(b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nhi")
        .unwrap();
    let mut echoed = [0u8; 2];
    sock.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hi");
    assert_eq!(server.line(), "Connection from 192.0.2.1:56324");
}

/// A client that resets its connection has left: `echo_server` says nothing of it (before, the
/// loop's handler printed `ERROR asyncio: Unhandled exception in client_connected_cb` and
/// `exception: [Errno 104] Connection reset by peer`, four lines per client) and serves on.
#[test]
fn echo_server_takes_a_client_reset_quietly() {
    use std::io::Write;
    let (mut child, _out, err, first) = spawn_echo_server(&["--port", "0"]);
    let port: u16 = first
        .trim_end()
        .strip_prefix("Serving on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let echo = |client: &mut std::net::TcpStream| {
        client.set_read_timeout(Some(BOUND)).unwrap();
        client.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    };
    // Echoed once, so the server holds the connection, waiting in a read; then reset.
    let mut leaving = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    echo(&mut leaving);
    socket2::SockRef::from(&leaving)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(leaving); // RST
                   // A second client is served after it (the reset is seen first: it was sent first).
    let mut next = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    echo(&mut next);
    drop(next);
    child.0.kill().unwrap();
    let stderr = err.recv_timeout(BOUND).expect("stderr to its end");
    assert_eq!(stderr, "", "a client's reset is no error of the server's");
}

/// `echo_server --idle-timeout` closing a client that stopped reading is the server's own rule
/// at work, as for a silent one: nothing on stderr. The client writes without reading until
/// every buffer between them is full and the server's echo waits in `drain`; silence both
/// ways then ends the connection under that drain. Before, the drain's `TimedOut` went to the
/// loop's handler as `ERROR asyncio: Unhandled exception in client_connected_cb` (only a read
/// that timed out was taken quietly).
#[test]
fn echo_server_idle_timeout_under_a_drain_is_no_error() {
    use std::io::Write;
    let (mut child, _out, err, first) =
        spawn_echo_server(&["--port", "0", "--idle-timeout", "0.2"]);
    let port: u16 = first
        .trim_end()
        .strip_prefix("Serving on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let mut stuck = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stuck.set_write_timeout(Some(BOUND)).unwrap();
    // Writes block once the buffers are full (the server's reader pauses at its limit), until
    // the idle timeout aborts the connection: the write then fails. Bounded in bytes too.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    let ended = loop {
        match stuck.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => break e,
        }
        assert!(sent < 1 << 30, "the server took 1 GiB without echoing");
    };
    assert!(
        matches!(
            ended.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "the connection was not closed: {ended}"
    );
    // Served after it: by then the task whose drain failed has ended (it was woken first).
    let mut next = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    next.set_read_timeout(Some(BOUND)).unwrap();
    next.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    next.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    drop((stuck, next));
    child.0.kill().unwrap();
    let stderr = err.recv_timeout(BOUND).expect("stderr to its end");
    assert_eq!(stderr, "", "an idle timeout under a drain is no error");
}

/// A server ended by a signal while nobody reads its stdout any more (the reader of its pipe
/// gone) still exits 143 for SIGTERM: the line saying so is dropped, not a panic (exit 101,
/// `failed printing to stdout: Broken pipe`), as it was with `println!`.
#[test]
fn echo_server_ended_by_sigterm_with_its_stdout_gone_exits_143() {
    let (mut child, out, err, first) = spawn_echo_server(&["--port", "0"]);
    assert!(first.starts_with("Serving on"), "first line: {first:?}");
    drop(out); // stdout is a broken pipe from now on

    sigterm(&child);
    // Its stderr ends when it exits: a bounded wait for the exit.
    let stderr = err.recv_timeout(BOUND).expect("stderr to its end");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}: {stderr}");
}

/// `echo_server ARGS` without the trace variables, its stdout and stderr piped: the child, its
/// stdout past the first line, its stderr read to the end on a thread, and that first line.
fn spawn_echo_server(
    args: &[&str],
) -> (
    ChildGuard,
    BufReader<std::process::ChildStdout>,
    mpsc::Receiver<String>,
    String,
) {
    let (child, mut out, err) = spawn_piped("echo_server", args);
    let first = next_line(&mut out);
    (child, out, err, first)
}
