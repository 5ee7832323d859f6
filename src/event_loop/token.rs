//! The mio tokens of the loop's I/O registrations (`io.rs`): a slot's index and generation
//! packed in one `usize`, and the few tokens kept for the loop's own sources.

use std::io;

use mio::Token;

use crate::slots::SlotKey;

// A token: the slot's generation in the low half (all 32 bits of it on 64-bit targets), the
// slot index above it, and `FD_TOKEN_BIT` on top. Taking a handler's token apart on the hot
// path (`dispatch_event`) is then a truncation and a shift, with no mask.
pub(super) const GENERATION_BITS: u32 = usize::BITS / 2;
/// The generation bits a token keeps (`u32::MAX` on 64-bit targets).
pub(super) const GENERATION_MASK: u32 = (usize::MAX >> GENERATION_BITS) as u32;
/// The largest slot index a token holds (one bit less than a generation).
pub(super) const INDEX_MASK: u32 = index_mask(usize::BITS);
/// The top bit of a token marks an `Fd` registration (as it does the waker's and the alarm's
/// tokens): one comparison keeps their events off the iteration's fast path, which runs each
/// event as it is read, so that all of an `Fd` event's callbacks are queued (`queued`) before
/// any callback of the iteration runs.
pub(crate) const FD_TOKEN_BIT: usize = 1 << (usize::BITS - 1);

/// The token reserved for the loop's own `mio::Waker`.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// [`INDEX_MASK`] on a target whose `usize` has `bits` bits (32 or 64).
const fn index_mask(bits: u32) -> u32 {
    u32::MAX >> (32 - (bits / 2 - 1))
}

/// Whether a new registration at slot `index` gets a token of its own under `index_mask`.
/// The largest index is left out too: an `Fd` token there, with the largest generation, would
/// be the waker's or the alarm's.
const fn index_fits(index: u32, index_mask: u32) -> bool {
    index < index_mask
}

// Inline, as they were beside their callers in `io.rs`: the dispatch path takes tokens apart.
#[inline]
pub(super) fn token(key: SlotKey) -> Token {
    let index = key.index;
    debug_assert!(index <= INDEX_MASK, "index {index} does not fit a token");
    let generation = (key.generation & GENERATION_MASK) as usize;
    Token(generation | ((index as usize) << GENERATION_BITS))
}

/// The token of an `Fd` registration: [`token`] with [`FD_TOKEN_BIT`].
#[inline]
pub(super) fn fd_token(key: SlotKey) -> Token {
    let t = token(key).0 | FD_TOKEN_BIT;
    debug_assert!(
        t < usize::MAX - 1,
        "token {t:#x} collides with the waker or the alarm"
    );
    Token(t)
}

/// [`token`] for a new registration, refused when its slot index does not fit a token
/// (32 767 registrations at once on a 32-bit target; 2^31 - 1 on a 64-bit one, which a
/// slot index never reaches): its token would name another slot.
pub(super) fn checked_token(key: SlotKey) -> io::Result<Token> {
    if index_fits(key.index, INDEX_MASK) {
        Ok(token(key))
    } else {
        Err(too_many(key))
    }
}

/// [`fd_token`] for a new registration, refused as [`checked_token`] refuses.
pub(super) fn checked_fd_token(key: SlotKey) -> io::Result<Token> {
    checked_token(key).map(|t| Token(t.0 | FD_TOKEN_BIT))
}

#[cold]
fn too_many(key: SlotKey) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "too many I/O registrations on this loop: slot {} does not fit a poll token \
             (at most {} at once)",
            key.index, INDEX_MASK
        ),
    )
}

/// A token's index and generation. The index of an `Fd` token holds `FD_TOKEN_BIT` too: mask
/// it with `INDEX_MASK` (`dispatch_event` never sees one).
#[inline]
pub(super) fn key_of(t: Token) -> (u32, u32) {
    (
        (t.0 >> GENERATION_BITS) as u32,
        t.0 as u32 & GENERATION_MASK,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_index_past_a_32_bit_tokens_room_is_refused() {
        let mask32 = index_mask(32);
        assert_eq!(mask32, 0x7FFF, "15 index bits under 16 generation bits");
        assert!(index_fits(0, mask32));
        assert!(index_fits(32_766, mask32));
        // The last index: its Fd token with the largest generation is usize::MAX, the waker's.
        assert!(!index_fits(32_767, mask32));
        // Past the room: shifted into a 32-bit token, it would lose its top bits.
        assert!(!index_fits(32_768, mask32));
        assert!(!index_fits(u32::MAX, mask32));
    }

    #[test]
    fn this_targets_tokens_refuse_only_what_does_not_fit() {
        assert_eq!(index_mask(64), 0x7FFF_FFFF);
        assert_eq!(INDEX_MASK, (usize::MAX >> (GENERATION_BITS + 1)) as u32);
        let last = SlotKey {
            index: INDEX_MASK - 1,
            generation: u32::MAX,
        };
        let t = checked_fd_token(last).expect("the last index that fits");
        assert_eq!(t, fd_token(last));
        assert!(t.0 < usize::MAX - 1, "not the waker's nor the alarm's");
        assert_eq!(
            key_of(checked_token(last).unwrap()),
            (last.index, GENERATION_MASK)
        );
        let past = SlotKey {
            index: INDEX_MASK,
            generation: 0,
        };
        let e = checked_token(past).expect_err("the index past the room");
        assert_eq!(e.kind(), io::ErrorKind::OutOfMemory);
        assert!(checked_fd_token(past).is_err());
    }
}
