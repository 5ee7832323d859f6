//! placeholder
#![deny(unsafe_code)]
pub mod event_loop;
