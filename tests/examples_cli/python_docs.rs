//! The ported Python docs examples print what the Python originals print: the TCP, protocol
//! and UDP echo pairs, wait_for_data, subprocess_shell (checked against python3 running the
//! original) and subprocess_exec.

use super::*;

/// The peer's port in `Received … from ('127.0.0.1', PORT)`-style lines: masked, as it differs
/// every run.
fn mask_peer_port(line: &str) -> String {
    match line.find("('127.0.0.1', ") {
        Some(i) => format!("{}('127.0.0.1', N)", &line[..i]),
        None => line.to_string(),
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
    // Control characters in Python's escapes, as its repr prints them (they went out raw,
    // invisible on a terminal: a TLS server's alert read as `' 2'`).
    let r = run("tcp_echo_client", &["--port", &port, "a\u{1}b\u{7f}\u{85}"]);
    assert_eq!(
        r.stdout,
        "Send: 'a\\x01b\\x7f\\x85'\nReceived: 'a\\x01b\\x7f\\x85'\nClose the connection\n"
    );
    // A negative number is a message, as argparse reads it (it was "unknown flag '-5'").
    for message in ["-5", "-.5"] {
        let r = run("tcp_echo_client", &["--port", &port, message]);
        assert_eq!(r.code, Some(0), "{message}: {}", r.stderr);
        assert_eq!(
            r.stdout,
            format!("Send: '{message}'\nReceived: '{message}'\nClose the connection\n")
        );
    }
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
