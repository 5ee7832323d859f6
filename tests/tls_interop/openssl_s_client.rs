//! `openssl s_client` against our server: an echo, and the close_notify our server sends when
//! a handler fails after start_tls.

use super::*;

#[test]
fn openssl_s_client_to_our_server() {
    if !have_openssl() {
        return;
    }
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(echo_line_then_close, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &certs.ca,
            &[
                "-verify_return_error",
                "-verify_hostname",
                "localhost",
                "-servername",
                "localhost",
                "-quiet",
            ],
            Stdio::piped(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        stdin.write_all(b"hello from s_client\n").unwrap();
        drop(stdin); // -quiet ignores stdin EOF: s_client waits for our close
        let out = stdout_to_end(&mut child.0).await;
        let status = child.0.wait().unwrap();
        let mut err = String::new();
        let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
        assert_eq!(out, "hello from s_client\n", "stderr: {err}");
        assert!(status.success(), "s_client: {status}; stderr: {err}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// S60, D7, D9: a server handler that fails after `StreamWriter::start_tls`, its writer kept
/// elsewhere, ends the connection with close_notify, as `writer.close()` would: s_client
/// (`-msg`) shows the alert, where a raw close would show a bare EOF. The upgrade is SMTP's
/// STARTTLS (`-starttls smtp`), so the ClientHello cannot come before our start_tls.
#[test]
fn openssl_s_client_sees_close_notify_from_a_handler_failing_after_start_tls() {
    if !have_openssl() {
        return;
    }
    run(async {
        let certs = Certs::get();
        let kept: std::rc::Rc<std::cell::RefCell<Option<StreamWriter>>> = Default::default();
        let k = kept.clone();
        let fails_after_start_tls = move |reader: StreamReader, mut writer: StreamWriter| {
            let k = k.clone();
            async move {
                writer.write(b"220 ready\r\n")?;
                let _ehlo = reader.readline().await?;
                writer.write(b"250 STARTTLS\r\n")?;
                let _starttls = reader.readline().await?;
                writer.write(b"220 go ahead\r\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.drain().await?;
                *k.borrow_mut() = Some(writer);
                Err::<(), Error>(Error::Io(std::io::Error::other("the handler fails")))
            }
        };
        let server = asyncio::start_server(fails_after_start_tls, "127.0.0.1", 0).await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &certs.ca,
            &[
                "-servername",
                "localhost",
                "-starttls",
                "smtp",
                "-quiet",
                "-msg",
            ],
            Stdio::piped(),
        );
        let mut stdin = child.0.stdin.take().unwrap();
        stdin.write_all(b"hello from s_client\n").unwrap();
        drop(stdin); // -quiet ignores stdin EOF: s_client waits for our close
        let out = stdout_to_end(&mut child.0).await;
        let _ = child.0.wait();
        let mut err = String::new();
        let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
        assert!(out.contains("hello from s_client"), "{out}\nstderr: {err}");
        assert!(
            out.contains("close_notify"),
            "no close_notify from our server:\n{out}\nstderr: {err}"
        );
        kept.borrow_mut().take();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// A client limited to TLS 1.1 (`s_client -tls1_1`; security level 0, where OpenSSL 3 still
/// offers it), which our own client cannot be: our server refuses it in OpenSSL's words,
/// `unsupported protocol` (Python's server says `[SSL: UNSUPPORTED_PROTOCOL] unsupported
/// protocol` for a version it does not take; scratch/s25/probes/tlswords/words_probe.py),
/// then what to do. rustls refuses the hello for lacking signature_algorithms first, with a
/// handshake_failure alert, which s_client prints as `sslv3 alert handshake failure`. The
/// upgrade is SMTP's STARTTLS (`-starttls smtp`), so the ClientHello cannot come before our
/// start_tls, whose error reaches the handler.
#[test]
fn openssl_s_client_on_tls_1_1_reads_unsupported_protocol_on_our_server() {
    if !have_openssl() {
        return;
    }
    run(async {
        let seen: std::rc::Rc<std::cell::RefCell<Vec<String>>> = Default::default();
        let s = seen.clone();
        let smtp_then_start_tls = move |reader: StreamReader, mut writer: StreamWriter| {
            let s = s.clone();
            async move {
                writer.write(b"220 ready\r\n")?;
                let _ehlo = reader.readline().await?;
                writer.write(b"250 STARTTLS\r\n")?;
                let _starttls = reader.readline().await?;
                writer.write(b"220 go ahead\r\n")?;
                let e = writer
                    .start_tls(Certs::get().server_config(&[]))
                    .await
                    .err();
                s.borrow_mut()
                    .push(e.map_or("ok".into(), |e| e.to_string()));
                Ok::<_, Error>(())
            }
        };
        let server = asyncio::start_server(smtp_then_start_tls, "127.0.0.1", 0).await?;
        let port = our_tls_server_port(&server);
        let mut child = s_client(
            port,
            &Certs::get().ca,
            &[
                "-starttls",
                "smtp",
                "-tls1_1",
                "-cipher",
                "DEFAULT@SECLEVEL=0",
            ],
            Stdio::piped(),
        );
        drop(child.0.stdin.take());
        let _out = stdout_to_end(&mut child.0).await;
        let _ = child.0.wait();
        let mut err = String::new();
        let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
        while seen.borrow().is_empty() {
            asyncio::yield_now().await; // bounded by run's BOUND
        }
        let ours = seen.borrow()[0].clone();
        assert!(
            ours.starts_with(
                "unsupported protocol: the client's hello has no signature_algorithms"
            ),
            "{ours}"
        );
        assert!(
            err.contains("sslv3 alert handshake failure"),
            "s_client: {err}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
