//! The separator search: `readuntil` and `readline` against CPython's rule (S31-S36).

use super::*;

/// Every string over `alphabet` of length `0..=max_len`.
fn all_strings(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut layer = vec![Vec::new()];
    for _ in 0..max_len {
        layer = layer
            .iter()
            .flat_map(|s: &Vec<u8>| {
                alphabet.iter().map(move |&c| {
                    let mut t = s.clone();
                    t.push(c);
                    t
                })
            })
            .collect();
        out.extend(layer.iter().cloned());
    }
    out
}

/// CPython 3.13's rule, literally: separators sorted by length, each `find` from `offset`,
/// keep the strictly earliest end.
fn model_earliest(data: &[u8], offset: usize, seps: &[&[u8]]) -> Option<(usize, usize)> {
    let mut sorted = seps.to_vec();
    sorted.sort_by_key(|s| s.len());
    let mut best: Option<(usize, usize)> = None;
    for sep in sorted {
        let found = (offset..=data.len().saturating_sub(sep.len()))
            .find(|&i| i + sep.len() <= data.len() && &data[i..i + sep.len()] == sep);
        if let Some(i) = found {
            let end = i + sep.len();
            if best.is_none_or(|(_, e)| end < e) {
                best = Some((i, end));
            }
        }
    }
    best
}

const SEP_SETS: &[&[&[u8]]] = &[
    &[b"a"],
    &[b"ab"],
    &[b"aab"],
    &[b"aa", b"b"],
    &[b"ba", b"aab"],
    &[b"b", b"ab", b"bab"],
    &[b"aba", b"ab"],
    &[b"bb", b"abba", b"a"],
    // Longer first: on equal ends the shorter must still win (its start is what S33 checks).
    &[b"ab", b"b"],
    &[b"aab", b"ab", b"b"],
];

