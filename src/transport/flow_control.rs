//! Write-side flow control: the high/low water marks and the pause/resume edges.
//!
//! Mirrors `_FlowControlMixin` in CPython `Lib/asyncio/transports.py` (L69–L71). Pure logic:
//! the transport asks after each change of its buffer size whether to call the protocol's
//! `pause_writing` or `resume_writing`, and this type makes sure each fires once per crossing
//! and that they strictly alternate.

use crate::constants::{DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER};
use crate::error::Error;

/// Water marks plus the "protocol is paused" flag.
/// Where a buffer counts as full. CPython has both rules: the socket transport pauses when the
/// buffer holds more than `high` (`_FlowControlMixin`, L70), the TLS layer when it holds
/// `high` or more (`sslproto._control_app_writing` / `_control_ssl_reading`, T14, T18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    AboveHigh,
    /// The TLS layer's rule.
    #[cfg(any(feature = "tls", test))]
    AtHigh,
}

/// One set of water marks and the paused flag they drive: the socket transport's write side,
/// the TLS layer's app write side and its raw read side all use it.
#[derive(Debug, Clone)]
pub(crate) struct FlowControl {
    /// The high mark. Invariant: `high >= low`.
    high: usize,
    /// Resume when the buffer holds this much or less.
    low: usize,
    /// The high mark `set_limits(None, None)` restores (low is a quarter of it). One of the
    /// crate's defaults (at most 512 KiB), so 32 bits hold it: a word less per connection.
    default_high: u32,
    full: Full,
    /// Paused (pause edge delivered) and not yet resumed.
    paused: bool,
}

impl Default for FlowControl {
    /// The socket transport's: 64 KiB / 16 KiB, pause above high.
    fn default() -> Self {
        debug_assert_eq!(DEFAULT_LOW_WATER, DEFAULT_HIGH_WATER / 4);
        Self::new(DEFAULT_HIGH_WATER, Full::AboveHigh)
    }
}

impl FlowControl {
    /// Marks `default_high` / a quarter of it, filling up by `full`.
    pub(crate) fn new(default_high: usize, full: Full) -> Self {
        FlowControl {
            high: default_high,
            low: default_high / 4,
            default_high: u32::try_from(default_high).unwrap_or(u32::MAX),
            full,
            paused: false,
        }
    }

