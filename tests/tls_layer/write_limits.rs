//! The write-buffer marks of a TLS transport outlive its connection, as a socket
//! transport's do (T14, L71 with T28).

use super::*;

/// CPython (3.11, probed: `t.set_write_buffer_limits(4000, 1000)`, close, `wait_closed`)
/// answers `get_write_buffer_limits()` with `(1000, 4000)` after the loss and takes a new
/// `set_write_buffer_limits(8000)` as `(2000, 8000)`: its `SSLProtocol` keeps the marks, as
/// its socket transport and ours do. Our TLS transport forgot them with the layer: it answered
/// the 512 KiB defaults after the loss and dropped a new setting silently.
#[test]
fn t14_t28_l71_write_buffer_limits_outlive_the_connection_as_on_a_socket() {
    run(async {
        let (tls_server, port) = tls_echo_server(&[]).await?;
        let plain_server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
        let plain_port = plain_server.sockets()[0].as_inet().unwrap().port();
        let (_r, tls) = open_tls(port).await?;
        let (_r, plain) = asyncio::open_connection("127.0.0.1", plain_port).await?;
        for (what, w) in [("tls", &tls), ("socket", &plain)] {
            let t = w.transport().clone();
            t.set_write_buffer_limits(Some(4000), Some(1000))?;
            assert_eq!(t.get_write_buffer_limits(), (1000, 4000), "{what}: open");
            w.close();
            w.wait_closed().await?;
            assert_eq!(t.get_write_buffer_limits(), (1000, 4000), "{what}: lost");
            t.set_write_buffer_limits(Some(8000), None)?;
            assert_eq!(
                t.get_write_buffer_limits(),
                (2000, 8000),
                "{what}: set after"
            );
            let e = t.set_write_buffer_limits(Some(1), Some(10)).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{what}: {e:?}");
            assert_eq!(t.get_write_buffer_limits(), (2000, 8000), "{what}: kept");
            assert_eq!(t.get_write_buffer_size(), 0, "{what}: nothing buffered");
        }
        tls_server.close();
        plain_server.close();
        Ok(())
    });
}
