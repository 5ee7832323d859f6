//! Compile-time proofs that loop-bound objects stay on their loop's thread (issue #8, STYLE
//! "Take" from async-executor), and that the error enums users match on stay open to new
//! variants (at the end). Only built for doctests (`#[cfg(doctest)]` in `lib.rs`).
//!
//! These are the thread-crossing doors; they are `Send`:
//!
//! ```
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::ThreadsafeHandle>();
//! need_send::<asyncio::ConcurrentFuture<u8>>();
//! need_send::<asyncio::Cancelled>();
//! need_send::<asyncio::Error>();
//! ```
//!
//! Everything else of a loop is `!Send`: moving it to another thread does not compile.
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::EventLoop>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::LoopHandle>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::StreamReader>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Lock>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Semaphore>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Condition>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Event>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Queue<u8>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::StreamWriter>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Transport>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Task<()>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Server>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Handle>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::TimerHandle>();
//! ```
//!
//! The same with a value, as a user would hit it: a loop handle moved into a thread.
//!
//! ```compile_fail,E0277
//! let lp = asyncio::EventLoop::new().unwrap();
//! let handle = lp.handle();
//! std::thread::spawn(move || handle.stop()).join().unwrap();
//! ```
//!
//! ...while its thread-safe door may go: this one compiles and runs.
//!
//! ```
//! let lp = asyncio::EventLoop::new().unwrap();
//! let door = lp.threadsafe();
//! std::thread::spawn(move || door.call_soon_threadsafe(|| ()).unwrap())
//!     .join()
//!     .unwrap();
//! lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
//! ```
//!
//! The composition types stay on the loop's thread too: the future of `run_in_executor`
//! (its closure is what goes to another thread), a `TaskGroup`, and `gather`'s future.
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::RunInExecutor<u8>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::TaskGroup>();
//! ```
//!
//! ```compile_fail,E0277
//! fn need_send<T: Send>() {}
//! need_send::<asyncio::Gather<u8, asyncio::Error>>();
//! ```
//!
//! A closure that is not `Send` cannot be handed to the pool.
//!
//! ```compile_fail,E0277
//! let rc = std::rc::Rc::new(1);
//! let _ = asyncio::run_in_executor(move || *rc);
//! ```
//!
//! Error enums users match on are `#[non_exhaustive]`, as `Error` is: a match needs a `_` arm,
//! so a new variant is not a breaking change.
//!
//! ```
//! use asyncio::sync::BrokenBarrierError;
//! fn text(e: BrokenBarrierError) -> &'static str {
//!     match e {
//!         BrokenBarrierError::Aborted => "at the door",
//!         _ => "inside",
//!     }
//! }
//! assert_eq!(text(BrokenBarrierError::AbortOrReset), "inside");
//! ```
//!
//! ```compile_fail,E0004
//! use asyncio::sync::BrokenBarrierError;
//! fn text(e: BrokenBarrierError) -> &'static str {
//!     match e {
//!         BrokenBarrierError::Aborted => "at the door",
//!         BrokenBarrierError::AbortOrReset => "inside",
//!     }
//! }
//! ```
//!
//! A server callback takes the reader and writer by value and returns `()`, `Result<(), E>`
//! or a future of either; anything else is refused at the `start_server` call, with a note
//! saying so (`#[diagnostic::on_unimplemented]` on `ClientConnected`; the text itself was
//! checked by hand, rustdoc pins only the error code).
//!
//! ```compile_fail,E0277
//! use asyncio::{StreamReader, StreamWriter};
//! async fn by_reference(_r: &StreamReader, _w: &StreamWriter) {}
//! let _ = asyncio::start_server(by_reference, "127.0.0.1", 0);
//! ```
//!
//! ```compile_fail,E0277
//! use asyncio::{StreamReader, StreamWriter};
//! async fn returns_a_count(r: StreamReader, _w: StreamWriter) -> asyncio::Result<usize> {
//!     Ok(r.read(100).await?.len())
//! }
//! let _ = asyncio::start_server(returns_a_count, "127.0.0.1", 0);
//! ```
//!
//! ```
//! use asyncio::{StreamReader, StreamWriter};
//! async fn fine(r: StreamReader, w: StreamWriter) -> asyncio::Result<()> {
//!     w.write(&r.read(100).await?)
//! }
//! let _ = asyncio::start_server(fine, "127.0.0.1", 0);
//! ```
