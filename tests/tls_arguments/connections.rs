//! Connections past the argument checks: open_connection and open_unix_connection with ssl
//! (CPython's no_loop_ssl tests), a failed handshake that never reaches the protocol, TLS in
//! TLS through start_tls (S1, S3, S8, T2, T3, T8, T32, T38).

use super::*;

/// Answers one request line with a response whose body is `Test message`, then closes: the
/// `run_test_server` of CPython's stream tests, over TLS.
async fn http_like(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    reader.readline().await?;
    writer.write(b"HTTP/1.0 200 OK\r\n\r\nTest message")?;
    writer.close();
    writer.wait_closed().await
}

/// CPython's `_basetest_open_connection_no_loop_ssl`: a request, the whole response up to
/// EOF, and no report to the loop's exception handler.
async fn get_test_message(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    writer.write(b"GET / HTTP/1.0\r\n\r\n")?;
    let data = reader.read(-1).await?;
    assert!(data.ends_with(b"\r\n\r\nTest message"), "{data:?}");
    writer.close();
    writer.wait_closed().await
}

// CPython: test_streams.StreamTests.test_open_connection_no_loop_ssl
#[test]
fn s1_t2_t38_test_open_connection_no_loop_ssl() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone())
            },
        ));
        let server = asyncio::start_server(http_like, "127.0.0.1", 0)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .await?;
        get_test_message(reader, writer).await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

// CPython: test_streams.StreamTests.test_open_unix_connection_no_loop_ssl
#[test]
fn s3_s8_t3_test_open_unix_connection_no_loop_ssl() {
    // Over a Unix socket with server_hostname '' (no name to check, as Python's '').
    let dir = util::temp_dir("s3-no-loop-ssl");
    let path = dir.join("s.sock");
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone())
            },
        ));
        let server = asyncio::start_unix_server(http_like, &path)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        let (reader, writer) = asyncio::open_unix_connection(&path)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("")
            .await?;
        get_test_message(reader, writer).await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

#[test]
fn t8_failed_handshake_never_reaches_the_protocol() {
    let (lp, server, port) = loop_and_tls_echo_server();
    let (factory, made) = forwarding_recorder();
    let connect = lp
        .create_connection(factory, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("wrong.example");
    let r = lp
        .run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
        .unwrap()
        .unwrap();
    assert!(r.is_err());
    // The server's side ends too; by then every callback of ours has run: none may reach
    // the protocol (T8).
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let rec = made.borrow().clone().expect("factory ran");
    assert!(rec.borrow().calls.is_empty(), "{:?}", rec.borrow().calls);
    server.close();
}

#[test]
fn t32_tls_in_tls_through_loop_start_tls() {
    run(async {
        // A STARTTLS exchange inside a TLS connection: both sides run a second TLS session
        // whose records are the outer session's plaintext.
        let certs = Certs::get();
        let server = asyncio::start_server(
            |reader: StreamReader, mut writer: StreamWriter| async move {
                assert_eq!(reader.readline().await?, b"STARTTLS\n");
                writer.write(b"GO\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.close();
                writer.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"STARTTLS\n")?;
        assert_eq!(reader.readline().await?, b"GO\n");
        writer
            .start_tls(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"inner\n")?;
        assert_eq!(reader.readline().await?, b"inner\n");
        close_both(&writer, server).await
    });
}
