//! How a failing `add_reader`/`add_writer` callback is reported: as CPython's `Handle._run`
//! reports the handle `_process_events` queued, `Exception in callback …` with the `handle`
//! key, as every other callback of the loop is (L18).

use super::*;

// Checklist: L18, L17. CPython 3.11 (a socketpair, a reader and a writer that raise):
// {'message': 'Exception in callback main.<locals>.cb() at p.py:8', 'exception':
// ValueError('boom'), 'handle': <Handle main.<locals>.cb() at p.py:8>}, the keys
// ['exception', 'handle', 'message'] for each. The message used to be "Exception in fd
// callback" with an `fd` key, which a handler matching CPython's message or reading its
// `handle` missed.
#[test]
fn l18_a_panicking_fd_callback_is_an_exception_in_callback_with_its_handle() {
    let lp = EventLoop::new().unwrap();
    let seen = Log::default();
    let log = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            let exc = ctx.exception.as_ref().map(|e| e.to_string());
            let details: Vec<String> = ctx
                .details
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            log.push(format!(
                "{} | {} | {details:?}",
                ctx.message,
                exc.unwrap_or_default()
            ));
        },
    ));
    let (mut a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    let h = lp.handle();
    lp.add_reader(fd, move || {
        h.remove_reader(fd).unwrap();
        panic!("boom");
    })
    .unwrap();
    let h = lp.handle();
    lp.add_writer(fd, move || {
        h.remove_writer(fd).unwrap();
        panic!("wboom");
    })
    .unwrap();
    a.write_all(b"x").unwrap();
    util::run_until(&lp, 10, || seen.len() == 2);
    assert_eq!(
        seen.get(),
        [
            format!(
                "Exception in callback add_reader(fd={fd}) | panicked: boom \
                 | [\"handle: <Handle add_reader(fd={fd})>\"]"
            ),
            format!(
                "Exception in callback add_writer(fd={fd}) | panicked: wboom \
                 | [\"handle: <Handle add_writer(fd={fd})>\"]"
            ),
        ]
    );
}
