//! An async, seekable reader over a browser `Blob`: each miss fetches the next slice
//! (`blob.slice(a, b).arrayBuffer()`), so a file is read in chunks and the worker's
//! event loop runs between them (progress messages go out, cancel comes in).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncSeek, SeekFrom};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Bytes fetched per slice.
const CHUNK: u64 = 4 << 20;

/// Reads a `Blob` through `futures::io`.
pub struct BlobReader {
    blob: web_sys::Blob,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
    pending: Option<(u64, JsFuture)>,
}

impl BlobReader {
    /// Wraps `blob`.
    pub fn new(blob: web_sys::Blob) -> Self {
        let len = blob.size() as u64;
        BlobReader { blob, len, pos: 0, buf: Vec::new(), buf_start: 0, pending: None }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn fetch(&self, start: u64) -> io::Result<JsFuture> {
        let end = (start + CHUNK).min(self.len);
        let slice = self
            .blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        Ok(JsFuture::from(slice.array_buffer()))
    }
}

impl AsyncRead for BlobReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            if this.pos >= this.len || out.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let buf_end = this.buf_start + this.buf.len() as u64;
            if this.pos >= this.buf_start && this.pos < buf_end {
                let from = (this.pos - this.buf_start) as usize;
                let n = out.len().min(this.buf.len() - from);
                out[..n].copy_from_slice(&this.buf[from..from + n]);
                this.pos += n as u64;
                return Poll::Ready(Ok(n));
            }
            if this.pending.as_ref().is_none_or(|(start, _)| *start != this.pos) {
                this.pending = Some((this.pos, this.fetch(this.pos)?));
            }
            let Some((start, fut)) = this.pending.as_mut() else { unreachable!() };
            let start = *start;
            match Pin::new(fut).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    this.pending = None;
                    return Poll::Ready(Err(io::Error::other(format!("reading the file failed: {e:?}"))));
                }
                Poll::Ready(Ok(value)) => {
                    this.pending = None;
                    let array = js_sys::Uint8Array::new(value.unchecked_ref());
                    this.buf.resize(array.length() as usize, 0);
                    array.copy_to(&mut this.buf);
                    this.buf_start = start;
                }
            }
        }
    }
}

impl AsyncSeek for BlobReader {
    fn poll_seek(mut self: Pin<&mut Self>, _: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Poll::Ready(Ok(p))
            }
            None => Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))),
        }
    }
}
