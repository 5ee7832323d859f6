//! Unit tests of the reader's state machine (`state.rs`), kept apart so that file stays
//! the code.

use std::cell::Cell;
use std::io::IoSlice;
use std::rc::Rc;

use std::task::Poll;

use super::search::{find, find_earliest, FOUND_TOO_LONG, NOT_FOUND_TOO_LONG};
use super::*;
use crate::constants::DEFAULT_LIMIT;
use crate::protocol::ProtocolRef;
use crate::transport::{ExtraInfo, TransportImpl};

/// A transport double that only counts pause/resume calls (S14–S16).
#[derive(Default)]
struct FlowTransport {
    reading: Cell<bool>,
    pauses: Cell<u32>,
    resumes: Cell<u32>,
}

impl TransportImpl for FlowTransport {
    fn write(&self, _: &[u8]) -> Result<(), Error> {
        unreachable!("the reader never writes")
    }
    fn writelines(&self, _: &[IoSlice<'_>]) -> Result<(), Error> {
        unreachable!("the reader never writes")
    }
    fn write_eof(&self) -> Result<(), Error> {
        unreachable!("the reader never writes")
    }
    fn can_write_eof(&self) -> bool {
        true
    }
    fn close(&self) {}
    fn abort(&self) {}
    fn is_closing(&self) -> bool {
        false
    }
    fn pause_reading(&self) {
        self.reading.set(false);
        self.pauses.set(self.pauses.get() + 1);
    }
    fn resume_reading(&self) {
        self.reading.set(true);
        self.resumes.set(self.resumes.get() + 1);
    }
    fn is_reading(&self) -> bool {
        self.reading.get()
    }
    fn set_write_buffer_limits(&self, _: Option<usize>, _: Option<usize>) -> Result<(), Error> {
        Ok(())
    }
    fn get_write_buffer_size(&self) -> usize {
        0
    }
    fn get_write_buffer_limits(&self) -> (usize, usize) {
        (0, 0)
    }
    fn get_extra_info(&self, _: &str) -> Option<ExtraInfo> {
        None
    }
    fn set_protocol(&self, _: ProtocolRef) -> Result<(), Error> {
        unreachable!("the reader never swaps protocols")
    }
    fn get_protocol(&self) -> Option<ProtocolRef> {
        None
    }
    fn get_loop(&self) -> LoopHandle {
        // For its buffer pool only: a closed loop's pool works as well.
        let lp = crate::EventLoop::new().expect("a loop for the pool");
        (*lp).clone()
    }
    fn id(&self) -> u64 {
        0
    }
}

fn with_transport(limit: usize) -> (ReaderState, Rc<FlowTransport>) {
    let fake = Rc::new(FlowTransport::default());
    fake.reading.set(true);
    let mut st = ReaderState::new(limit).unwrap();
    st.set_transport(Transport {
        inner: fake.clone(),
    });
    (st, fake)
}

fn feed(st: &mut ReaderState, data: &[u8]) {
    let _ = st.feed_data(data);
}

fn noop() -> &'static Waker {
    Waker::noop()
}

/// Simulates the transport's read: `data` arrives through get_buffer/buffer_updated,
/// `min(remaining, offered)` bytes per read, as a kernel would deliver it.
fn receive(st: &mut ReaderState, mut data: &[u8]) {
    while !data.is_empty() {
        let tail = st.get_buffer(0);
        assert!(!tail.is_empty(), "get_buffer lent an empty buffer");
        let n = tail.len().min(data.len());
        tail[..n].copy_from_slice(&data[..n]);
        let _ = st.buffer_updated(n);
        data = &data[n..];
    }
}

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

#[test]
fn s11_limit_zero_is_rejected() {
    let e = ReaderState::new(0).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m == "Limit cannot be <= 0"),
        "{e}"
    );
}

#[test]
fn feed_data_compacts_instead_of_allocating() {
    let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
    feed(&mut st, &[0; 2048]);
    let (ptr, cap) = (st.buf.as_ptr(), st.buf.capacity());
    st.consume(1948);
    feed(&mut st, &[1; 200]);
    assert_eq!(
        (st.buf.as_ptr(), st.buf.capacity()),
        (ptr, cap),
        "compaction reallocated"
    );
    assert_eq!(st.start, 0, "data was not moved to the front");
    let mut want = vec![0; 100];
    want.extend([1; 200]);
    assert_eq!(st.buffered(), &want[..]);
}

