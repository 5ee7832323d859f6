//! Renegotiation (T45): rustls refuses it, as our client of `openssl s_server` and as our
//! server to `openssl s_client`, with a typed error or an EOF, never a hang or a panic.

use super::*;

/// The lines `rx` still brings until the child's stdout ends (bounded).
fn rest_of(rx: mpsc::Receiver<String>) -> String {
    let mut out = String::new();
    while let Ok(line) = rx.recv_timeout(BOUND) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// T45: rustls refuses renegotiation. `openssl s_server -tls1_2` asked to renegotiate (`r` on
/// its stdin) sends a HelloRequest; our client answers with a no_renegotiation alert and the
/// connection ends (OpenSSL treats the refusal as fatal) with a typed error or an EOF on our
/// read, bounded: no hang, no panic.
#[test]
fn t45_our_client_refuses_a_renegotiation_from_openssl_s_server() {
    if !have_openssl() {
        return;
    }
    let certs = Certs::get();
    let mut child = ChildGuard(
        Command::new("openssl")
            .arg("s_server")
            .args(["-accept", "127.0.0.1:0", "-naccept", "1", "-tls1_2", "-msg"])
            .arg("-cert")
            .arg(&certs.cert)
            .arg("-key")
            .arg(&certs.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openssl s_server"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let (line, rx) = wait_line(&mut child.0, "ACCEPT");
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    let read = run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        assert_eq!(writer.transport().tls_version().as_deref(), Some("TLSv1.2"));
        stdin.write_all(b"r\n").unwrap(); // s_server: renegotiate
        stdin.flush().unwrap();
        let read = reader.read(-1).await;
        writer.close();
        let _ = writer.wait_closed().await;
        Ok(read)
    });
    let out = rest_of(rx);
    println!("our read: {read:?}\ns_server:\n{out}");
    assert!(
        out.contains("HelloRequest"),
        "s_server asked to renegotiate:\n{out}"
    );
    assert!(
        out.contains("no_renegotiation"),
        "T45: refused with no_renegotiation:\n{out}"
    );
    match read {
        Ok(rest) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) => assert!(matches!(e, Error::Tls(_)), "a typed TLS error: {e:?}"),
    }
}

/// T45, the server side: `openssl s_client -tls1_2` asked to renegotiate (`R` on its stdin)
/// sends a new ClientHello; our server refuses it (no_renegotiation), the handler's read ends
/// with a typed error or an EOF, and the server goes on serving.
#[test]
fn t45_our_server_refuses_a_renegotiation_from_openssl_s_client() {
    if !have_openssl() {
        return;
    }
    let ended: std::rc::Rc<std::cell::RefCell<Vec<String>>> = Default::default();
    let (e, ended_in) = (ended.clone(), ended.clone());
    let done = std::rc::Rc::new(asyncio::Event::new());
    let d = done.clone();
    let out = run(async move {
        let certs = Certs::get();
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            let (e, d) = (e.clone(), d.clone());
            async move {
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.drain().await?;
                let rest = reader.read(-1).await;
                e.borrow_mut().push(match rest {
                    Ok(b) => format!("eof {}", b.len()),
                    Err(Error::Tls(t)) => format!("tls {t}"),
                    Err(other) => format!("other {other:?}"),
                });
                d.set();
                writer.close();
                let _ = writer.wait_closed().await;
                Ok::<_, Error>(())
            }
        };
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &certs.ca,
            &["-servername", "localhost", "-tls1_2", "-msg"],
            Stdio::null(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        let out = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Our echo of a first line proves the handshake done; then the renegotiation.
        stdin.write_all(b"ping\n").unwrap();
        stdin.flush().unwrap();
        let (echoed, rx) = on_thread(move || {
            let mut seen = String::new();
            loop {
                match rx.recv_timeout(BOUND) {
                    Ok(line) if line == "ping" => return (true, rx),
                    Ok(line) => {
                        seen.push_str(&line);
                        seen.push('\n');
                    }
                    Err(_) => {
                        println!("s_client so far:\n{seen}");
                        return (false, rx);
                    }
                }
            }
        })
        .await;
        assert!(echoed, "the echo before the renegotiation");
        stdin.write_all(b"R\n").unwrap();
        stdin.flush().unwrap();
        done.wait().await; // the handler's read has ended
        assert_eq!(ended_in.borrow().len(), 1);
        drop(stdin);
        let out = on_thread(move || rest_of(rx)).await;
        let _ = child.0.wait();
        // The server still serves.
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"after\n")?;
        assert_eq!(reader.readline().await?, b"after\n");
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(out)
    });
    println!("handler: {:?}\ns_client:\n{out}", ended.borrow());
    assert!(
        out.contains("no_renegotiation"),
        "T45: refused with no_renegotiation:\n{out}"
    );
    let ended = ended.borrow();
    assert!(
        ended[0].starts_with("eof") || ended[0].starts_with("tls"),
        "{ended:?}"
    );
}