    /// Python's `_set_write_buffer_limits` / `add_flowcontrol_defaults` (L69, T14): no marks
    /// give the defaults; only `high` gives `low = high / 4`; only `low` gives
    /// `high = 4 * low`.
    pub(crate) fn set_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        let (high, low) = Self::marks(high, low, self.default_high as usize)?;
        self.high = high;
        self.low = low;
        Ok(())
    }

    /// The marks `set_limits` would set, `(high, low)`, or its error.
    pub(crate) fn marks(
        high: Option<usize>,
        low: Option<usize>,
        default_high: usize,
    ) -> Result<(usize, usize), Error> {
        let (high, low) = match (high, low) {
            (None, None) => (default_high, default_high / 4),
            (Some(h), None) => (h, h / 4),
            (None, Some(l)) => (l.saturating_mul(4), l),
            (Some(h), Some(l)) => (h, l),
        };
        if high < low {
            return Err(Error::invalid_argument(format!(
                "high ({high}) must be >= low ({low}) must be >= 0"
            )));
        }
        Ok((high, low))
    }

    /// Paused: the pause edge went out and the resume edge has not yet.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// `(low, high)`, Python's order.
    pub(crate) fn limits(&self) -> (usize, usize) {
        (self.low, self.high)
    }

    /// True exactly when the pause edge must be delivered now (full, not paused).
    pub(crate) fn should_pause(&mut self, size: usize) -> bool {
        let full = match self.full {
            Full::AboveHigh => size > self.high,
            // Never at a size that would resume at once (high == low, e.g. both 0: an
            // empty buffer is not full), or pause and resume alternate on every call and a
            // drain can wait on an empty buffer.
            #[cfg(any(feature = "tls", test))]
            Full::AtHigh => size >= self.high && size > self.low,
        };
        if full && !self.paused {
            self.paused = true;
            return true;
        }
        false
    }

    /// Takes over a pause someone else delivered (start_tls: the raw transport paused the
    /// protocol the TLS layer now serves), so that the next crossing of low owes the resume.
    #[cfg(feature = "tls")]
    pub(crate) fn mark_paused(&mut self) {
        self.paused = true;
    }

    /// True exactly when `resume_writing` must be called now (paused, size at or below low).
    pub(crate) fn should_resume(&mut self, size: usize) -> bool {
        if self.paused && size <= self.low {
            self.paused = false;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l69_defaults_and_derived_marks() {
        let mut f = FlowControl::default();
        assert_eq!(f.limits(), (16 * 1024, 64 * 1024));
        f.set_limits(Some(100), None).unwrap();
        assert_eq!(f.limits(), (25, 100));
        f.set_limits(None, Some(10)).unwrap();
        assert_eq!(f.limits(), (10, 40));
        f.set_limits(Some(0), Some(0)).unwrap();
        assert_eq!(f.limits(), (0, 0));
        let e = f.set_limits(Some(1), Some(2)).unwrap_err();
        assert_eq!(e.to_string(), "high (1) must be >= low (2) must be >= 0");
        assert_eq!(f.limits(), (0, 0), "a rejected call changes nothing");
    }

    #[test]
    fn l70_edges_fire_once_per_crossing_and_alternate() {
        let mut f = FlowControl::default();
        f.set_limits(Some(10), Some(4)).unwrap();
        assert!(!f.should_pause(10), "at high is not above high");
        assert!(f.should_pause(11));
        assert!(!f.should_pause(50), "no second pause while paused");
        assert!(!f.should_resume(5));
        assert!(f.should_resume(4));
        assert!(!f.should_resume(0), "no second resume");
        // Exhaustive: any size sequence yields strictly alternating edges at the marks.
        for high in 0..6 {
            for low in 0..=high {
                let mut f = FlowControl::default();
                f.set_limits(Some(high), Some(low)).unwrap();
                let mut last = None;
                for size in (0..12).chain((0..12).rev()).chain(0..12) {
                    if f.should_pause(size) {
                        assert!(size > high);
                        assert_ne!(last, Some(true));
                        last = Some(true);
                    }
                    if f.should_resume(size) {
                        assert!(size <= low);
                        assert_eq!(last, Some(true));
                        last = Some(false);
                    }
                }
            }
        }
    }

    #[test]
    fn t14_t18_the_tls_rule_pauses_at_high_with_its_own_defaults() {
        let mut f = FlowControl::new(512 * 1024, Full::AtHigh);
        assert_eq!(f.limits(), (128 * 1024, 512 * 1024));
        f.set_limits(Some(10), Some(4)).unwrap();
        assert!(f.should_pause(10), "at high is full for the TLS layer");
        assert!(f.should_resume(4));
        f.set_limits(Some(0), None).unwrap();
        assert!(
            !f.should_pause(0),
            "an empty buffer is not full, even at high = 0"
        );
        assert!(f.should_pause(1));
        assert!(f.should_resume(0));
        f.set_limits(Some(8), Some(8)).unwrap();
        assert!(
            !f.should_pause(8),
            "high == low: at the mark it would resume at once"
        );
        assert!(f.should_pause(9));
        f.set_limits(None, None).unwrap();
        assert_eq!(f.limits(), (128 * 1024, 512 * 1024), "its own defaults");
        assert_eq!(
            FlowControl::marks(None, Some(10), 512 * 1024).unwrap(),
            (40, 10)
        );
    }

    #[test]
    fn l70_zero_marks() {
        let mut f = FlowControl::default();
        f.set_limits(Some(0), Some(0)).unwrap();
        assert!(
            f.should_pause(1),
            "high = 0 pauses whenever anything is buffered"
        );
        assert!(!f.should_resume(1), "low = 0 resumes only when empty");
        assert!(f.should_resume(0));
    }
}
