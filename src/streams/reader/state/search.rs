//! Finding separators for `readuntil` and `readline`: the checks on the separators (S30,
//! S35), the earliest match among several, and the `LimitOverrunError` texts (S32, S33).

use crate::error::Error;

/// `LimitOverrunError` texts (S32, S33).
pub(super) const FOUND_TOO_LONG: &str = "Separator is found, but chunk is longer than limit";
pub(super) const NOT_FOUND_TOO_LONG: &str = "Separator is not found, and chunk exceed the limit";
/// `readline`'s separator.
pub(super) const NEWLINE: &[&[u8]] = &[b"\n"];

/// The separators' shortest and longest lengths, after S30/S35's checks.
pub(super) fn check_separators(seps: &[&[u8]]) -> Result<(usize, usize), Error> {
    if seps.is_empty() {
        return Err(Error::invalid_argument(
            "Separator should contain at least one element",
        ));
    }
    let min = seps.iter().map(|s| s.len()).min().unwrap_or(0);
    let max = seps.iter().map(|s| s.len()).max().unwrap_or(0);
    if min == 0 {
        return Err(Error::invalid_argument(
            "Separator should be at least one-byte string",
        ));
    }
    Ok((min, max))
}

/// The first occurrence of `needle` (non-empty) in `hay` starting at `from` or later.
pub(super) fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = from;
    while i <= last_start {
        i += hay[i..=last_start].iter().position(|&b| b == first)?;
        if &hay[i + 1..i + needle.len()] == rest {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The separator match in `data` starting at `offset` or later that ends earliest, as
/// `(start, end)`; on equal ends the shorter separator wins (S35: CPython sorts by length and
/// keeps the first strictly earlier end). `None` if no separator occurs there.
pub(crate) fn find_earliest(data: &[u8], offset: usize, seps: &[&[u8]]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for sep in seps {
        // A later separator can only win by ending no later than the best so far.
        let bound = best.map_or(data.len(), |(_, end)| end);
        if let Some(start) = find(&data[..bound], offset, sep) {
            let end = start + sep.len();
            let wins = best.is_none_or(|(s, e)| end < e || sep.len() < e - s);
            if wins {
                best = Some((start, end));
            }
        }
    }
    best
}
