#![cfg(feature = "tls")]
//! A property test of the TLS layer under random record fragmentation (issue #8): our
//! client and our start_tls server exchange random data through a relay that cuts the byte
//! stream into random pieces, both ways, and each side must read exactly what the other sent.
//!
//! Conventions (raw peers on threads, bounded waits, `util::serial()`, log capture) are those
//! of `tls_helpers::faults`. Behaviour ids (T*, L*, S*, D*) cite `asyncio-semantics.md`.

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use asyncio::{Error, EventLoop, Protocol, StreamWriter, Transport};
use tls_common::Certs;
use tls_helpers::faults::*;

/// One end of the relay: what it reads goes to the queue towards the other end.
struct RelayEnd {
    side: usize,
    relay: Rc<Relay>,
}

/// Two connections (0 faces our TLS client, 1 our TLS server) and a byte queue per direction.
#[derive(Default)]
struct Relay {
    transports: [RefCell<Option<Transport>>; 2],
    /// `queues[i]`: read from end `i`, to write to end `1 - i`.
    queues: [RefCell<VecDeque<u8>>; 2],
    /// End `i` saw EOF or lost its connection.
    ended: [Cell<bool>; 2],
    lost: [Cell<bool>; 2],
    pieces: Cell<usize>,
}

impl Protocol for RelayEnd {
    fn connection_made(&mut self, t: Transport) {
        *self.relay.transports[self.side].borrow_mut() = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.relay.queues[self.side].borrow_mut().extend(data);
    }
    fn eof_received(&mut self) -> bool {
        self.relay.ended[self.side].set(true);
        true // the pump forwards the EOF once the queue is empty
    }
    fn connection_lost(&mut self, _: Option<io::Error>) {
        self.relay.ended[self.side].set(true);
        self.relay.lost[self.side].set(true);
    }
}

/// Forwards each direction one piece of 1..=`max_piece` bytes per loop iteration (a separate
/// write each, `yield_now` between), EOF after the last byte; ends when both directions ended.
async fn pump(relay: Rc<Relay>, mut rng: Rng, max_piece: usize) {
    let mut eof_sent = [false; 2];
    while eof_sent != [true, true] {
        for (from, sent) in eof_sent.iter_mut().enumerate() {
            let to = 1 - from;
            let piece: Vec<u8> = {
                let mut q = relay.queues[from].borrow_mut();
                let n = rng.size(max_piece).min(q.len());
                q.drain(..n).collect()
            };
            let t = relay.transports[to].borrow().clone().expect("connected");
            if !piece.is_empty() {
                relay.pieces.set(relay.pieces.get() + 1);
                let _ = t.write(&piece);
            } else if relay.ended[from].get() && !*sent {
                *sent = true;
                if t.can_write_eof() {
                    let _ = t.write_eof();
                }
            }
        }
        asyncio::yield_now().await;
    }
    for t in &relay.transports {
        if let Some(t) = t.borrow().as_ref() {
            t.close();
        }
    }
}

/// Writes `data` in pieces of 1..=`max` bytes, then drains.
async fn write_in_pieces(
    w: &StreamWriter,
    data: &[u8],
    rng: &mut Rng,
    max: usize,
) -> Result<(), Error> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.size(max).min(rest.len());
        w.write(&rest[..n])?;
        rest = &rest[n..];
    }
    w.drain().await
}