#[test]
fn emptied_buffer_rewinds() {
    let mut st = ReaderState::new(8).unwrap();
    for split in 0..=10 {
        feed(&mut st, &[7; 10]);
        st.consume(split);
        st.consume(10 - split);
        assert_eq!((st.start, st.end), (0, 0), "split {split}");
    }
}

#[test]
fn get_buffer_starts_small_and_doubles_while_reads_fill_it() {
    let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
    assert_eq!(st.get_buffer(0).len(), MIN_READ_SIZE);
    let mut sizes = Vec::new();
    for _ in 0..12 {
        let n = st.get_buffer(0).len();
        assert!(n >= st.read_size);
        let _ = st.buffer_updated(n);
        sizes.push(st.read_size);
        st.consume(st.buffered_len());
    }
    assert_eq!(&sizes[..3], [1024, 2048, 4096]);
    assert_eq!(
        *sizes.last().unwrap(),
        MAX_READ_SIZE,
        "capped at MAX_READ_SIZE"
    );
    // A hint above the read size is honoured.
    assert!(st.get_buffer(MAX_READ_SIZE * 2).len() >= MAX_READ_SIZE * 2);
}

#[test]
fn steady_state_reads_reuse_one_buffer() {
    // Echo-shaped traffic: each message arrives whole and is consumed before the next.
    for &size in &[1, 64, 500, 512, 513, 1000, 1024, 4096, 70_000, 300_000] {
        let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
        let msg = vec![b'x'; size];
        let round = |st: &mut ReaderState| {
            receive(st, &msg);
            let (mut id, w) = (0, noop());
            match st.poll_readexactly(size, &mut id, w) {
                Poll::Ready(Ok(v)) => assert_eq!(v.len(), size),
                other => panic!("{other:?}"),
            }
        };
        for _ in 0..50 {
            round(&mut st);
        }
        let (ptr, cap) = (st.buf.as_ptr(), st.buf.capacity());
        for _ in 0..500 {
            round(&mut st);
        }
        assert_eq!(
            (st.buf.as_ptr(), st.buf.capacity()),
            (ptr, cap),
            "message size {size} reallocated"
        );
        if size <= 64 {
            assert!(
                st.buf.capacity() < 1024,
                "small messages left {} bytes",
                st.buf.capacity()
            );
        }
    }
}

#[test]
fn partial_lines_reuse_one_buffer() {
    // A line split across reads leaves bytes behind; compaction, not allocation, makes room.
    let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
    let data = b"0123456789abcdefghijklmnopqrstuvwxyz\n".repeat(40);
    let mut ptr_cap = None;
    for round in 0..200 {
        for piece in data.chunks(97) {
            receive(&mut st, piece);
            loop {
                let (mut scan, mut id) = (0, 0);
                match st.poll_readline(&mut scan, &mut id, noop()) {
                    Poll::Ready(Ok(line)) => assert_eq!(line.len(), 37),
                    Poll::Pending => break,
                    Poll::Ready(Err(e)) => panic!("{e}"),
                }
                st.end_wait(id);
            }
        }
        if round == 20 {
            ptr_cap = Some((st.buf.as_ptr(), st.buf.capacity()));
        }
    }
    assert_eq!(
        Some((st.buf.as_ptr(), st.buf.capacity())),
        ptr_cap,
        "partial lines reallocated"
    );
    assert!(
        st.buf.capacity() <= 1024,
        "buffer grew to {}",
        st.buf.capacity()
    );
}

#[test]
fn read_size_decays_and_memory_returns_after_a_burst() {
    let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
    receive(&mut st, &vec![0; 4 * MAX_READ_SIZE]);
    st.consume(st.buffered_len());
    assert_eq!(st.read_size, MAX_READ_SIZE);
    assert!(st.buf.len() >= MAX_READ_SIZE);
    for _ in 0..(DECAY_AFTER as usize * 12) {
        receive(&mut st, b"hi");
        st.consume(2);
    }
    assert_eq!(st.read_size, MIN_READ_SIZE);
    let _ = st.get_buffer(0);
    assert!(
        st.buf.capacity() <= SHRINK_RATIO * MIN_READ_SIZE,
        "still holding {} bytes",
        st.buf.capacity()
    );
}

