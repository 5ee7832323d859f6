//! EOF and reset met by a read-through, told as on the protocol path: a half close kept open
//! (S63), the EOF returned in the poll that read it and told to the protocol a turn later
//! (L62), told after a pause and resume, not told to a held protocol once the transport is
//! aborted or closed (L44), and a reset for every later read (L61, S19).

use super::*;

#[test]
fn eof_met_by_a_read_through_half_closes_as_on_the_protocol_path_s63_l62() {
    let (a, mut peer) = asyncio::socketpair().unwrap();
    peer.set_read_timeout(Some(BOUND)).unwrap();
    let mut peer2 = peer.try_clone().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let mut buf = [0u8; 64];
        let n = {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await;
            peer.write_all(b"x").unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            read.await.unwrap()
        };
        assert_eq!(n, 1);
        assert_eq!(reader.read_into(&mut buf).await.unwrap(), 0);
        assert!(reader.at_eof());
        // eof_received kept the write side open (plain socket, S63).
        assert!(!writer.is_closing());
        writer.write(b"back").unwrap();
        writer.drain().await.unwrap();
        writer.close();
        writer.wait_closed().await.unwrap();
    });
    let mut got = Vec::new();
    peer2.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"back");
}

/// The read was woken by the readable edge of the peer's EOF (`flag`): the poll that reads
/// it must return it. Before, the read handed the EOF to the transport, which fed it to
/// the reader a turn later, and the read returned only in the turn after that.
#[test]
fn a_read_into_that_meets_the_eof_returns_it_in_the_same_poll_s17_l62() {
    let (a, peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let transport = writer.transport();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut buf = [0u8; 64];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            assert!(poll_with(read.as_mut(), &waker).is_pending()); // parked on the transport
            peer.shutdown(Shutdown::Write).unwrap();
            turn_until(&flag).await; // the edge woke the read, which has not read yet
            assert!(!reader.at_eof());
            match poll_with(read.as_mut(), &waker) {
                Poll::Ready(Ok(0)) => {}
                other => panic!("the poll that read the EOF returned {other:?}"),
            }
        }
        assert!(reader.at_eof(), "at EOF as the read returns");
        // The protocol hears it on a later turn, never inside the read (L62) ...
        assert!(transport.is_reading(), "eof_received ran inside the read");
        for _ in 0..100 {
            if !transport.is_reading() {
                break;
            }
            asyncio::yield_now().await;
        }
        // ... and its answer decides as on the protocol path: a plain socket stays open for
        // writing (S63).
        assert!(!transport.is_reading(), "eof_received never came");
        assert!(!writer.is_closing());
        assert!(reader.at_eof());
        assert_eq!(reader.read_into(&mut buf).await.unwrap(), 0);
        drop(peer);
    });
}

/// Between the read that met the EOF and the turn that tells the protocol, reading is paused
/// and resumed: the resume's look delivers `eof_received`, without reading the socket into
/// a reader already at EOF.
#[test]
fn an_eof_met_by_a_read_through_is_told_after_a_pause_and_resume_l62_s63() {
    let (a, peer) = asyncio::socketpair().unwrap();
    run(async move {
        let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
        let transport = writer.transport();
        let mut buf = [0u8; 64];
        {
            let mut read = pin!(reader.read_into(&mut buf));
            must_wait(read.as_mut()).await;
            peer.shutdown(Shutdown::Write).unwrap();
            assert_eq!(read.await.unwrap(), 0);
        }
        // Still in the turn that read the EOF.
        transport.pause_reading();
        for _ in 0..3 {
            asyncio::yield_now().await; // the queued look finds reading paused
        }
        assert!(!transport.is_reading() && !writer.is_closing());
        transport.resume_reading(); // looks once, on a later turn: the EOF is owed
        for _ in 0..100 {
            if !transport.is_reading() {
                break;
            }
            asyncio::yield_now().await;
        }
        assert!(!transport.is_reading(), "eof_received never came");
        assert!(reader.at_eof());
        assert!(!writer.is_closing(), "S63: the write side stays open");
        writer.write(b"still open").unwrap();
        writer.close();
        writer.wait_closed().await.unwrap();
        drop(peer);
    });
}

#[test]
fn a_reset_met_by_a_read_through_is_connection_reset_for_every_later_read_l61_s19() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    run(async move {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await.unwrap();
        let (peer, _) = l.accept().unwrap(); // queued by the kernel: does not block
        let mut buf = [0u8; 64];
        let mut read = pin!(reader.read_into(&mut buf));
        must_wait(read.as_mut()).await;
        socket2::SockRef::from(&peer)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(peer); // RST, not FIN
        let e = read.await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}");
        let e = reader.readline().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "S19: {e:?}");
        let e = writer.wait_closed().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "S46: {e:?}");
    });
}

/// A protocol that records its calls by name.
#[derive(Default)]
struct Calls(Vec<&'static str>);

impl asyncio::Protocol for Calls {
    fn data_received(&mut self, _: &[u8]) {
        self.0.push("data_received");
    }
    fn eof_received(&mut self) -> bool {
        self.0.push("eof_received");
        true
    }
    fn connection_lost(&mut self, _: Option<std::io::Error>) {
        self.0.push("connection_lost");
    }
}

/// An EOF met by a read-through is owed to the protocol on a later turn; a protocol swapped
/// in and held elsewhere then (a borrow kept across an `.await`) gets it once free. If the
/// transport is aborted (or closed) meanwhile, nothing but `connection_lost` may follow, as
/// after CPython's `_force_close` (the reader is removed: no `eof_received`). Before: the
/// `eof_received` put off for the busy protocol ran after the abort, ahead of
/// `connection_lost` (checked by reverting the fix).
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the protocol across turns: the misuse tested
fn an_eof_owed_to_a_held_protocol_is_not_told_after_abort_l44_l62() {
    for close in [false, true] {
        let (a, peer) = asyncio::socketpair().unwrap();
        let calls = run(async move {
            let (reader, writer) = asyncio::open_connection_sock(a).await.unwrap();
            let transport = writer.transport().clone();
            let mut buf = [0u8; 64];
            {
                let mut read = pin!(reader.read_into(&mut buf));
                must_wait(read.as_mut()).await;
                peer.shutdown(Shutdown::Write).unwrap();
                assert_eq!(read.await.unwrap(), 0);
            }
            // Still in the turn that read the EOF: the protocol hears it on a later one.
            let calls = std::rc::Rc::new(std::cell::RefCell::new(Calls::default()));
            transport.set_protocol(calls.clone()).unwrap();
            let held = calls.borrow_mut();
            for _ in 0..3 {
                asyncio::yield_now().await; // the owed eof_received finds the protocol held
            }
            if close {
                transport.close();
            } else {
                transport.abort();
            }
            drop(held);
            for _ in 0..10_000 {
                if transport.get_protocol().is_none() {
                    break;
                }
                asyncio::yield_now().await;
            }
            for _ in 0..5 {
                asyncio::yield_now().await; // anything still queued runs
            }
            drop(peer);
            let calls = calls.borrow().0.clone();
            calls
        });
        assert_eq!(calls, ["connection_lost"], "close: {close}");
    }
}
