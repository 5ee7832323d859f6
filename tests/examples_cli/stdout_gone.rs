//! Every example with its stdout gone (the reader of its pipe has left, as in
//! `example | head -1`) runs as it does with a stdout: `println!` panicked there (`failed
//! printing to stdout: Broken pipe`, exit 101), ending a client before its work was done and a
//! server's connection (or the whole server) over a line nobody reads. Now the lines are
//! dropped: the same exit status as with a stdout (0; 143 for a server ended by SIGTERM, as
//! `echo_server_ended_by_sigterm_with_its_stdout_gone_exits_143` already checked), nothing on
//! stderr, and a server's clients served.

use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};

use super::*;

/// A stdout whose reader is gone before the child starts: every write to it fails with EPIPE
/// (the child ignores SIGPIPE, as every Rust program does).
fn gone() -> Stdio {
    let (read, write) = util::os_pipe();
    drop(read);
    Stdio::from(write)
}

/// `name args` with its stdout gone from the start ran to its end as it does with a stdout:
/// exit 0, nothing on stderr (a panic would say `failed printing to stdout`).
fn assert_unbothered(name: &str, args: &[&str]) {
    let r = run_with_stdout(name, args, gone());
    assert_eq!(r.stderr, "", "{name} {args:?}");
    assert_eq!(r.code, Some(0), "{name} {args:?}");
}

/// The clients, each against its server, and the examples that need none.
#[test]
fn clients_with_their_stdout_gone_run_to_the_end() {
    let echo = ServerChild::start("echo_server", &["--port", "0"]);
    let first = echo.line();
    let echo_port = first
        .strip_prefix("Serving on 127.0.0.1:")
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    assert_unbothered("tcp_echo_client", &["--port", echo_port]);
    assert_unbothered("stdin_echo_client", &["--port", echo_port]);

    let protocol = ServerChild::start("echo_server_protocol", &["--port", "0"]);
    assert_unbothered(
        "echo_client_protocol",
        &["--port", &protocol.serving_port()],
    );

    let udp = ServerChild::start("udp_echo_server", &["--port", "0"]);
    assert_eq!(udp.line(), "Starting UDP server");
    assert_unbothered("udp_echo_client", &["--port", &udp.serving_port()]);

    let dir = util::temp_dir("examples-cli-stdout-gone");
    let path = dir.join("echo.sock");
    let path = path.to_str().unwrap();
    let unix = ServerChild::start("echo_server", &["--unix", path]);
    assert_eq!(unix.line(), format!("Serving on {path}"));
    assert_unbothered("unix_echo_client", &["--unix", path]);

    // http_headers against a one-shot HTTP server on this thread's side.
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", http.local_addr().unwrap());
    let answer = std::thread::spawn(move || {
        let (sock, _) = http.accept().unwrap();
        sock.set_read_timeout(Some(BOUND)).unwrap();
        let mut request = BufReader::new(&sock);
        let mut line = String::new();
        while request.read_line(&mut line).unwrap() > 2 {
            line.clear(); // up to the blank line that ends the request
        }
        (&sock)
            .write_all(b"HTTP/1.0 200 OK\r\nServer: test\r\n\r\n")
            .unwrap();
    });
    assert_unbothered("http_headers", &[&url]);
    answer.join().unwrap();

    if cfg!(feature = "tls") {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let tls = ServerChild::start(
            "echo_server",
            &["--port", "0", "--tls-cert", cert, "--tls-key", key],
        );
        let first = tls.line();
        let port = first
            .strip_prefix("Serving on 127.0.0.1:")
            .unwrap_or_else(|| panic!("first line: {first:?}"));
        let host = "--server-hostname=localhost";
        assert_unbothered("tls_echo_client", &["--cafile", cert, host, "--port", port]);
    }

    assert_unbothered("wait_for_data", &[]);
    assert_unbothered("loop_demo", &[]);
    assert_unbothered("subprocess_shell", &["echo hello"]);
    assert_unbothered("subprocess_exec", &[]);
    drop((echo, protocol, udp, unix));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `name args` started with its stdout piped and stderr read to the end on a thread; stdout
/// is gone once `lines` lines are read, which are returned.
fn start_then_lose_stdout(
    name: &str,
    args: &[&str],
    lines: usize,
) -> (ChildGuard, mpsc::Receiver<String>, Vec<String>) {
    let (child, mut out, err) = spawn_piped(name, args);
    let read: Vec<String> = (0..lines)
        .map(|_| next_line(&mut out).trim_end().to_string())
        .collect();
    drop(out); // stdout is a broken pipe from now on
    (child, err, read)
}

/// SIGTERM to `child`: it exits 143; its stderr is returned.
fn assert_ends_143(name: &str, mut child: ChildGuard, err: mpsc::Receiver<String>) -> String {
    sigterm(&child);
    let stderr = err.recv_timeout(BOUND).expect("stderr to its end");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{name}: {status:?}: {stderr}");
    stderr
}

/// The port in `Serving on ('127.0.0.1', PORT)`.
fn port_in(line: &str) -> u16 {
    line.strip_prefix("Serving on ('127.0.0.1', ")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first line: {line:?}"))
}

/// One message to a server that echoes it and closes: the echo, then EOF.
fn echo_once(port: u16, message: &[u8]) {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(BOUND)).unwrap();
    sock.write_all(message).unwrap();
    let mut got = Vec::new();
    sock.read_to_end(&mut got).unwrap();
    assert_eq!(got, message);
}

