//! A property test against a model: random feeds and reads (some dropped pending under a zero
//! timeout) give what a plain byte-slice model says, and lose or invent no byte.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const SEPS: &[&[&[u8]]] = &[
    &[b"ab"],
    &[b"\n"],
    &[b"X"],
    &[b"b\n", b"a"],
    &[b"aX", b"Xa", b"X"],
];

#[derive(Debug, Clone)]
enum Op {
    Read(isize),
    ReadToEof,
    ReadInto(usize),
    ReadLine,
    ReadUntil(usize),
    ReadExactly(usize),
}

/// An op, and whether it runs under a zero timeout (then it may be dropped pending).
fn op() -> impl Strategy<Value = (Op, bool)> {
    let op = prop_oneof![
        4 => (1isize..9).prop_map(Op::Read),
        1 => Just(Op::ReadToEof),
        2 => (1usize..9).prop_map(Op::ReadInto),
        4 => Just(Op::ReadLine),
        4 => (0..SEPS.len()).prop_map(Op::ReadUntil),
        3 => (0usize..9).prop_map(Op::ReadExactly),
    ];
    (op, proptest::bool::weighted(0.3))
}

/// CPython 3.13's separator rule on the whole remaining stream.
fn earliest(data: &[u8], seps: &[&[u8]]) -> Option<(usize, usize)> {
    (1..=data.len()).find_map(|end| {
        let mut hits: Vec<&[u8]> = seps
            .iter()
            .copied()
            .filter(|s| data[..end].ends_with(s))
            .collect();
        hits.sort_by_key(|s| s.len());
        hits.first().map(|s| (end - s.len(), end))
    })
}

/// Checks one completed op against `rest`, the bytes not yet read; returns how many it
/// consumed.
fn check(op: &Op, out: Result<Vec<u8>, Error>, rest: &[u8], limit: usize) -> usize {
    match (op, out) {
        (Op::Read(n), Ok(v)) => check(&Op::ReadInto(n.unsigned_abs()), Ok(v), rest, limit),
        (Op::ReadInto(n), Ok(v)) => {
            assert!(v.len() <= *n);
            assert_eq!(
                v.is_empty(),
                rest.is_empty(),
                "read returned {v:?} with {rest:?} to come"
            );
            assert_eq!(v, rest[..v.len()]);
            v.len()
        }
        (Op::ReadToEof, Ok(v)) => {
            assert_eq!(v, rest);
            v.len()
        }
        (Op::ReadExactly(n), Ok(v)) => {
            assert_eq!(v, rest[..*n]);
            *n
        }
        (Op::ReadExactly(n), Err(Error::IncompleteRead { partial, expected })) => {
            assert!(rest.len() < *n);
            assert_eq!((partial.as_slice(), expected), (rest, Some(*n)));
            rest.len()
        }
        (Op::ReadLine, Ok(v)) => {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    assert!(i <= limit);
                    assert_eq!(v, rest[..=i]);
                }
                None => assert_eq!(v, rest, "readline at EOF returns the rest"),
            }
            v.len()
        }
        (Op::ReadLine, Err(Error::LimitOverrun { message, consumed })) => {
            assert!(consumed > limit);
            let nl = rest.iter().position(|&b| b == b'\n');
            if message.contains("is found") {
                assert_eq!(nl, Some(consumed));
                consumed + 1
            } else {
                assert!(nl.is_none_or(|i| i >= consumed), "discarded a newline");
                consumed
            }
        }
        (Op::ReadUntil(k), out) => {
            let seps = SEPS[*k];
            let max_len = seps.iter().map(|s| s.len()).max().unwrap();
            let m = earliest(rest, seps);
            match out {
                Ok(v) => {
                    let (start, end) = m.expect("found a separator the model does not see");
                    assert!(start <= limit);
                    assert_eq!(v, rest[..end]);
                    end
                }
                Err(Error::IncompleteRead {
                    partial,
                    expected: None,
                }) => {
                    assert!(m.is_none());
                    assert_eq!(partial, rest);
                    rest.len()
                }
                Err(Error::LimitOverrun { message, consumed }) => {
                    assert!(consumed > limit);
                    if message.contains("is found") {
                        assert_eq!(m.map(|(s, _)| s), Some(consumed));
                    } else {
                        // The buffer held consumed + max_len - 1 bytes, with no match.
                        assert!(m.is_none_or(|(_, end)| end > consumed + max_len - 1));
                    }
                    0
                }
                Err(e) => panic!("readuntil: {e}"),
            }
        }
        (op, out) => panic!("{op:?} gave {out:?}"),
    }
}

async fn run_op(r: &StreamReader, op: &Op) -> Result<Vec<u8>, Error> {
    match op {
        Op::Read(n) => r.read(*n).await,
        Op::ReadToEof => r.read(-1).await,
        Op::ReadInto(n) => {
            let mut buf = vec![0; *n];
            let k = r.read_into(&mut buf).await?;
            buf.truncate(k);
            Ok(buf)
        }
        Op::ReadLine => r.readline().await,
        Op::ReadUntil(k) => r.readuntil_any(SEPS[*k]).await,
        Op::ReadExactly(n) => r.readexactly(*n).await,
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5eed_5713),
        ..Config::default()
    })]

    /// S24–S38, D1: random data in random chunks, read by a random mix of methods, some
    /// of them cancelled, always agrees with a plain byte-slice model.
    #[test]
    fn reads_match_the_model(
        data in proptest::collection::vec(prop::sample::select(&b"ab\nX"[..]), 0..60),
        cuts in proptest::collection::vec((1usize..12, 0usize..3), 1..30),
        limit in prop::sample::select(&[1usize, 2, 3, 5, 8, 1000][..]),
        ops in proptest::collection::vec(op(), 0..25),
    ) {
        let lp = new_loop();
        let r = Rc::new(StreamReader::with_limit(limit).unwrap());
        // Feeder: chunk after chunk, yielding 0..3 turns between them, then EOF.
        let feeder = spawn(&lp, {
            let (r, data) = (r.clone(), data.clone());
            async move {
                let mut rest = &data[..];
                for &(len, yields) in cuts.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let (chunk, tail) = rest.split_at(len.min(rest.len()));
                    r.feed_data(chunk);
                    rest = tail;
                    for _ in 0..yields {
                        asyncio::yield_now().await;
                    }
                }
                r.feed_eof();
            }
        });
        let mut pos = 0;
        block(&lp, async {
            for (op, under_timeout) in &ops {
                let out = if *under_timeout {
                    match cancelled(run_op(&r, op)).await {
                        Some(out) => out,
                        None => continue, // dropped pending: nothing consumed
                    }
                } else {
                    run_op(&r, op).await
                };
                pos += check(op, out, &data[pos..], limit);
            }
            feeder.await.unwrap();
            assert_eq!(r.read(-1).await.unwrap(), &data[pos..], "bytes lost or invented");
        });
    }
}
