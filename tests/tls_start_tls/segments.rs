//! StreamWriter::start_tls when the peer's first data, and its close_notify, come in the same
//! segment as its last handshake record (S53, S54, T7, T20): the stream reads them after the
//! upgrade returns, then a clean EOF, on either side.

use std::io::{Read, Write};

use super::*;

/// A rustls client on `tcp` (a plain line `GO` read first): its handshake, then its Finished,
/// `data` and its close_notify in one write; then it reads until EOF and returns what came.
fn client_finished_with(mut tcp: std::net::TcpStream, data: &'static [u8]) -> Vec<u8> {
    tcp.set_read_timeout(Some(BOUND)).unwrap();
    let mut go = [0u8; 3];
    tcp.read_exact(&mut go).unwrap();
    assert_eq!(&go, b"GO\n");
    tls_common::client_finished_with(&mut tcp, data)
}

/// How the server's handler ended: what it read, or why it failed; `None` until it ends.
type Outcome = Option<Result<Vec<u8>, String>>;

// Checklist: S53, S54, T7, T20, T36 (server side of StreamWriter::start_tls).
#[test]
fn s53_t7_server_start_tls_reads_what_came_with_the_clients_finished() {
    run(async {
        let read: Rc<RefCell<Outcome>> = Rc::default();
        let seen = read.clone();
        let server = asyncio::start_server(
            move |r: StreamReader, mut w: StreamWriter| {
                let seen = seen.clone();
                async move {
                    w.write(b"GO\n")?;
                    let outcome = match w.start_tls(Certs::get().server_config(&[])).await {
                        Ok(_) => r.read(-1).await.map_err(|e| format!("read: {e:?}")),
                        Err(e) => Err(format!("start_tls: {e:?}")),
                    };
                    *seen.borrow_mut() = Some(outcome);
                    w.close();
                    w.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        )
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let peer = std::thread::spawn(move || client_finished_with(tcp, b"with finished\n"));
        while !peer.is_finished() || read.borrow().is_none() {
            asyncio::sleep(Duration::from_millis(2)).await; // bounded by `run`
        }
        assert_eq!(
            peer.join().unwrap(),
            b"",
            "T20: nothing after its close_notify"
        );
        assert_eq!(
            read.borrow_mut().take().unwrap(),
            Ok(b"with finished\n".to_vec()),
            "S54: the data, then a clean EOF"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// A TLS 1.2 rustls server on the accepted socket, after a plain `GO` line: its last flight,
/// `data` and its close_notify in one write; then it reads until EOF.
fn tls12_server_after_go(mut tcp: std::net::TcpStream, data: &'static [u8]) {
    tcp.set_read_timeout(Some(BOUND)).unwrap();
    tcp.write_all(b"GO\n").unwrap();
    tls_common::tls12_server_finished_with(&mut tcp, data, true);
    tls_common::drain(&mut tcp);
}

// Checklist: S53, S54, T7, T20 (client side of StreamWriter::start_tls).
#[test]
fn s53_t7_client_start_tls_reads_what_came_with_the_servers_finished() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tls12_server_after_go(tcp, b"with finished\n")
    });
    run(async {
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.readline().await?, b"GO\n");
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        let all = asyncio::timeout(Duration::from_secs(5), reader.read(-1)).await??;
        assert_eq!(all, b"with finished\n", "S54: the data, then a clean EOF");
        assert!(
            writer.transport().close_notify_received(),
            "D9: a clean end"
        );
        writer.close();
        writer.wait_closed().await
    });
    peer.join().unwrap();
}
