//! Datagram protocols.
//!
//! Mirrors `DatagramProtocol` in CPython `Lib/asyncio/protocols.py`. The call grammar:
//!
//! ```text
//! DatagramProtocol:  connection_made  (datagram_received | error_received)*  connection_lost
//! ```
//! `pause_writing`/`resume_writing` may come anywhere between `connection_made` and
//! `connection_lost`, strictly alternating, starting with pause.
//!
//! A datagram transport calls its protocol through the same seam as every stream transport,
//! a `ProtocolSlot<dyn DatagramProtocol>` (`src/protocol.rs`), and so keeps the same ground
//! rules: borrowed for one call only, panics caught and handed back, flow edges made during a
//! call delivered when it returns, `connection_made` first, `connection_lost` once and last.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use super::DatagramTransport;
use crate::transport::Address;

/// A datagram protocol (Python's `asyncio.DatagramProtocol`): the callbacks a UDP or Unix
/// datagram endpoint makes into your code.
///
/// Every method has a default that does nothing. Methods take `&mut self`; the transport keeps
/// the protocol in an `Rc<RefCell<…>>` and borrows it for one call at a time, so from inside any
/// callback you may call any [`DatagramTransport`] method (`sendto`, `close`, `abort`). A
/// `pause_writing`/`resume_writing` that a `sendto` made inside one of your callbacks triggers
/// is delivered as soon as that callback returns.
///
/// # Examples
///
/// ```
/// use asyncio::{Address, DatagramProtocol, DatagramTransport};
///
/// /// Sends every datagram back where it came from.
/// #[derive(Default)]
/// struct Echo(Option<DatagramTransport>);
///
/// impl DatagramProtocol for Echo {
///     fn connection_made(&mut self, transport: DatagramTransport) {
///         self.0 = Some(transport);
///     }
///     fn datagram_received(&mut self, data: &[u8], addr: Address) {
///         if let Some(t) = &self.0 {
///             let _ = t.sendto(data, Some(&addr));
///         }
///     }
/// }
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let (server, _) = lp
///         .create_datagram_endpoint(Echo::default)
///         .local_addr("127.0.0.1", 0)
///         .await?;
///     let port = server.sockname().and_then(|a| a.port()).unwrap();
///     let client = std::net::UdpSocket::bind("127.0.0.1:0")?;
///     client.send_to(b"ping", ("127.0.0.1", port))?;
///     let mut buf = [0; 16];
///     // The reply needs the loop to turn: let it, then read without blocking.
///     client.set_nonblocking(true)?;
///     for _ in 0..10_000 {
///         match client.recv(&mut buf) {
///             Ok(n) => {
///                 assert_eq!(&buf[..n], b"ping");
///                 break;
///             }
///             Err(_) => asyncio::yield_now().await, // not there yet
///         }
///     }
///     server.close();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub trait DatagramProtocol {
    /// The endpoint is ready; keep `transport` to send. Called once, first.
    fn connection_made(&mut self, transport: DatagramTransport) {
        let _ = transport;
    }

    /// One datagram arrived from `addr`: whole, possibly empty, at most 256 KiB (a longer one
    /// is cut to that length by the kernel).
    fn datagram_received(&mut self, data: &[u8], addr: Address) {
        let _ = (data, addr);
    }

    /// A send or receive failed (Python's `OSError`): say, `ConnectionRefused` after an ICMP
    /// port unreachable on a connected socket. The transport stays open.
    ///
    /// An error met while the protocol is in use (borrowed elsewhere, or inside one of its
    /// own callbacks) is delivered once it is free, in order, before later datagrams; at most
    /// 1024 wait so, and later ones are dropped (with a logged warning).
    fn error_received(&mut self, exc: io::Error) {
        let _ = exc;
    }

    /// The transport is closed: `None` after `close()` or `abort()`. Called once, last.
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = exc;
    }

    /// The transport's send buffer rose above its high-water mark.
    fn pause_writing(&mut self) {}

    /// The transport's send buffer fell to its low-water mark or below.
    fn resume_writing(&mut self) {}

    /// How failure reports name this protocol (as
    /// [`Protocol::protocol_name`](crate::Protocol::protocol_name)): by default its type's
    /// name.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::DatagramProtocol;
    ///
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {}
    /// assert!(Quiet.protocol_name().ends_with("Quiet"));
    /// ```
    fn protocol_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// A datagram protocol as a transport holds it, shared with whoever made it.
pub(crate) type DatagramProtocolRef = Rc<RefCell<dyn DatagramProtocol>>;
