//! The send queue: flow control at the water marks (held protocol included), a datagram too
//! long, `close` flushing and `abort` dropping the queue, `sendto` after `close`, a failed
//! queued datagram, and what an endpoint creation dropped after `connection_made` still sends.

use super::*;

/// L94 as CPython's create_datagram_endpoint keeps it (`except: transport.close()`): an
/// endpoint creation dropped after connection_made ran, before it returned, closes the
/// transport, so the datagrams connection_made queued still go out. It used to abort it: the
/// queue was dropped.
#[test]
fn a_create_datagram_endpoint_dropped_after_connection_made_sends_what_it_queued() {
    /// Queues 8 KiB of datagrams in connection_made (the peer does not read yet).
    struct FillOnMade(Rc<std::cell::Cell<Option<usize>>>);
    impl DatagramProtocol for FillOnMade {
        fn connection_made(&mut self, t: DatagramTransport) {
            self.0.set(Some(fill(&t, 8 * 1024).expect("sendto")));
        }
    }
    let lp = asyncio::EventLoop::new().unwrap();
    let (a, b) = stuck_pair().unwrap();
    let sent: Rc<std::cell::Cell<Option<usize>>> = Rc::default();
    let s = sent.clone();
    let probe = util::Probe::new();
    let handle = lp.handle();
    lp.run_until_complete(async {
        let make = handle
            .create_datagram_endpoint(move || FillOnMade(s))
            .sock(a);
        let mut fut = std::pin::pin!(std::future::IntoFuture::into_future(make));
        // Dropped once connection_made has run, before the turn it waited for reaches it.
        probe
            .poll_each_turn(fut.as_mut(), || sent.get().is_some())
            .await;
    })
    .unwrap();
    let sent = sent.get().unwrap();
    // The peer reads; the closing transport flushes into the room that makes. Bounded.
    let mut got = drain(&b);
    for _ in 0..1_000 {
        if lp.stats().io_registrations == 0 {
            break;
        }
        lp.run_once(Some(LIMIT)).unwrap();
        got.extend(drain(&b));
    }
    got.extend(drain(&b));
    assert_eq!(lp.stats().io_registrations, 0, "the transport closed");
    let want: Vec<u8> = (0..sent).map(|i| i as u8).collect();
    assert_eq!(got, want, "every queued datagram arrived, in order");
}

