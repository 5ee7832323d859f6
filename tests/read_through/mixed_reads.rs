//! Random mixes of reads over a socket, some dropped while waiting (D1, S22, S17): none lost,
//! repeated or reordered.

use super::*;

/// A small deterministic generator (xorshift64) for the mixed-reads test: no dependency, the
/// same sequence on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Polls `fut` with the task's waker, letting the loop turn between polls, at most
/// `turns + 1` times; `None` if it was still waiting (it is then dropped).
async fn polled_for<F: Future>(fut: F, turns: u64) -> Option<F::Output> {
    let mut fut = pin!(fut);
    for turn in 0..=turns {
        let polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = polled {
            return Some(out);
        }
        if turn < turns {
            asyncio::yield_now().await;
        }
    }
    None
}

/// One random read on `reader`: `Some((bytes, at_end))` if it completed (`at_end`: it
/// reported EOF), `None` if it was dropped waiting or failed without taking anything (a zero
/// read timeout, a `readuntil` over the limit).
async fn one_read(
    reader: &asyncio::StreamReader,
    rng: &mut Rng,
    big_limit: bool,
) -> Option<(Vec<u8>, bool)> {
    use asyncio::Error;
    let n = 1 + rng.below(200) as usize;
    let cancel = rng.below(3) == 0;
    let turns = rng.below(3);
    macro_rules! run_op {
        ($fut:expr) => {
            if cancel {
                polled_for($fut, turns).await?
            } else {
                $fut.await
            }
        };
    }
    let out = match rng.below(6) {
        0 | 1 => {
            let mut buf = vec![0u8; n];
            let got = run_op!(reader.read_into(&mut buf));
            got.map(|k| (buf[..k].to_vec(), k == 0))
        }
        2 => run_op!(reader.read(n as isize)).map(|v| {
            let end = v.is_empty();
            (v, end)
        }),
        // readline discards a line over the limit: only where no line can be over it.
        3 if big_limit => run_op!(reader.readline()).map(|v| {
            let end = v.is_empty();
            (v, end)
        }),
        3 => match run_op!(reader.readuntil(b"\n")) {
            Err(Error::IncompleteRead { partial, .. }) => Ok((partial, true)),
            other => other.map(|v| (v, false)),
        },
        4 => match run_op!(reader.readexactly(n)) {
            Err(Error::IncompleteRead { partial, .. }) => Ok((partial, true)),
            other => other.map(|v| (v, false)),
        },
        _ => run_op!(reader.read(-1)).map(|v| (v, true)),
    };
    match out {
        Ok(got) => Some(got),
        Err(Error::Timeout | Error::LimitOverrun { .. }) => None, // nothing was taken (D1, S32)
        Err(e) => panic!("read failed: {e}"),
    }
}

/// D1, S22, S17 over a socket: a peer's bytes in random chunks and turns, read by a random mix
/// of `read_into` (read-through when the reader is empty), `read`, `readline`, `readuntil`,
/// `readexactly` and `read(-1)`, a third of them dropped after 0 to 2 turns of waiting (parked
/// on the transport, or woken and not polled again), with a zero read timeout switched on and
/// off, the peer ending with `write_eof` or `close`: the bytes read are the bytes sent, none
/// lost, repeated or reordered, and the reader ends at EOF. (The reader-only model test in
/// `tests/streams_reader/model.rs` never reads through: its reader has no socket.)
#[test]
fn mixed_reads_some_dropped_over_a_socket_lose_nothing_d1_s22_s17() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let data: Vec<u8> = (0..rng.below(3000))
            .map(|_| b"ab\nX"[rng.below(4) as usize])
            .collect();
        let limit = [1, 3, 8, 64, 1 << 20][rng.below(5) as usize];
        let close = rng.below(2) == 0;
        let chunks: Vec<(Vec<u8>, u64)> = data
            .chunks(1 + rng.below(300) as usize)
            .map(|c| (c.to_vec(), rng.below(3)))
            .collect();
        let got = run(async move {
            let (a, b) = asyncio::socketpair().unwrap();
            let (reader, _writer) = asyncio::open_connection_sock(a).limit(limit).await.unwrap();
            let (_peer_reader, peer) = asyncio::open_connection_sock(b).await.unwrap();
            let feeder = asyncio::spawn(async move {
                for (chunk, turns) in chunks {
                    peer.write(&chunk).unwrap();
                    for _ in 0..turns {
                        asyncio::yield_now().await;
                    }
                }
                if close {
                    peer.close();
                } else {
                    peer.write_eof().unwrap();
                }
                peer
            });
            let (mut got, mut ended) = (Vec::new(), false);
            for _ in 0..100_000 {
                match rng.below(10) {
                    0 => reader.set_read_timeout(Some(Duration::ZERO)).unwrap(),
                    1 => reader.set_read_timeout(None).unwrap(),
                    _ => {}
                }
                if let Some((bytes, at_end)) = one_read(&reader, &mut rng, limit > 3000).await {
                    got.extend_from_slice(&bytes);
                    if at_end {
                        assert!(reader.at_eof(), "seed {seed}: EOF reported, not at_eof");
                        ended = true;
                        break;
                    }
                }
                asyncio::yield_now().await; // a zero timeout fails reads until bytes come
            }
            assert!(ended, "seed {seed}: no EOF after 100 000 reads");
            feeder.await.unwrap().close();
            got
        });
        assert_eq!(
            got.len(),
            data.len(),
            "seed {seed}, limit {limit}: lost or extra bytes"
        );
        assert!(
            got == data,
            "seed {seed}, limit {limit}: bytes reordered or changed"
        );
    }
}
