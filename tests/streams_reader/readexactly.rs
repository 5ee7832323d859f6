//! readexactly: n of zero or less, bytes across feeds, past the limit, EOF before n bytes,
//! a stored exception (S19, S37–S39).

use super::*;

#[test]
fn test_readexactly_zero_or_less() {
    // S37 (n < 0 cannot be expressed: `usize`)
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(DATA);
    assert_eq!(block(&lp, r.readexactly(0)).unwrap(), b"");
    assert_eq!(drain(&r), DATA);
}

#[test]
fn test_readexactly() {
    // S37
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let n = 2 * DATA.len();
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(n).await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(DATA);
        r.feed_data(DATA);
        r.feed_data(DATA);
    });
    assert_eq!(run_task(&lp, task).unwrap(), [DATA, DATA].concat());
    assert_eq!(drain(&r), DATA);
}

#[test]
fn test_readexactly_limit() {
    // S37: never bounded by the limit
    let lp = new_loop();
    let r = StreamReader::with_limit(3).unwrap();
    r.feed_data(b"chunk");
    assert_eq!(block(&lp, r.readexactly(5)).unwrap(), b"chunk");
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readexactly_eof() {
    // S38, S39
    let lp = new_loop();
    let r = Rc::new(StreamReader::new());
    let n = 2 * DATA.len();
    let task = spawn(&lp, {
        let r = r.clone();
        async move { r.readexactly(n).await }
    });
    call_soon(&lp, &r, |r| {
        r.feed_data(DATA);
        r.feed_eof();
    });
    let e = run_task(&lp, task).unwrap_err();
    assert_eq!(
        e.to_string(),
        "18 bytes read on a total of 36 expected bytes"
    );
    match e {
        Error::IncompleteRead { partial, expected } => {
            assert_eq!(partial, DATA);
            assert_eq!(expected, Some(n));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(drain(&r), b"");
}

#[test]
fn test_readexactly_exception() {
    // S19
    let lp = new_loop();
    let r = StreamReader::new();
    r.feed_data(b"line\n");
    assert_eq!(block(&lp, r.readexactly(2)).unwrap(), b"li");
    r.set_exception(io_error("value error"));
    assert!(is_io(&block(&lp, r.readexactly(2)), "value error"));
}