/// Flow control: queued datagrams pause the protocol above the high-water mark and resume it
/// at the low one; nothing is lost or reordered (CPython `_maybe_pause_protocol`,
/// `_sendto_ready`, SelectorDatagramTransportTests `test_sendto_buffer*`).
#[test]
fn flow_control_pauses_above_high_and_resumes_at_low() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        t.set_write_buffer_limits(Some(8 * 1024), Some(2 * 1024))?;
        assert_eq!(t.get_write_buffer_limits(), (2 * 1024, 8 * 1024));
        let sent = fill(&t, 8 * 1024 + 1)?;
        assert_eq!(
            p.borrow().calls,
            ["made", "pause"],
            "paused above high, once"
        );
        let mut firsts = Vec::new();
        while !p.borrow().calls.contains(&"resume".to_string()) {
            firsts.extend(drain(&b));
            // Each drained batch frees the kernel buffer: a writable edge flushes the queue.
            let before = t.get_write_buffer_size();
            asyncio::yield_now().await;
            assert!(t.get_write_buffer_size() <= before);
        }
        assert!(
            t.get_write_buffer_size() <= 2 * 1024,
            "resumed at or below low"
        );
        while firsts.len() < sent {
            asyncio::yield_now().await;
            firsts.extend(drain(&b));
        }
        let want: Vec<u8> = (0..sent).map(|i| i as u8).collect();
        assert_eq!(firsts, want, "every datagram once, in order");
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// A pause and a resume made while a user holds the protocol (its `RefCell` borrowed across
/// loop turns, outside any callback): each waits, and arrives once, in order, as soon as the
/// borrow ends (the stream transports' rule, L49: the seam retries the flush, spaced out).
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the borrow across awaits is the point
fn flow_edges_made_while_the_protocol_is_held_arrive_once_it_is_free() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        t.set_write_buffer_limits(Some(8 * 1024), Some(2 * 1024))?;
        let held = p.borrow_mut();
        fill(&t, 8 * 1024 + 1)?; // crosses the high mark: the pause waits
        for _ in 0..20 {
            asyncio::yield_now().await; // the retries find it held
        }
        assert_eq!(held.calls, ["made"], "nothing reaches a held protocol");
        drop(held);
        until(&p, |r| r.calls.len() > 1).await;
        assert_eq!(p.borrow().calls, ["made", "pause"]);
        let held = p.borrow_mut();
        for _ in 0..10_000 {
            if t.get_write_buffer_size() <= 2 * 1024 {
                break;
            }
            drain(&b); // room in the kernel: a writable edge sends the queue
            asyncio::yield_now().await;
        }
        assert!(t.get_write_buffer_size() <= 2 * 1024, "the queue drained");
        assert_eq!(held.calls, ["made", "pause"], "the resume waits too");
        drop(held);
        until(&p, |r| r.calls.len() > 2).await;
        assert_eq!(p.borrow().calls, ["made", "pause", "resume"]);
        t.abort(); // a datagram may still be queued: close would wait for the peer to read
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// A datagram too long for the socket (`EMSGSIZE`) goes to `error_received`, errno kept, and
/// is not fatal: the transport stays open and the next datagram is sent (CPython
/// `_SelectorDatagramTransport.sendto` and `_sendto_ready`: `OSError` →
/// `protocol.error_received`; SelectorDatagramTransportTests `test_sendto_error_received`).
/// Sent at once (UDP, past the 64 KiB datagram limit) and from the queue (a Unix datagram
/// longer than the send buffer, queued behind one the kernel could not take yet).
#[test]
fn a_datagram_too_long_is_error_received_not_fatal_at_once_or_queued() {
    for host in loopbacks() {
        run_clean(async move {
            let lp = asyncio::get_running_loop()?;
            let (t, p) = lp
                .create_datagram_endpoint(Rec::default)
                .local_addr(host, 0)
                .await?;
            let peer = std::net::UdpSocket::bind((host, 0))?;
            let to = Address::Inet(peer.local_addr()?);
            t.sendto(&[1; 70_000], Some(&to))?;
            assert_eq!(p.borrow().errnos, [Some(libc::EMSGSIZE)], "{host}");
            assert!(!t.is_closing(), "{host}: not fatal");
            t.sendto(b"after", Some(&to))?;
            let mut buf = [0; 16];
            assert_eq!(peer.recv(&mut buf)?, 5, "{host}: the next datagram went");
            t.close();
            until(&p, Rec::lost).await;
            let calls = p.borrow().calls.clone();
            assert_eq!(calls.len(), 3, "{host}: {calls:?}");
            assert!(calls[1].starts_with("error("), "{host}: {calls:?}");
            assert_eq!(calls[2], "lost(None)", "{host}");
            Ok(())
        });
    }
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 1)?;
        t.sendto(&[0xEE; 64 * 1024], None)?; // queued: longer than the send buffer
        t.sendto(&[sent as u8; 1024], None)?;
        assert_eq!(t.get_write_buffer_size(), 1024 + 64 * 1024 + 1024);
        let mut firsts = Vec::new();
        while t.get_write_buffer_size() > 0 {
            firsts.extend(drain(&b));
            asyncio::yield_now().await;
        }
        firsts.extend(drain(&b));
        assert_eq!(p.borrow().errnos, [Some(libc::EMSGSIZE)]);
        assert!(!t.is_closing(), "not fatal");
        let want: Vec<u8> = (0..=sent).map(|i| i as u8).collect();
        assert_eq!(firsts, want, "every other datagram, in order");
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// `close` with datagrams queued: they are all sent first, then `connection_lost(None)`
/// (CPython `_sendto_ready`: `if self._closing: self._call_connection_lost(None)`).
#[test]
fn close_flushes_the_queue_then_connection_lost() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 3 * 1024)?;
        t.close();
        assert!(t.is_closing());
        for _ in 0..4 {
            asyncio::yield_now().await;
        }
        assert!(!p.borrow().lost(), "not lost while datagrams are queued");
        let mut firsts = Vec::new();
        while !p.borrow().lost() {
            firsts.extend(drain(&b));
            asyncio::yield_now().await;
        }
        firsts.extend(drain(&b));
        assert_eq!(
            firsts.len(),
            sent,
            "every queued datagram was sent before the close"
        );
        assert_eq!(p.borrow().calls.last().unwrap(), "lost(None)");
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}