#[test]
fn buffer_updated_without_a_lent_buffer_is_ignored_in_release() {
    let mut st = ReaderState::new(8).unwrap();
    let _ = st.get_buffer(0);
    let _ = st.buffer_updated(0); // a zero-byte update changes nothing
    assert_eq!(st.buffered_len(), 0);
    let tail = st.get_buffer(0);
    tail[..3].copy_from_slice(b"abc");
    assert!(st.buffer_updated(3).is_none(), "no waiter, nothing to wake");
    assert_eq!(st.buffered(), b"abc");
}

#[test]
fn s14_s15_pause_above_twice_limit_resume_at_limit() {
    // S15's example: limit 4; 8 bytes do not pause, a 9th does; reading down to 5 keeps
    // it paused, down to 4 resumes.
    let (mut st, t) = with_transport(4);
    feed(&mut st, b"12345678");
    assert_eq!(t.pauses.get(), 0);
    feed(&mut st, b"9");
    assert!(st.paused && !t.reading.get());
    assert_eq!(t.pauses.get(), 1);
    feed(&mut st, b"0");
    assert_eq!(t.pauses.get(), 1, "paused twice");
    let (mut id, w) = (0, noop());
    assert!(st.poll_read(5, &mut id, w).is_ready());
    assert!(st.paused, "5 bytes left: still paused");
    assert!(st.poll_read(1, &mut id, w).is_ready());
    assert!(!st.paused && t.reading.get());
    assert_eq!(t.resumes.get(), 1);
}

#[test]
fn s14_buffer_updated_pauses_too() {
    let (mut st, t) = with_transport(4);
    receive(&mut st, b"123456789");
    assert_eq!(t.pauses.get(), 1);
}

#[test]
fn s16_readexactly_beyond_twice_limit_does_not_deadlock() {
    // A transport that stops delivering while paused: the read must resume it each wait.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    let mut fed = 0;
    let got = loop {
        match st.poll_readexactly(40, &mut id, w) {
            Poll::Ready(r) => break r.unwrap(),
            Poll::Pending => {
                assert!(
                    t.reading.get(),
                    "waiting with the transport paused: deadlock"
                );
                while t.reading.get() {
                    feed(&mut st, &[fed as u8]);
                    fed += 1;
                }
            }
        }
    };
    assert_eq!(got, (0..40).collect::<Vec<u8>>());
    assert!(t.pauses.get() >= 3 && t.resumes.get() >= 3);
}

#[test]
fn d1_read_to_eof_keeps_the_transport_flowing_and_bytes_in_place() {
    // Checklist: S14, S25, D1. read(-1) waits with every byte in place (D1), far past
    // 2 × limit, and the transport keeps reading throughout: CPython's read(-1) takes each
    // chunk out of the buffer (read(limit) in a loop), so its buffer does not stay above the
    // limit and its transport is not left paused.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    for i in 0..10u8 {
        assert!(st.poll_read(-1, &mut id, w).is_pending());
        feed(&mut st, &[i; 5]);
        assert!(t.reading.get(), "read(-1) waits with the transport paused");
    }
    let _ = st.feed_eof();
    assert!(matches!(st.poll_read(-1, &mut id, w), Poll::Ready(Ok(v)) if v.len() == 50));
}

#[test]
fn s14_s16_read_to_eof_does_not_pause_and_resume_the_transport_per_chunk() {
    // Checklist: S14, S16, S25, D1. Each chunk past 2 × limit paused the transport and the
    // read's next wait resumed it (S16): two epoll_ctl calls per socket read for as long as
    // the read lasted. Two chunks per wake-up, as one readable edge may bring: the second
    // comes after the first woke the read, before it looks again.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    assert!(st.poll_read(-1, &mut id, w).is_pending());
    for i in 0..100u8 {
        assert!(st.feed_data(&[i; 3]).is_some(), "the waiting read is woken");
        assert!(st.feed_data(&[i; 3]).is_none(), "it was woken already");
        receive(&mut st, &[i; 3]);
        assert!(st.poll_read(-1, &mut id, w).is_pending());
    }
    assert_eq!(
        (t.pauses.get(), t.resumes.get()),
        (0, 0),
        "pause/resume transitions while read(-1) waited"
    );
    let _ = st.feed_eof();
    assert!(matches!(st.poll_read(-1, &mut id, w), Poll::Ready(Ok(v)) if v.len() == 900));
    st.end_wait(id);
    assert_eq!(st.waiter_id(), None, "the finished read holds no slot");
}

