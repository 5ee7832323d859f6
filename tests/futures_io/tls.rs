//! Over TLS, which cannot half-close, poll_close closes and waits for the connection to go.

use super::*;
use crate::tls_common::Certs;

#[test]
fn poll_close_over_tls_closes_and_waits_for_the_loss() {
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(copy_echo, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await
            .unwrap();
        let (mut reader, mut writer) = asyncio::open_connection("127.0.0.1", port_of(&server))
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await
            .unwrap();
        assert!(!writer.can_write_eof());
        writer.write_all(b"over tls\n").await.unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "over tls\n");
        AsyncWriteExt::close(&mut writer).await.unwrap();
        assert!(writer.is_closing());
        writer.wait_closed().await.unwrap();
        server.close();
    });
}
