//! placeholder
pub mod timer_wheel;
