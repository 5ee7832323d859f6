//! The example programs as command-line tools (issue #14, point 7), run as built by `cargo
//! test`: `--help` prints the usage on stdout and exits 0; an unknown flag, a missing or bad
//! value exits 2 with one line on stderr naming it; a runtime failure prints `NAME: error`
//! (Display, not Debug) and exits 1. And the ported Python docs examples, run against each
//! other, print exactly what the Python originals print.
//!
//! Every child runs on loopback (servers take `--port 0` or a Unix socket in a temp dir), and
//! every wait for its output is bounded: a child that hangs fails the test and is killed.

mod util;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use util::example_binary;

/// The longest a child may take to print what a test waits for.
const BOUND: Duration = Duration::from_secs(20);

/// Every example, with arguments holding one bad input, and how the error must name it.
const EXAMPLES: &[(&str, &[&str], &str)] = &[
    ("chat_server", &["--outbox", "0"], "--outbox"),
    ("echo_client_protocol", &["--port", "abc"], "--port"),
    ("echo_server", &["--port", "70000"], "--port"),
    ("echo_server_protocol", &["--port", "-1"], "--port"),
    ("embed_in_poll", &["--port", ""], "--port"),
    ("http_headers", &["example.com"], "URL"),
    // No flags: an extra argument is the bad input.
    ("loop_demo", &["extra"], "'extra'"),
    ("soak", &["--seconds", "soon"], "--seconds"),
    ("stdin_echo_client", &["--port", "abc"], "--port"),
    ("subprocess_exec", &["--python"], "--python"),
    ("subprocess_shell", &["ls", "extra"], "'extra'"),
    ("tcp_echo_client", &["--port", "abc"], "--port"),
    ("tcp_echo_server", &["--port", "70000"], "--port"),
    (
        "tls_echo_client",
        &["--cafile", "ca.pem", "--port=8x"],
        "--port",
    ),
    ("udp_echo_client", &["--port", "abc"], "--port"),
    ("udp_echo_server", &["--port", "70000"], "--port"),
    ("unix_echo_client", &["--unix"], "--unix"),
    ("wait_for_data", &["extra"], "'extra'"),
];

/// Kills and reaps the child when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished run printed, and its exit code.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Reads `pipe` to its end on a thread; the text arrives on the returned channel.
fn read_to_end(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Runs example `name` with `args` (stdin empty) to its end, within [`BOUND`].
fn run<S: AsRef<OsStr> + std::fmt::Debug>(name: &str, args: &[S]) -> Run {
    let mut child = ChildGuard(
        Command::new(example_binary(name))
            .args(args)
            .env_remove("ASYNCIO_TRACE")
            .env_remove("ASYNCIO_DEBUG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}")),
    );
    let out = read_to_end(child.0.stdout.take().unwrap());
    let err = read_to_end(child.0.stderr.take().unwrap());
    let bounded = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("{name} {args:?} did not finish within {BOUND:?}"))
    };
    let (stdout, stderr) = (bounded(out), bounded(err));
    let code = child.0.wait().unwrap().code();
    Run {
        code,
        stdout,
        stderr,
    }
}

/// A server example started with `args`, its stdout read line by line.
struct ServerChild {
    _child: ChildGuard,
    lines: mpsc::Receiver<String>,
}

impl ServerChild {
    fn start(name: &str, args: &[&str]) -> ServerChild {
        let mut child = ChildGuard(
            Command::new(example_binary(name))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {name}: {e}")),
        );
        let out = child.0.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ServerChild {
            _child: child,
            lines,
        }
    }

    /// The next line the server prints, within [`BOUND`].
    fn line(&self) -> String {
        self.lines
            .recv_timeout(BOUND)
            .unwrap_or_else(|e| panic!("no line from the server: {e}"))
    }

    /// The port in the first line, Python's `Serving on ('127.0.0.1', PORT)`.
    fn serving_port(&self) -> String {
        let first = self.line();
        let port = first
            .strip_prefix("Serving on ('127.0.0.1', ")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| panic!("first line: {first:?}"));
        assert!(port.parse::<u16>().is_ok(), "first line: {first:?}");
        port.to_string()
    }
}

/// The peer's port in `Received … from ('127.0.0.1', PORT)`-style lines: masked, as it differs
/// every run.
fn mask_peer_port(line: &str) -> String {
    match line.find("('127.0.0.1', ") {
        Some(i) => format!("{}('127.0.0.1', N)", &line[..i]),
        None => line.to_string(),
    }
}