/// One exchange through the fragmenting relay: `up` from client to server and `down` back,
/// at once, then a close_notify exchange. Returns what each side read and the piece count.
fn fragmented_exchange(
    up: &[u8],
    down: &[u8],
    seed: u64,
    max_piece: usize,
) -> Result<(Vec<u8>, Vec<u8>, usize), Error> {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let (client_sock, relay_client) = asyncio::socketpair()?;
    let (relay_server, server_sock) = asyncio::socketpair()?;
    let certs = Certs::get();
    let relay = Rc::new(Relay::default());
    let (up_len, down_len) = (up.len(), down.len());
    let (up, down) = (up.to_vec(), down.to_vec());
    let out = run(&lp, async {
        let lp = asyncio::get_running_loop()?;
        // The server: a plain connection upgraded with start_tls, installed before any byte
        // can reach it (the relay does not exist yet).
        let (sreader, mut swriter) = asyncio::open_connection_sock(server_sock).await?;
        let raw = swriter.transport().clone();
        let plain = raw.get_protocol().expect("a protocol");
        let mut srng = Rng(seed ^ 0x5e);
        let server = asyncio::spawn(async move {
            swriter.start_tls(certs.server_config(&[])).await?;
            let (got, ()) = {
                let write = write_in_pieces(&swriter, &down, &mut srng, 3000);
                let read = sreader.readexactly(up_len);
                let (w, r) = util::join(write, read).await;
                (r?, w?)
            };
            assert_eq!(sreader.read(-1).await?, b"", "EOF after the data");
            assert!(swriter.transport().close_notify_received(), "T20");
            swriter.close();
            swriter.wait_closed().await?;
            Ok::<_, Error>(got)
        });
        while Rc::ptr_eq(&raw.get_protocol().expect("a protocol"), &plain) {
            asyncio::yield_now().await; // the server task's first step installs the layer
        }
        for (side, sock) in [(0, relay_client), (1, relay_server)] {
            let r = relay.clone();
            lp.connect_socket(move || RelayEnd { side, relay: r }, sock)
                .await?;
        }
        let pumping = asyncio::spawn(pump(relay.clone(), Rng(seed), max_piece));
        let mut crng = Rng(seed ^ 0xc1);
        let client = asyncio::spawn(async move {
            let (creader, cwriter) = asyncio::open_connection_sock(client_sock)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .await?;
            let write = write_in_pieces(&cwriter, &up, &mut crng, 3000);
            let read = creader.readexactly(down_len);
            let (w, r) = util::join(write, read).await;
            w?;
            let got = r?;
            cwriter.close();
            cwriter.wait_closed().await?;
            assert!(cwriter.transport().close_notify_received(), "T20");
            Ok::<_, Error>(got)
        });
        let got_down = client.await.expect("not cancelled")?;
        let got_up = server.await.expect("not cancelled")?;
        pumping.await.expect("not cancelled");
        Ok::<_, Error>((got_up, got_down))
    })?;
    wait_until(&lp, "the relay's connections to go", || {
        relay.lost[0].get() && relay.lost[1].get()
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    drop(relay.transports[0].take());
    drop(relay.transports[1].take());
    assert_loop_empty(&lp);
    Ok((out.0, out.1, relay.pieces.get()))
}

mod fragmentation {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    /// Largest fragment: mostly tiny (a byte at a time through the handshake), some mid-size,
    /// some larger than a record.
    fn max_piece() -> impl Strategy<Value = usize> {
        prop_oneof![1usize..=8, 9usize..=700, 701usize..=20_000]
    }

    proptest! {
        #![proptest_config(Config {
            cases: 32,
            rng_seed: RngSeed::Fixed(0xf4a6_7e57),
            failure_persistence: None,
            // A failure may be a hang (each case is bounded by 20 s): keep shrinking short.
            max_shrink_iters: 32,
            ..Config::default()
        })]

        #[test]
        fn random_record_fragmentation_delivers_identical_plaintext_both_ways(
            up in prop::collection::vec(any::<u8>(), 0..=40_000),
            down in prop::collection::vec(any::<u8>(), 0..=40_000),
            seed in any::<u64>(),
            max_piece in max_piece(),
        ) {
            let _serial = util::serial();
            let (got_up, got_down, pieces) =
                fragmented_exchange(&up, &down, seed, max_piece).expect("the exchange");
            prop_assert!(got_up == up, "client to server differs ({} B)", up.len());
            prop_assert!(got_down == down, "server to client differs ({} B)", down.len());
            prop_assert!(pieces > 2, "the relay cut the stream: {pieces} pieces");
        }
    }
}
