//! A small unstable sort for the crate's own few sorts (the due timers of a turn, certificate
//! file names): std's `sort`/`sort_unstable` instantiate 4-5 KiB of code per element type
//! (ipnsort or driftsort, their small-sort networks, pivots, fallbacks), which every program
//! using the loop would carry for lists that are usually a handful of entries long.
//!
//! Ground rules: heapsort, so O(n log n) whatever the input and no allocation; not stable, so
//! callers give keys that never tie (or do not care); input already in order returns after
//! one pass. Calls nothing.

/// Sorts `v` so that no element is `less` than the one before it; `less` is a strict weak
/// order ("a < b"). Not stable.
pub(crate) fn sort_by<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.windows(2).all(|w| !less(&w[1], &w[0])) {
        return;
    }
    // Max-heap on `less`: each parent is no less than its children.
    let sift_down = |v: &mut [T], mut root: usize| loop {
        let mut child = 2 * root + 1;
        if child >= v.len() {
            return;
        }
        if child + 1 < v.len() && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[root], &v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    };
    for root in (0..v.len() / 2).rev() {
        sift_down(v, root);
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(&mut v[..end], 0);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Orders like std's sort, whatever the input (ties included: equal keys are equal
        /// values here, so instability cannot show).
        #[test]
        fn sorts_like_std(mut v in proptest::collection::vec((0u8..8, 0u16..1000), 0..64)) {
            let mut expected = v.clone();
            expected.sort();
            super::sort_by(&mut v, |a, b| a < b);
            prop_assert_eq!(v, expected);
        }
    }
}
