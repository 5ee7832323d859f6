//! readline: lines across feeds, over the limit with and without data buffered, at EOF,
//! with a stored exception (S17, S27, S28, S31).

use super::*;

#[test]
fn test_readline() {
    // S27, S31
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    r.feed_data(b"chunk1 ");
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readline().await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk2 ");
        r.feed_data(b"chunk3 ");
        r.feed_data(b"\n chunk4");
    });
    assert_eq!(run_task(&lp, task).unwrap(), b"chunk1 chunk2 chunk3 \n");
    assert_eq!(drain(&r), b" chunk4");
}

#[test]
fn test_readline_limit_with_existing_data() {
    // S28
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"li");
    r.feed_data(b"ne1\nline2\n");
    overrun(block(&lp, r.readline()));
    // The buffer keeps what follows the discarded line.
    assert_eq!(drain(&r), b"line2\n");

    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"li");
    r.feed_data(b"ne1");
    r.feed_data(b"li");
    overrun(block(&lp, r.readline()));
    // No newline, 7 bytes > limit 3: everything buffered is discarded.
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readline_limit() {
    // S28
    let lp = new_loop();
    let r = Rc::new(StreamReader::with_limit(7).unwrap());
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk1");
        r.feed_data(b"chunk2");
        r.feed_data(b"chunk3\n");
        r.feed_eof();
    });
    overrun(block(&lp, r.readline()));
    // The buffer had just one line of data; after the error it is empty.
    assert_eq!(drain(&r), b"");

    let r = Rc::new(StreamReader::with_limit(7).unwrap());
    call_soon(&lp, &r, |r| {
        r.feed_data(b"chunk1");
        r.feed_data(b"chunk2\n");
        r.feed_data(b"chunk3\n");
        r.feed_eof();
    });
    overrun(block(&lp, r.readline()));
    assert_eq!(drain(&r), b"chunk3\n");

    // The limit is strict: limit bytes plus the newline pass.
    let r = StreamReader::with_limit(7).unwrap();
    r.feed_data(b"1234567\n");
    assert_eq!(block(&lp, r.readline()).unwrap(), b"1234567\n");
    assert_eq!(drain(&r), b"");

    r.feed_data(b"12345678\n");
    overrun(block(&lp, r.readline()));
    assert_eq!(drain(&r), b"");

    r.feed_data(b"12345678");
    overrun(block(&lp, r.readline()));
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readline_nolimit_nowait() {
    // S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(&DATA[..6]);
    r.feed_data(&DATA[6..]);
    assert_eq!(block(&lp, r.readline()).unwrap(), b"line1\n");
    assert_eq!(drain(&r), b"line2\nline3\n");
}

#[test]
fn test_readline_eof() {
    // S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"some data");
    r.feed_eof();
    assert_eq!(block(&lp, r.readline()).unwrap(), b"some data");
}

#[test]
fn test_readline_empty_eof() {
    // S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_eof();
    assert_eq!(block(&lp, r.readline()).unwrap(), b"");
}

#[test]
fn test_readline_read_byte_count() {
    // S24, S27
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(DATA);
    block(&lp, r.readline()).unwrap();
    assert_eq!(block(&lp, r.read(7)).unwrap(), b"line2\nl");
    assert_eq!(drain(&r), b"ine3\n");
}

#[test]
fn test_readline_exception() {
    // S19, S29
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line\n");
    assert_eq!(block(&lp, r.readline()).unwrap(), b"line\n");
    r.set_exception(io_error("value error"));
    assert!(is_io(&block(&lp, r.readline()), "value error"));
}
