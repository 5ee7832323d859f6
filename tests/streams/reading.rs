//! Reading over a real socket: readexactly past the limit, a cancelled readline that loses
//! nothing, a reset that every later read and the drain raise (S16, S19, S22, S48).

use super::*;

#[test]
fn test_open_connection_error_s19_s48_s64() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        // Reset only once the client is connected (else the connect itself may see it).
        go_rx.recv_timeout(BOUND).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        let mut s = s;
        s.write_all(b"partial").unwrap();
        // Dropped with linger 0: RST.
    });
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        go_tx.send(()).unwrap();
        // The data may or may not arrive before the reset; the error must come, typed.
        let mut got = Vec::new();
        let err = loop {
            match reader.read(100).await {
                Ok(d) if d.is_empty() => panic!("clean EOF instead of a reset"),
                Ok(d) => got.extend(d),
                Err(e) => break e,
            }
        };
        peer.join().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        let e = reader.readline().await.unwrap_err();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "S19: every later read raises it"
        );
        let e = writer.drain().await.unwrap_err();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "S48: drain raises the reader's error"
        );
        assert!(
            writer.wait_closed().await.is_err(),
            "S46: wait_closed raises the loss error"
        );
    });
}

#[test]
fn s16_readexactly_beyond_twice_the_limit_over_a_real_socket() {
    run(async {
        const N: usize = 1 << 20;
        let server = asyncio::start_server(
            |_r: StreamReader, w: StreamWriter| async move {
                let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
                w.write(&data)?;
                w.drain().await?;
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .limit(1024)
            .await
            .unwrap();
        let got = reader.readexactly(N).await.unwrap();
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn s22_d1_a_cancelled_readline_over_a_socket_loses_nothing() {
    run(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Rc::new(RefCell::new(Some(rx)));
        let server = asyncio::start_server(
            move |_r: StreamReader, w: StreamWriter| {
                let rx = rx.borrow_mut().take().unwrap();
                async move {
                    w.write(b"first half ")?;
                    w.drain().await?;
                    // Wait (bounded) until the client's readline has been cancelled.
                    while rx.try_recv().is_err() {
                        asyncio::sleep(Duration::from_millis(1)).await;
                    }
                    w.write(b"second half\n")?;
                    w.close();
                    w.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        )
        .await
        .unwrap();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .await
            .unwrap();
        // A readline that sees the first half arrive, then is cancelled by its timeout.
        let r = asyncio::timeout(Duration::from_millis(20), reader.readline()).await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "the line cannot be complete yet"
        );
        tx.send(()).unwrap();
        assert_eq!(
            reader.readline().await.unwrap(),
            b"first half second half\n"
        );
        writer.close();
        server.close();
        server.wait_closed().await;
    });
}
