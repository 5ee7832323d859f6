//! `chat_server`: lines broadcast to the other clients, joins and departures announced.

use super::*;

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

/// S56, S60, L41: SIGTERM with clients connected ends `chat_server` cleanly: exit 143 and
/// nothing on stderr. Each client's writer is held by its writer task; the run's end cancels
/// every task, and a writer task cancelled before its handler (the second client here, by
/// the order of the tasks) dropped its writer open and warned `unclosed <StreamWriter ..>`,
/// blaming a handler that never uses its writer.
#[test]
fn chat_server_ended_by_sigterm_with_clients_connected_says_nothing_on_stderr() {
    let (mut child, mut out, err) = spawn_piped("chat_server", &["--port", "0"]);
    let first = next_line(&mut out);
    let port = first
        .trim_end()
        .strip_prefix("Serving on ('127.0.0.1', ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    let rest = read_to_end(out);
    let mut a = ChatClient::connect(&port);
    let b = ChatClient::connect(&port);
    assert_eq!(a.line(), format!("* {} joined", b.name));
    let b_name = b.name.clone();
    drop(b);
    assert_eq!(a.line(), format!("* {b_name} left"));
    let c = ChatClient::connect(&port);
    assert_eq!(a.line(), format!("* {} joined", c.name));

    sigterm(&child);
    let stderr = err.recv_timeout(BOUND).expect("stderr to its end");
    let stdout = rest.recv_timeout(BOUND).expect("stdout to its end");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}: {stderr}");
    assert_eq!(stderr, "");
    assert!(
        stdout.ends_with("Interrupted by SIGTERM, server closed\n"),
        "{stdout}"
    );
    drop((a, c));
}
