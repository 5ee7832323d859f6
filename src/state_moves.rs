//! For the model tests of the state enums (the loop's, the runner's, a server's): the moves a
//! guard allows, listed in the order of the enum's `ALL` array, so each test compares them with
//! its diagram in one assertion.

/// Every `(from, to)` with `from != to` that `legal` allows, in `all`'s order.
pub(crate) fn legal_moves<S: Copy + PartialEq>(
    all: &[S],
    legal: impl Fn(S, S) -> bool,
) -> Vec<(S, S)> {
    all.iter()
        .flat_map(|&a| all.iter().map(move |&b| (a, b)))
        .filter(|&(a, b)| a != b && legal(a, b))
        .collect()
}