#[test]
fn s14_s21_a_dropped_read_to_eof_leaves_flow_control_as_it_was() {
    // Checklist: S14, S21. Woken by data, then dropped before it looked again: its slot is
    // free (S20 does not refuse the next read) and the buffer pauses the transport again.
    let (mut st, t) = with_transport(4);
    let (mut id, w) = (0, noop());
    assert!(st.poll_read(-1, &mut id, w).is_pending());
    feed(&mut st, b"123456789");
    st.end_wait(id); // what dropping the future does
    let mut other = 0;
    assert!(st.poll_readexactly(20, &mut other, w).is_pending());
    st.end_wait(other);
    feed(&mut st, b"0");
    assert!(
        st.paused && !t.reading.get(),
        "10 bytes over a limit of 4, nobody reading: not paused"
    );
}

#[test]
fn d1_read_to_eof_hands_out_a_large_buffer_and_keeps_no_memory() {
    // read(-1) of a large body at EOF: nothing more will come, so the reader must not
    // keep a buffer the size of the body for the rest of its life (and need not copy it).
    for (size, how) in [POOLED_LARGEST + 1, 300_000, 3_000_000]
        .into_iter()
        .flat_map(|size| ["read", "readexactly", "readline"].map(|how| (size, how)))
    {
        let (mut st, _t) = with_transport(usize::MAX / 4);
        let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        receive(&mut st, &body[..7]);
        st.consume(7); // a partial front: the bytes do not start at index 0
        receive(&mut st, &body[7..]);
        let _ = st.feed_eof();
        let (mut id, mut scan, w) = (0, 0, noop());
        let got = match how {
            "read" => st.poll_read(-1, &mut id, w),
            "readexactly" => match st.poll_readexactly(size, &mut id, w) {
                Poll::Ready(Err(Error::IncompleteRead { partial, .. })) => Poll::Ready(Ok(partial)),
                other => other,
            },
            _ => st.poll_readline(&mut scan, &mut id, w),
        };
        match got {
            Poll::Ready(Ok(v)) => assert!(v == body[7..], "{how} of {size}: wrong bytes"),
            other => panic!("{how} of {size}: {other:?}"),
        }
        assert!(
            st.buf.capacity() <= POOLED_LARGEST,
            "{how} of {size}: the reader kept {} bytes after reading to EOF",
            st.buf.capacity()
        );
        assert!(st.at_eof());
        let held = st.pool.as_ref().map(|lp| lp.inner.reader_pool.held());
        assert_eq!(
            held,
            Some(0),
            "{how} of {size}: the pool still counts the buffer"
        );
    }
}

#[test]
fn s18_s19_exception_is_handed_out_again_and_again() {
    let mut st = ReaderState::new(8).unwrap();
    let _ = st.set_exception(&io::Error::new(
        io::ErrorKind::ConnectionReset,
        "peer reset",
    ));
    for _ in 0..3 {
        let Some(Error::Io(e)) = st.exception() else {
            panic!()
        };
        assert_eq!(
            (e.kind(), e.to_string()),
            (io::ErrorKind::ConnectionReset, "peer reset".into())
        );
    }
    let _ = st.set_exception(&io::Error::from_raw_os_error(libc::EPIPE));
    let Some(Error::Io(e)) = st.exception() else {
        panic!()
    };
    assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "errno kept");
}

#[test]
fn s20_s21_waiter_slot_follows_ids() {
    let mut st = ReaderState::new(8).unwrap();
    let (mut a, mut b, w) = (0, 0, noop());
    assert!(st.poll_read(3, &mut a, w).is_pending());
    assert!(
        st.poll_read(3, &mut a, w).is_pending(),
        "re-poll tripped S20"
    );
    match st.poll_readexactly(3, &mut b, w) {
        Poll::Ready(Err(Error::InvalidState(m))) => assert_eq!(
            m,
            "readexactly() called while another coroutine is already waiting for incoming data"
        ),
        other => panic!("{other:?}"),
    }
    st.end_wait(b); // not the owner: no effect
    assert_eq!(st.waiter_id(), Some(a));
    st.end_wait(a);
    assert!(st.waiter_id().is_none());
    assert!(st.poll_readexactly(3, &mut b, w).is_pending());
    assert!(st.feed_data(b"x").is_some(), "the waiter is woken");
    assert!(st.waiter_id().is_none(), "woken waiter still in the slot");
}
