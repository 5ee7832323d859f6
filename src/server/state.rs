//! A server's life as one state (`Server`'s part of CPython's `base_events.Server`:
//! `_serving`, `_serving_forever_fut`, `_sockets is None` once closed). Ground rule: only
//! `ServerInner::set_state` changes it, along the diagram on [`ServerState`].

/// A server's life (L104-L107): bound, then serving once started (`start_serving`,
/// `serve_forever`, or at creation unless `start_serving(false)`), then closed for good.
/// Changed only through `ServerInner::set_state`:
///
/// ```text
///   Bound ──start──► Serving ──serve_forever──► ServingForever
///     │                 │                             │
///     └─────────────────┴──────── close ──────────────┴──► Closed (final)
/// ```
///
/// `ServingForever` ends only in `Closed`: the `serve_forever` that entered it closes the
/// server however it ends (its future dropped included), and a second one is refused
/// meanwhile (L106).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ServerState {
    /// Bound, not listening (`start_serving(false)`).
    Bound,
    /// Listening and accepting.
    Serving,
    /// Listening and accepting, and a `serve_forever` waits for the close (CPython's
    /// `_serving_forever_fut`).
    ServingForever,
    /// `close` was called: the listeners are closed; nothing starts it again.
    Closed,
}

impl ServerState {
    /// Whether `self -> to` is a move of the diagram above.
    pub(super) fn is_edge(self, to: ServerState) -> bool {
        use ServerState::*;
        matches!(
            (self, to),
            (Bound, Serving)
                | (Serving, ServingForever)
                | (Bound | Serving | ServingForever, Closed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ServerState::{self, *};

    const ALL: [ServerState; 4] = [Bound, Serving, ServingForever, Closed];

    /// The moves `set_state` allows are exactly the diagram's; `Closed` and `ServingForever`
    /// lead nowhere else (a `serve_forever` never hands the server back to plain serving).
    // Checklist: L104, L106, L107.
    #[test]
    fn l104_l106_l107_the_server_moves_are_the_diagram() {
        let moves = crate::state_moves::legal_moves(&ALL, ServerState::is_edge);
        assert_eq!(
            moves,
            [
                (Bound, Serving),
                (Bound, Closed),
                (Serving, ServingForever),
                (Serving, Closed),
                (ServingForever, Closed),
            ]
        );
    }

    /// A move off the diagram is a bug of ours: debug builds assert it.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "server state ServingForever -> Serving")]
    fn a_move_off_the_diagram_asserts_in_debug_builds() {
        crate::run(async {
            let noop = |_r: crate::StreamReader, w: crate::StreamWriter| w.close();
            let server = crate::start_server(noop, "127.0.0.1", 0).await.unwrap();
            server.inner.set_state(ServingForever);
            server.inner.set_state(Serving);
        })
        .unwrap();
    }
}
