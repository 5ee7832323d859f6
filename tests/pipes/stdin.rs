//! `stdin()` in a child process fed through a pipe, and the stdin echo client example end to end
//! against an echo server.

use super::*;

/// In the child (`PIPES_CHILD=1`): echo stdin's lines to stdout() with a prefix, then say
/// whether fd 0 is still open. Elsewhere a no-op.
#[test]
fn child_stdin_lines() {
    if std::env::var_os("PIPES_CHILD").is_none() {
        return;
    }
    asyncio::run(async {
        let input = asyncio::stdin().await?;
        let out = asyncio::stdout().await?;
        loop {
            let line = input.readline().await?;
            if line.is_empty() {
                break;
            }
            out.write(b"got: ")?;
            out.write(&line)?;
        }
        out.write(b"EOF\n")?;
        out.close();
        out.wait_closed().await?;
        Ok::<_, asyncio::Error>(())
    })
    .unwrap()
    .unwrap();
    // Closing the streams closed the duplicates, not fd 0/1.
    println!("fd1 still open");
}

#[test]
fn stdin_in_a_child_process_reads_piped_lines() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "stdin::child_stdin_lines",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PIPES_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"alpha\nbeta\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert!(out.contains("got: alpha\ngot: beta\nEOF\n"), "{out}");
    assert!(out.contains("fd1 still open"), "{out}");
}

#[test]
fn stdin_echo_client_example_against_an_echo_server() {
    // An in-process echo server on a thread: echoes until the client half-closes, then closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                return total; // the client's write_eof
            }
            total += n;
            conn.write_all(&buf[..n]).unwrap();
        }
    });
    let mut child = Command::new(example_binary("stdin_echo_client"))
        .args(["--port", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Interactive: one line, its reply, then the next (proves stdin is read as it comes).
    stdin.write_all(b"hello\n").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "Received: 'hello\\n'\n");
    stdin.write_all(b"world\n").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "Received: 'world\\n'\n");
    drop(stdin); // EOF: the client half-closes; the server closes; the client exits
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "Server closed the connection\n");
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(server.join().unwrap(), 12);
}
