//! The reader's buffer: reused, compacted, grown and given back (D1, S13).

use super::*;

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
fn a_failed_reader_gives_back_its_emptied_buffer_whatever_its_size_and_keeps_unread_bytes() {
    // Issue #18: a reader whose connection failed reads nothing more, so no bulk read will
    // want the large buffer `consume` keeps for one: it goes back (the pool frees it) instead
    // of staying with the dead reader until it is dropped. Bytes still unread stay (D1).
    for (size, unread) in [(1000, 0), (POOLED_LARGEST * 4, 0), (POOLED_LARGEST * 4, 5)] {
        let (mut st, _t) = with_transport(usize::MAX / 4);
        receive(&mut st, &vec![b'x'; size]);
        st.consume(size - unread);
        let _ = st.set_exception(&io::ErrorKind::ConnectionReset.into());
        let held = st.pool.as_ref().map(|lp| lp.inner.reader_pool.held());
        if unread == 0 {
            assert_eq!(
                (st.buf.capacity(), held),
                (0, Some(0)),
                "{size} bytes read: the failed reader kept its buffer"
            );
        } else {
            assert_eq!(st.buffered(), &vec![b'x'; unread][..], "unread bytes lost");
            assert_eq!(held, Some(1));
        }
    }
}
