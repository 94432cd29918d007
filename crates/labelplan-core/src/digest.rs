//! The SHA-256 of an input file, as a manifest records it: a plan is reproduced only
//! from the same bytes. Streamed, so the CLI (a file) and the web worker (a `Blob`) hash
//! the same way without holding the file.

use futures::io::{AsyncRead, AsyncReadExt};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::read::source::Watch;

/// Bytes hashed between progress reports.
const CHUNK: usize = 4 << 20;

/// Hex SHA-256 and size of everything `reader` yields. `file` names it in errors.
pub async fn sha256<R: AsyncRead + Unpin>(
    file: &str,
    mut reader: R,
    watch: &dyn Watch,
) -> Result<(String, u64)> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        if watch.is_cancelled() {
            return Err(Error::Cancelled { file: file.to_owned() });
        }
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| Error::Io { file: file.to_owned(), message: e.to_string() })?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        total += n as u64;
        watch.progress(total, 0);
    }
    Ok((hash.finalize().iter().map(|b| format!("{b:02x}")).collect(), total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::source::Unwatched;

    #[test]
    fn known_digests() {
        let hash = |bytes: &[u8]| {
            futures::executor::block_on(sha256("x", futures::io::Cursor::new(bytes.to_vec()), &Unwatched))
                .expect("in memory")
        };
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(hash(b""), (empty.to_owned(), 0));
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash(b"abc"), (abc.to_owned(), 3));
        // Longer than one chunk: the same digest as one update.
        let big = vec![7u8; CHUNK + 5];
        assert_eq!(hash(&big).0, Sha256::digest(&big).iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
}