#[test]
fn the_table_covers_every_example() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let is_rs = path.extension().is_some_and(|x| x == "rs");
            is_rs.then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = EXAMPLES.iter().map(|e| e.0).collect();
    assert_eq!(
        on_disk, listed,
        "EXAMPLES must list every examples/*.rs, sorted"
    );
}

#[test]
fn help_prints_usage_on_stdout_and_exits_0() {
    for &(name, _, _) in EXAMPLES {
        for flag in ["--help", "-h"] {
            let r = run(name, &[flag]);
            assert_eq!(r.code, Some(0), "{name} {flag}: {}", r.stderr);
            assert!(
                r.stdout.starts_with(&format!("Usage: {name}")),
                "{name} {flag}: {}",
                r.stdout
            );
            assert!(r.stdout.contains("--help"), "{name} {flag}: {}", r.stdout);
            assert_eq!(r.stderr, "", "{name} {flag}");
        }
    }
}

#[test]
fn help_wins_over_other_arguments() {
    let r = run("tcp_echo_client", &["--port", "abc", "--help", "--bogus"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("Usage: tcp_echo_client"));
}

#[test]
fn help_lists_each_flag_with_its_default() {
    let r = run("tcp_echo_client", &["--help"]);
    for line in [
        "--host H",
        "[default: 127.0.0.1]",
        "--port P",
        "[default: 8888]",
        "MESSAGE",
        "[default: Hello World!]",
    ] {
        assert!(r.stdout.contains(line), "{line:?} not in {}", r.stdout);
    }
}

/// The one line a usage error prints: starts with the program's name, ends with the hint.
fn assert_usage_error(name: &str, args: &[&str], r: &Run, names: &str) {
    assert_eq!(r.code, Some(2), "{name} {args:?}: {}", r.stderr);
    assert_eq!(r.stdout, "", "{name} {args:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{name} {args:?}: {}", r.stderr);
    assert!(r.stderr.starts_with(&format!("{name}: ")), "{}", r.stderr);
    assert!(r.stderr.contains(names), "{name} {args:?}: {}", r.stderr);
    assert!(
        r.stderr.ends_with(&format!("(see {name} --help)\n")),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_flag_exits_2_naming_it() {
    for &(name, _, _) in EXAMPLES {
        for args in [&["--no-such-flag"][..], &["--no-such-flag=1"], &["-x"]] {
            let r = run(name, args);
            let spelled = args[0].split('=').next().unwrap();
            assert_usage_error(name, args, &r, &format!("unknown flag '{spelled}'"));
        }
    }
}

#[test]
fn a_bad_value_exits_2_naming_the_flag() {
    for &(name, args, names) in EXAMPLES {
        let r = run(name, args);
        assert_usage_error(name, args, &r, names);
    }
}

#[test]
fn the_messages_say_what_is_wrong() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "echo_server",
            &["--port", "abc"],
            "echo_server: invalid value 'abc' for --port: invalid digit found in string",
        ),
        (
            "echo_server",
            &["--port", "70000"],
            "echo_server: invalid value '70000' for --port: number too large to fit in target type",
        ),
        (
            "tcp_echo_client",
            &["--port"],
            "tcp_echo_client: --port needs a value P",
        ),
        (
            "tcp_echo_client",
            &["a", "b"],
            "tcp_echo_client: unexpected argument 'b'",
        ),
        ("http_headers", &[], "http_headers: missing argument URL"),
        (
            "tls_echo_client",
            &[],
            "tls_echo_client: missing --cafile CA.pem",
        ),
        (
            "echo_server",
            &["--tls-key", "k.pem"],
            "echo_server: --tls-key needs --tls-cert",
        ),
        (
            "echo_server",
            &["--workers", "0"],
            "echo_server: invalid value '0' for --workers: not in 1..=1024",
        ),
        (
            "echo_server",
            &["--workers", "1025"],
            "echo_server: invalid value '1025' for --workers: not in 1..=1024",
        ),
        (
            "echo_server",
            &["--workers", "2", "--unix", "s.sock"],
            "echo_server: --workers needs TCP, not --unix",
        ),
        (
            "echo_server",
            &["--idle-timeout", "soon"],
            "echo_server: invalid value 'soon' for --idle-timeout: invalid float literal",
        ),
        (
            "echo_server",
            &["--idle-timeout", "-1"],
            "echo_server: invalid value '-1' for --idle-timeout: cannot convert float seconds to Duration: value is negative",
        ),
        (
            "embed_in_poll",
            &["--count-idle=1"],
            "embed_in_poll: --count-idle takes no value",
        ),
        (
            "soak",
            &["--tls", "maybe"],
            "soak: invalid value 'maybe' for --tls: expected auto, on, off or only",
        ),
        (
            "soak",
            &["--peak", "99999999"],
            "soak: invalid value '99999999' for --peak: not in 0..=1000000",
        ),
    ];
    for &(name, args, expected) in cases {
        let r = run(name, args);
        assert_eq!(r.code, Some(2), "{name} {args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            format!("{expected} (see {name} --help)\n"),
            "{name} {args:?}"
        );
    }
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let r = run("tcp_echo_client", &[OsStr::from_bytes(b"caf\xe9")]);
    assert_eq!(
        r.stderr,
        "tcp_echo_client: argument \"caf\\xE9\" is not valid UTF-8 (see tcp_echo_client --help)\n"
    );
    assert_eq!(r.code, Some(2));
}

