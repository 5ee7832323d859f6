//! Python's `ssl` module (asyncio with an SSLContext) against us: its client to our server and
//! our client to its server.

use super::*;

async fn echo_line_then_wait_eof(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let line = reader.readline().await?;
    writer.write(&line)?;
    writer.drain().await?;
    let _ = reader.read(-1).await?; // until the client's close_notify (or EOF)
    writer.close();
    writer.wait_closed().await
}

const PY_CLIENT: &str = r#"
import asyncio, ssl, sys
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[1])
    r, w = await asyncio.open_connection('127.0.0.1', int(sys.argv[2]), ssl=ctx,
                                        server_hostname='localhost')
    w.write(b'hello from python\n')
    line = await r.readline()
    print('GOT', line.decode().strip(), w.get_extra_info('cipher')[1], flush=True)
    w.close()
    await w.wait_closed()
    print('CLOSED', flush=True)
asyncio.run(main())
"#;

const PY_SERVER: &str = r#"
import asyncio, ssl, sys
async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    done = asyncio.Event()
    async def handle(r, w):
        line = await r.readline()
        w.write(line.upper())
        await w.drain()
        rest = await r.read()
        print('EOF', len(rest), flush=True)
        w.close()
        await w.wait_closed()
        done.set()
    srv = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=ctx)
    print('PORT', srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 20)
    srv.close()
    print('DONE', flush=True)
asyncio.run(main())
"#;

#[test]
fn python_ssl_client_to_our_server() {
    if !have_python_ssl() {
        return;
    }
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(echo_line_then_wait_eof, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = our_tls_server_port(&server);
        let mut child = ChildGuard(
            Command::new("python3")
                .args(["-c", PY_CLIENT])
                .arg(&certs.ca)
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn python3"),
        );
        let out = stdout_to_end(&mut child.0).await;
        let status = child.0.wait().unwrap();
        assert_eq!(out, "GOT hello from python TLSv1.3\nCLOSED\n");
        assert!(status.success(), "python3: {status}");
        server.close();
        server.wait_closed().await; // our side finished its close_notify exchange too
        Ok(())
    });
}

#[test]
fn our_client_to_python_ssl_server() {
    if !have_python_ssl() {
        return;
    }
    let certs = Certs::get();
    let mut child = ChildGuard(
        Command::new("python3")
            .args(["-c", PY_SERVER])
            .arg(&certs.cert)
            .arg(&certs.key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3"),
    );
    let (line, rest) = wait_line(&mut child.0, "PORT");
    let port: u16 = line[5..].trim().parse().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .ssl_require_close_notify(true)
            .await?;
        writer.write(b"hello from rust\n")?;
        assert_eq!(reader.readline().await?, b"HELLO FROM RUST\n");
        writer.close();
        writer.wait_closed().await?; // Python answered our close_notify
        Ok(())
    });
    let tail: Vec<String> = (0..2).map(|_| rest.recv_timeout(BOUND).unwrap()).collect();
    assert_eq!(tail, ["EOF 0", "DONE"]);
    assert!(child.0.wait().unwrap().success());
}