/// The ported servers print for each connection (`Received …`, `Connection from …`): with
/// their stdout gone after `Serving on`, each connection is still served, and so is the next.
#[test]
fn servers_with_their_stdout_gone_serve_every_connection() {
    for name in ["tcp_echo_server", "echo_server_protocol"] {
        let (child, err, first) = start_then_lose_stdout(name, &["--port", "0"], 1);
        let port = port_in(&first[0]);
        echo_once(port, b"one");
        echo_once(port, b"two");
        assert_eq!(assert_ends_143(name, child, err), "", "{name}");
    }
}

/// `chat_server` prints `ADDR joined` and `ADDR left`: with its stdout gone, a client is
/// welcomed and the others hear of its coming and going.
#[test]
fn chat_server_with_its_stdout_gone_welcomes_and_announces() {
    let (child, err, first) = start_then_lose_stdout("chat_server", &["--port", "0"], 1);
    let port = port_in(&first[0]).to_string();
    let connect = |port: &str| {
        let sock = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        sock.set_read_timeout(Some(BOUND)).unwrap();
        let name = sock.local_addr().unwrap().to_string();
        let mut lines = BufReader::new(sock);
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line, format!("* you are {name}\n"));
        (name, lines)
    };
    let next = |lines: &mut BufReader<TcpStream>| {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        line
    };
    let (_, mut a) = connect(&port);
    let (b_name, b) = connect(&port);
    assert_eq!(next(&mut a), format!("* {b_name} joined\n"));
    drop(b);
    assert_eq!(next(&mut a), format!("* {b_name} left\n"));
    let (c_name, _c) = connect(&port);
    assert_eq!(next(&mut a), format!("* {c_name} joined\n"));
    assert_eq!(assert_ends_143("chat_server", child, err), "");
}

/// `udp_echo_server` with its stdout gone from the start (`Starting UDP server` and `Serving on`
/// both fail): it serves on the port it was given. UDP may drop a datagram, so the probe is
/// sent again each time an answer is late (a datagram protocol's own retry, bounded).
#[test]
fn udp_echo_server_with_its_stdout_gone_from_the_start_serves() {
    // A port the OS picked, let go for the server: its `Serving on` line cannot say which.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = spawn_example(
        "udp_echo_server",
        &["--port", &port.to_string()],
        gone(),
        Stdio::piped(),
    );
    let err = read_to_end(child.0.stderr.take().unwrap());
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut got = [0u8; 16];
    let mut answered = None;
    for _ in 0..(BOUND.as_millis() / 50) {
        probe.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        if let Ok((n, _)) = probe.recv_from(&mut got) {
            answered = Some(n);
            break;
        }
        // An old version has exited by now (exit 101): stop asking.
        if let Some(status) = child.0.try_wait().unwrap() {
            let stderr = err.recv_timeout(BOUND).unwrap_or_default();
            panic!("udp_echo_server ended: {status:?}: {stderr}");
        }
    }
    assert_eq!(answered, Some(4), "no echo within {BOUND:?}");
    assert_eq!(&got[..4], b"ping");
    assert_eq!(assert_ends_143("udp_echo_server", child, err), "");
}