/// `abort` drops the queue: `connection_lost(None)` at once, nothing more is sent.
#[test]
fn abort_drops_the_queue() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 3 * 1024)?;
        let in_kernel = sent - t.get_write_buffer_size() / 1024;
        t.abort();
        assert_eq!(t.get_write_buffer_size(), 0);
        until(&p, Rec::lost).await;
        assert_eq!(p.borrow().calls.last().unwrap(), "lost(None)");
        assert_eq!(drain(&b).len(), in_kernel, "only what the kernel had took");
        Ok(())
    });
}

/// `sendto` after `close` drops the datagram, with no error to the caller: at once (the
/// socket is still open until `connection_lost` runs) and after (CPython `sendto`'s
/// `_conn_lost` branch).
#[test]
fn sendto_after_close_is_dropped() {
    run_clean(async {
        let (a, b) = UnixDatagram::pair()?;
        b.set_nonblocking(true)?;
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        t.close();
        t.sendto(b"late", None)?;
        until(&p, Rec::lost).await;
        t.sendto(b"later", None)?;
        assert!(drain(&b).is_empty(), "nothing sent after close");
        assert_eq!(p.borrow().calls, ["made", "lost(None)"]);
        Ok(())
    });
}

/// The same on an unconnected endpoint: CPython drops and counts only on a connected one; an
/// unconnected one would still send on the socket until `connection_lost` closes it, and
/// fail after. Ours drops both, and nothing reaches the peer.
#[test]
fn sendto_after_close_is_dropped_unconnected_too() {
    run_clean(async {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        peer.set_nonblocking(true)?;
        let to = Address::Inet(peer.local_addr()?);
        let (t, p) = local_endpoint().await?;
        assert!(t.peername().is_none(), "unconnected");
        t.close();
        t.sendto(b"late", Some(&to))?;
        until(&p, Rec::lost).await;
        t.sendto(b"later", Some(&to))?;
        let mut buf = [0; 16];
        // Loopback delivers at once: a datagram sent would be there now.
        let got = peer.recv(&mut buf).map(|n| buf[..n].to_vec());
        assert_eq!(
            got.map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "nothing sent after close"
        );
        assert_eq!(p.borrow().calls, ["made", "lost(None)"]);
        Ok(())
    });
}

/// A queued datagram the kernel refuses goes to `error_received` and the queue goes on: the
/// next one is sent in the same flush, and `close` then completes. CPython returns after
/// `error_received` and lets its level-triggered writer call again; edge-triggered, waiting
/// for another writable edge would leave the rest queued for good.
#[test]
fn a_failed_queued_datagram_does_not_stall_the_queue() {
    run_clean(async {
        let dir = util::temp_dir("dgram-stall");
        let recv_path = dir.join("r.sock");
        let r = UnixDatagram::bind(&recv_path)?;
        r.set_nonblocking(true)?;
        let to_r = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(&recv_path)?);
        let nobody = Address::Unix(std::os::unix::net::SocketAddr::from_pathname(
            dir.join("nobody.sock"),
        )?);
        let a = UnixDatagram::unbound()?;
        socket2::SockRef::from(&a).set_send_buffer_size(4096)?;
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        assert!(t.peername().is_none(), "unconnected");
        for i in 0..1000 {
            if t.get_write_buffer_size() > 0 {
                break;
            }
            t.sendto(&[i as u8; 1024], Some(&to_r))?;
        }
        assert_eq!(t.get_write_buffer_size(), 1024, "one datagram queued");
        t.sendto(&[0xEE; 1024], Some(&nobody))?; // fails when flushed
        t.sendto(&[0xFF; 1024], Some(&to_r))?;
        assert_eq!(t.get_write_buffer_size(), 3 * 1024);
        drain(&r); // room again: a writable edge flushes the queue
        until(&p, |r| !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [io::ErrorKind::NotFound]);
        assert_eq!(t.get_write_buffer_size(), 0, "the rest was sent");
        assert_eq!(drain(&r).last(), Some(&0xFF));
        close_and_check(&t, &p).await;
        Ok(())
    });
}