#[test]
fn s35_find_earliest_matches_cpython_rule_exhaustively() {
    for data in all_strings(b"ab", 7) {
        for seps in SEP_SETS {
            for offset in 0..=data.len() {
                assert_eq!(
                    find_earliest(&data, offset, seps),
                    model_earliest(&data, offset, seps),
                    "data {:?} offset {offset} seps {seps:?}",
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}

/// Feeds `chunks`, polling readuntil after each, then EOF; returns the outcome and what is
/// left buffered plus the unfed chunks.
fn readuntil_over(
    chunks: &[&[u8]],
    seps: &[&[u8]],
    limit: usize,
) -> (Result<Vec<u8>, Error>, Vec<u8>) {
    let mut st = ReaderState::new(limit).unwrap();
    let (mut scan, mut id) = (0, 0);
    let mut last_scan = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        feed(&mut st, chunk);
        if let Poll::Ready(r) = st.poll_readuntil(seps, &mut scan, &mut id, noop()) {
            let mut rest = st.buffered().to_vec();
            chunks[i + 1..]
                .iter()
                .for_each(|c| rest.extend_from_slice(c));
            return (r, rest);
        }
        assert!(
            scan >= last_scan,
            "scan offset went back: {last_scan} -> {scan}"
        );
        last_scan = scan;
        assert_eq!(st.waiter_id(), Some(id), "pending without being the waiter");
    }
    let _ = st.feed_eof();
    match st.poll_readuntil(seps, &mut scan, &mut id, noop()) {
        Poll::Ready(r) => (r, st.buffered().to_vec()),
        Poll::Pending => panic!("readuntil pending after EOF"),
    }
}

#[test]
fn s31_s36_readuntil_finds_separators_split_at_every_point() {
    for data in all_strings(b"ab", 7) {
        for seps in SEP_SETS {
            let want = match model_earliest(&data, 0, seps) {
                Some((_, end)) => (Some(data[..end].to_vec()), data[end..].to_vec()),
                None => (None, Vec::new()),
            };
            let mut splits: Vec<Vec<&[u8]>> = (0..=data.len())
                .flat_map(|i| (i..=data.len()).map(move |j| (i, j)))
                .map(|(i, j)| vec![&data[..i], &data[i..j], &data[j..]])
                .collect();
            splits.push(data.chunks(1).collect());
            for chunks in splits {
                let (got, rest) = readuntil_over(&chunks, seps, 1000);
                let got = match got {
                    Ok(v) => Some(v),
                    Err(Error::IncompleteRead {
                        partial,
                        expected: None,
                    }) => {
                        assert_eq!(partial, data, "S34: partial is the whole buffer");
                        None
                    }
                    Err(e) => panic!("unexpected {e}"),
                };
                assert_eq!((got, rest), want, "chunks {chunks:?} seps {seps:?}");
            }
        }
    }
}

#[test]
fn s32_s33_limit_errors_leave_the_buffer_and_report_consumed() {
    // Single separator, every limit: the outcome is either the line or one of the two
    // overrun errors, with S32/S33's `consumed`, and the buffer untouched on error.
    for data in all_strings(b"ab", 7) {
        for limit in 1..=4 {
            let mut st = ReaderState::new(limit).unwrap();
            feed(&mut st, &data);
            let (mut scan, mut id) = (0, 0);
            let r = st.poll_readuntil(&[b"ab"], &mut scan, &mut id, noop());
            let found = find(&data, 0, b"ab");
            match (r, found) {
                (Poll::Ready(Ok(line)), Some(i)) => {
                    assert!(i <= limit);
                    assert_eq!(line, &data[..i + 2]);
                }
                (Poll::Ready(Err(Error::LimitOverrun { message, consumed })), Some(i)) => {
                    assert_eq!((message, consumed), (FOUND_TOO_LONG, i));
                    assert!(i > limit);
                    assert_eq!(st.buffered(), &data[..]);
                }
                (Poll::Ready(Err(Error::LimitOverrun { message, consumed })), None) => {
                    assert_eq!((message, consumed), (NOT_FOUND_TOO_LONG, data.len() - 1));
                    assert!(consumed > limit);
                    assert_eq!(st.buffered(), &data[..]);
                }
                (Poll::Pending, None) => assert!(data.len() < 2 || data.len() - 1 <= limit),
                (r, f) => panic!("data {data:?} limit {limit}: {r:?} with separator at {f:?}"),
            }
        }
    }
}

#[test]
fn s35_separator_checks_come_first() {
    let mut st = ReaderState::new(10).unwrap();
    let _ = st.set_exception(&io::Error::other("boom"));
    let (mut scan, mut id) = (0, 0);
    let msg = |r: Poll<Result<Vec<u8>, Error>>| match r {
        Poll::Ready(Err(e)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        msg(st.poll_readuntil(&[], &mut scan, &mut id, noop())),
        "Separator should contain at least one element"
    );
    assert_eq!(
        msg(st.poll_readuntil(&[b"x", b""], &mut scan, &mut id, noop())),
        "Separator should be at least one-byte string"
    );
    assert_eq!(
        msg(st.poll_readuntil(&[b"x"], &mut scan, &mut id, noop())),
        "boom"
    );
}

#[test]
fn readuntil_scan_survives_a_concurrent_consumer() {
    // S20 lets a read served from the buffer run while readuntil waits; readuntil's scan
    // offset must follow the bytes, not their old positions.
    let mut st = ReaderState::new(100).unwrap();
    feed(&mut st, b"abcdef");
    let (mut scan, mut id) = (0, 0);
    assert!(st
        .poll_readuntil(&[b"\n"], &mut scan, &mut id, noop())
        .is_pending());
    let (mut other, w) = (0, noop());
    assert!(matches!(st.poll_read(4, &mut other, w), Poll::Ready(Ok(v)) if v == b"abcd"));
    feed(&mut st, b"\n");
    assert!(matches!(
        st.poll_readuntil(&[b"\n"], &mut scan, &mut id, noop()),
        Poll::Ready(Ok(v)) if v == b"ef\n"
    ));
}