#[test]
fn a_runtime_error_prints_display_and_exits_1() {
    let dir = util::temp_dir("examples-cli");
    let missing = dir.join("no-server.sock");
    let missing = missing.to_str().unwrap();
    let r = run("unix_echo_client", &["--unix", missing]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    // Display, one line, as Python words it: no `Os { code: 2, kind: NotFound, .. }`.
    assert_eq!(
        r.stderr,
        format!("unix_echo_client: [Errno 2] No such file or directory: '{missing}'\n")
    );
    let r = run(
        "echo_server",
        &[
            "--unix",
            missing,
            "--tls-cert",
            missing,
            "--tls-key",
            missing,
        ],
    );
    if cfg!(feature = "tls") {
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(r.stderr.starts_with("echo_server: "), "{}", r.stderr);
        assert!(r.stderr.contains(missing), "{}", r.stderr);
        assert!(!r.stderr.contains("kind:"), "Debug output: {}", r.stderr);
    } else {
        // Without TLS the flags themselves are the error.
        assert_eq!(r.code, Some(2), "{}", r.stderr);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

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
fn tcp_echo_pair_prints_what_python_prints() {
    let server = ServerChild::start("tcp_echo_server", &["--port", "0"]);
    let port = server.serving_port();
    let r = run("tcp_echo_client", &["Hello World!", "--port", &port]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
    );
    let lines: Vec<String> = (0..3).map(|_| mask_peer_port(&server.line())).collect();
    assert_eq!(
        lines,
        [
            "Received 'Hello World!' from ('127.0.0.1', N)",
            "Send: 'Hello World!'",
            "Close the connection",
        ]
    );
    // The default message is the docs' one; a quote inside switches repr's quotes.
    let r = run("tcp_echo_client", &["--port", &port, "it's"]);
    assert_eq!(
        r.stdout,
        "Send: \"it's\"\nReceived: \"it's\"\nClose the connection\n"
    );
}

#[test]
fn protocol_echo_pair_prints_what_python_prints() {
    let server = ServerChild::start("echo_server_protocol", &["--port", "0"]);
    let port = server.serving_port();
    let r = run("echo_client_protocol", &["--port", &port]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Data sent: 'Hello World!'\nData received: 'Hello World!'\n\
         The server closed the connection\n"
    );
    let lines: Vec<String> = (0..4).map(|_| mask_peer_port(&server.line())).collect();
    assert_eq!(
        lines,
        [
            "Connection from ('127.0.0.1', N)",
            "Data received: 'Hello World!'",
            "Send: 'Hello World!'",
            "Close the client socket",
        ]
    );
}

#[test]
fn udp_echo_pair_prints_what_python_prints() {
    let server = ServerChild::start("udp_echo_server", &["--port", "0"]);
    assert_eq!(server.line(), "Starting UDP server");
    let port = server.serving_port();
    let r = run("udp_echo_client", &["--port", &port]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Send: Hello World!\nReceived: Hello World!\nClose the socket\nConnection closed\n"
    );
    let lines: Vec<String> = (0..2).map(|_| mask_peer_port(&server.line())).collect();
    assert_eq!(
        lines,
        [
            "Received 'Hello World!' from ('127.0.0.1', N)",
            "Send 'Hello World!' to ('127.0.0.1', N)",
        ]
    );
}

#[test]
fn wait_for_data_prints_what_python_prints() {
    let r = run::<&str>("wait_for_data", &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "Received: abc\n");
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

/// One chat client: a blocking socket whose reads are bounded by [`BOUND`].
struct ChatClient {
    name: String,
    lines: BufReader<std::net::TcpStream>,
}

impl ChatClient {
    fn connect(port: &str) -> ChatClient {
        let sock = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        sock.set_read_timeout(Some(BOUND)).unwrap();
        let name = sock.local_addr().unwrap().to_string();
        let mut client = ChatClient {
            name,
            lines: BufReader::new(sock),
        };
        // Once the welcome is read, the server has us in the room.
        let welcome = client.line();
        assert_eq!(welcome, format!("* you are {}", client.name));
        client
    }

    fn say(&mut self, text: &str) {
        use std::io::Write;
        self.lines
            .get_mut()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .lines
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{}: no line within {BOUND:?}: {e}", self.name));
        assert!(n > 0, "{}: the server closed the connection", self.name);
        line.trim_end().to_string()
    }
}

#[test]
fn chat_server_broadcasts_to_the_others_and_announces_departures() {
    let server = ServerChild::start("chat_server", &["--port", "0"]);
    let port = server.serving_port();
    let mut a = ChatClient::connect(&port);
    let mut b = ChatClient::connect(&port);
    assert_eq!(a.line(), format!("* {} joined", b.name));
    let mut c = ChatClient::connect(&port);
    assert_eq!(a.line(), format!("* {} joined", c.name));
    assert_eq!(b.line(), format!("* {} joined", c.name));

    a.say("hello from a");
    assert_eq!(b.line(), format!("{}: hello from a", a.name));
    assert_eq!(c.line(), format!("{}: hello from a", a.name));
    b.say("hi");
    // a's next line is b's: its own line was not sent back to it.
    assert_eq!(a.line(), format!("{}: hi", b.name));
    assert_eq!(c.line(), format!("{}: hi", b.name));

    let c_name = c.name.clone();
    drop(c);
    assert_eq!(a.line(), format!("* {c_name} left"));
    assert_eq!(b.line(), format!("* {c_name} left"));
    a.say("still here");
    assert_eq!(b.line(), format!("{}: still here", a.name));
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

/// The Python original of `subprocess_shell`, from the subprocess docs.
const PY_SUBPROCESS_SHELL: &str = r#"
import asyncio, sys

async def run(cmd):
    proc = await asyncio.create_subprocess_shell(
        cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)

    stdout, stderr = await proc.communicate()

    print(f'[{cmd!r} exited with {proc.returncode}]')
    if stdout:
        print(f'[stdout]\n{stdout.decode()}')
    if stderr:
        print(f'[stderr]\n{stderr.decode()}')

asyncio.run(run(sys.argv[1]))
"#;

#[test]
fn subprocess_shell_prints_what_python_prints() {
    for cmd in ["ls /zzz", "echo hello; echo oops >&2; exit 3"] {
        let r = run("subprocess_shell", &[cmd]);
        let py = Command::new("python3")
            .args(["-c", PY_SUBPROCESS_SHELL, cmd])
            .output()
            .expect("python3 runs");
        assert_eq!(r.stdout, String::from_utf8_lossy(&py.stdout), "{cmd}");
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    let r = run("subprocess_shell", &["ls /zzz"]);
    assert!(
        r.stdout.starts_with("['ls /zzz' exited with "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("[stderr]\n"), "{}", r.stdout);
}

#[test]
fn subprocess_exec_prints_the_date_python_printed() {
    let r = run::<&str>("subprocess_exec", &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let date = r
        .stdout
        .strip_prefix("Current date: ")
        .and_then(|d| d.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{:?}", r.stdout));
    // `datetime.now()`'s str: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    let (day, time) = date.split_once(' ').unwrap_or_else(|| panic!("{date:?}"));
    assert_eq!(day.len(), 10, "{date:?}");
    assert!(time.len() >= 8, "{date:?}");
    let r = run("subprocess_exec", &["--python", "/nonexistent/python"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    // The missing program is named, as Python's FileNotFoundError names it.
    let missing = "subprocess_exec: [Errno 2] No such file or directory: '/nonexistent/python'\n";
    assert_eq!(r.stderr, missing);
}
