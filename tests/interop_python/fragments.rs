//! Our reads across the awkward fragments Python sends (S16, S17, S27, S31, S34–S38): split
//! lines and separators, counted blocks over twice the limit, and what EOF leaves.

use super::*;

/// Expects `Error::IncompleteRead` with these fields (S34, S38, S39).
fn assert_incomplete(r: Result<Vec<u8>, Error>, partial: &[u8], expected: Option<usize>) {
    match r {
        Err(Error::IncompleteRead {
            partial: p,
            expected: e,
        }) => {
            assert_eq!(
                (p.as_slice(), e),
                (partial, expected),
                "IncompleteRead fields"
            );
        }
        other => panic!("expected IncompleteRead, got {other:?}"),
    }
}

/// Case 6. S16, S17, S27, S31, S34, S35, S37, S38: Python sends with a drain and a short
/// sleep between fragments, splitting lines, separators (at every offset of a 7-byte one) and
/// counted blocks; a 300 000-byte `readexactly` exceeds twice the limit, so the reader pauses
/// and must resume to finish (S16). Then EOF: the unfinished separator comes back in
/// `IncompleteRead` (S34), `readexactly` fails empty (S38) and `readline` returns b"" (S27).
#[test]
fn s31_reads_across_python_fragments() {
    require_python!();
    run_bounded(async {
        let peer = Peer::spawn("fragments_server", &["tcp"]);
        let port = peer.port().await;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.readline().await?, b"hello world\n");
        assert_eq!(reader.readline().await?, b"one byte at a time\n");
        let sep: &[u8] = b"--END--";
        for k in 1..sep.len() {
            let want = format!("rec{k}--END--");
            assert_eq!(
                reader.readuntil(sep).await?,
                want.as_bytes(),
                "split at {k}"
            );
        }
        assert_eq!(reader.readuntil(sep).await?, b"false --END- start--END--");
        assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"HEAD: 1\r\n\r\n");
        assert_eq!(reader.readexactly(4).await?, b"BODY");
        assert_eq!(reader.readexactly(10).await?, b"0123456789");
        assert_same(
            &reader.readexactly(300_000).await?,
            &pattern(300_000),
            "S16",
        );
        let crlf: &[&[u8]] = &[b"\r\n", b"\n"];
        assert_eq!(reader.readuntil_any(crlf).await?, b"CRLF line\r\n");
        assert_eq!(reader.readuntil_any(crlf).await?, b"LF line\n");
        assert_eq!(reader.readline().await?, b"tail\n");
        assert_incomplete(reader.readuntil(sep).await, b"rest--EN", None);
        assert_incomplete(reader.readexactly(1).await, b"", Some(1));
        assert_eq!(reader.readline().await?, b"");
        assert!(reader.at_eof(), "S17");
        writer.close();
        writer.wait_closed().await?;
        peer.finish().await;
        Ok(())
    });
}
