//! readuntil and readuntil_any: separators split across chunks, EOF before the separator,
//! the limit, several separators and the earliest match (S30–S35, S39).

use super::*;

#[test]
fn test_readuntil_separator() {
    // S30, S35 (3.13's tuple cases are readuntil_any)
    let lp = new_loop();
    let r = StreamReader::new();
    let msg = |res: Result<Vec<u8>, Error>| match res {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    assert!(msg(block(&lp, r.readuntil(b""))).starts_with("Separator should be"));
    assert!(msg(block(&lp, r.readuntil_any(&[b""]))).starts_with("Separator should be"));
    assert!(msg(block(&lp, r.readuntil_any(&[]))).starts_with("Separator should contain"));
    // Checked before the stored exception (S30).
    r.set_exception(io_error("boom"));
    assert!(msg(block(&lp, r.readuntil(b""))).starts_with("Separator should be"));
    assert!(is_io(&block(&lp, r.readuntil(b"x")), "boom"));
}

#[test]
fn test_readuntil_multi_chunks() {
    // S31
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"lineAAA");
    assert_eq!(block(&lp, r.readuntil(b"AAA")).unwrap(), b"lineAAA");
    assert_eq!(drain(&r), b"");

    r.feed_data(b"lineAAA");
    assert_eq!(block(&lp, r.readuntil(b"AAA")).unwrap(), b"lineAAA");
    assert_eq!(drain(&r), b"");

    r.feed_data(b"lineAAAxxx");
    assert_eq!(block(&lp, r.readuntil(b"AAA")).unwrap(), b"lineAAA");
    assert_eq!(drain(&r), b"xxx");
}

#[test]
fn test_readuntil_multi_chunks_1() {
    // S31
    let lp = new_loop();
    let r = StreamReader::new();
    let cases: &[(&[&[u8]], &[u8])] = &[
        (&[b"QWEaa", b"XYaa", b"a"], b"QWEaaXYaaa"),
        (&[b"QWEaa", b"XYa", b"aa"], b"QWEaaXYaaa"),
        (&[b"aaa"], b"aaa"),
        (&[b"Xaaa"], b"Xaaa"),
        (&[b"XXX", b"a", b"a", b"a"], b"XXXaaa"),
    ];
    for (chunks, want) in cases {
        for c in *chunks {
            r.feed_data(c);
        }
        assert_eq!(block(&lp, r.readuntil(b"aaa")).unwrap(), *want);
        assert_eq!(drain(&r), b"");
    }
}

#[test]
fn test_readuntil_multi_chunks_waiting() {
    // S31: the same split separators, fed while readuntil waits (no rescan from 0 needed).
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readuntil(b"aaa").await }
    });
    for chunk in [&b"QWEaa"[..], b"XYa", b"a", b"a", b"tail"] {
        call_soon(&lp, &r, move |r| r.feed_data(chunk));
    }
    assert_eq!(run_task(&lp, task).unwrap(), b"QWEaaXYaaa");
}

#[test]
fn test_readuntil_eof() {
    // S34, S39
    let lp = new_loop();
    let r = StreamReader::new();
    let data = b"some dataAA";
    r.feed_data(data);
    r.feed_eof();
    let e = block(&lp, r.readuntil(b"AAA")).unwrap_err();
    assert!(e.to_string().contains("undefined expected bytes"), "{e}");
    match e {
        Error::IncompleteRead { partial, expected } => {
            assert_eq!(partial, data);
            assert_eq!(expected, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readuntil_limit_found_sep() {
    // S32, S33
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"some dataAA");
    let (message, consumed) = overrun(block(&lp, r.readuntil(b"AAA")));
    assert!(message.contains("not found"), "{message}");
    assert_eq!(consumed, 9, "S32: buffer length + 1 - separator length");
    // The buffer is intact: the next attempt sees the same bytes plus the new one.
    r.feed_data(b"A");
    let (message, consumed) = overrun(block(&lp, r.readuntil(b"AAA")));
    assert!(message.contains("is found"), "{message}");
    assert_eq!(consumed, 9, "S33: where the separator starts");
    assert_eq!(drain(&r), b"some dataAAA");
}

#[test]
fn test_readuntil_multi_separator() {
    // S35
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line 1\nline 2\r");
    assert_eq!(
        block(&lp, r.readuntil_any(&[b"\r", b"\n"])).unwrap(),
        b"line 1\n"
    );
    assert_eq!(
        block(&lp, r.readuntil_any(&[b"\r", b"\n"])).unwrap(),
        b"line 2\r"
    );
    assert_eq!(drain(&r), b"");

    // The first end position wins, even if that is the longer separator.
    r.feed_data(b"ABCDEFG");
    assert_eq!(
        block(&lp, r.readuntil_any(&[b"DEF", b"BCDE"])).unwrap(),
        b"ABCDE"
    );
    assert_eq!(drain(&r), b"FG");
}

#[test]
fn test_readuntil_multi_separator_limit() {
    // S33, S35: on a tie of ends the shorter separator counts, and its start is checked.
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"some dataA");
    let (message, consumed) = overrun(block(&lp, r.readuntil_any(&[b"A", b"ome dataA"])));
    assert!(message.contains("is found"), "{message}");
    assert_eq!(consumed, 9);
    assert_eq!(drain(&r), b"some dataA");
}

#[test]
fn test_readuntil_multi_separator_negative_offset() {
    // S36: the buffer fits the shortest separator but not the longest; the offset must not
    // go negative (search from the end).
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    r.feed_data(b"data");
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readuntil_any(&[b"A", b"long sep"]).await }
    });
    call_soon(&lp, &r, |r| r.feed_data(b"Z"));
    call_soon(&lp, &r, |r| r.feed_data(b"Aaaa"));
    assert_eq!(run_task(&lp, task).unwrap(), b"dataZA");
    assert_eq!(drain(&r), b"aaa");
}
