//! The byte source every reader pulls from: an async reader that reports progress and
//! stops when the user cancels. Natively it wraps a file; in the browser a `Blob`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncBufRead, AsyncRead, AsyncSeek, SeekFrom};

/// Receives progress and says whether to stop. Shared by reference, so it uses `&self`.
pub trait Watch {
    /// `done` bytes of `total` have been read so far.
    fn progress(&self, done: u64, total: u64);
    /// Whether the user asked to stop.
    fn is_cancelled(&self) -> bool;
}

/// A watcher that ignores progress and never cancels.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unwatched;

impl Watch for Unwatched {
    fn progress(&self, _: u64, _: u64) {}
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Marker payload of the I/O error a cancelled read returns.
#[derive(Debug)]
struct CancelledRead;

impl std::fmt::Display for CancelledRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for CancelledRead {}

/// Whether an I/O error came from a cancelled read.
pub fn is_cancel(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<CancelledRead>())
}

/// How often progress is reported, in bytes.
const REPORT_EVERY: u64 = 1 << 20;

/// Wraps a byte source: counts the bytes read, reports progress and checks for cancel.
pub struct Tracked<'w, R> {
    inner: R,
    watch: &'w dyn Watch,
    total: u64,
    pos: u64,
    read: u64,
    reported: u64,
}

impl<'w, R> Tracked<'w, R> {
    /// Wraps `inner`, a source of `total` bytes.
    pub fn new(inner: R, total: u64, watch: &'w dyn Watch) -> Self {
        Tracked { inner, watch, total, pos: 0, read: 0, reported: 0 }
    }

    fn account(&mut self, n: usize) {
        self.pos += n as u64;
        self.read += n as u64;
        if self.read - self.reported >= REPORT_EVERY || self.pos == self.total {
            self.reported = self.read;
            self.watch.progress(self.pos.min(self.total), self.total);
        }
    }

    fn check_cancel(&self) -> io::Result<()> {
        if self.watch.is_cancelled() {
            Err(io::Error::other(CancelledRead))
        } else {
            Ok(())
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Tracked<'_, R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.check_cancel()?;
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.account(n);
        }
        poll
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Tracked<'_, R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        this.check_cancel()?;
        Pin::new(&mut this.inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.inner).consume(amt);
        self.account(amt);
    }
}

impl<R: AsyncSeek + Unpin> AsyncSeek for Tracked<'_, R> {
    fn poll_seek(mut self: Pin<&mut Self>, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
        let poll = Pin::new(&mut self.inner).poll_seek(cx, pos);
        if let Poll::Ready(Ok(p)) = poll {
            self.pos = p;
        }
        poll
    }
}
