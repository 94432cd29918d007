//! CSV/TSV records from an async byte stream, split by `csv-core` (quotes, escapes and
//! CRLF handled there); this module only feeds it chunks and tracks line numbers.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use futures::io::{AsyncBufRead, AsyncBufReadExt};

use crate::{Error, Result};

pub(super) struct Records<R> {
    reader: R,
    file: String,
    core: Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Newlines consumed so far.
    newlines: u64,
    /// Bytes consumed so far.
    consumed: u64,
    done: bool,
}

impl<R: AsyncBufRead + Unpin> Records<R> {
    pub fn new(reader: R, delimiter: u8, file: &str) -> Self {
        Records {
            reader,
            file: file.to_owned(),
            core: ReaderBuilder::new().delimiter(delimiter).build(),
            out: vec![0; 4096],
            ends: vec![0; 64],
            newlines: 0,
            consumed: 0,
            done: false,
        }
    }

    /// Bytes of the file read so far (through the last record returned).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Reads the next record into `fields`; returns its 1-based starting line, or `None`
    /// at the end. Blank lines are skipped by `csv-core`.
    pub async fn next(&mut self, fields: &mut Vec<String>) -> Result<Option<u64>> {
        fields.clear();
        if self.done {
            return Ok(None);
        }
        let mut line = None;
        let (mut out_len, mut ends_len) = (0, 0);
        loop {
            let input =
                self.reader.fill_buf().await.map_err(|e| Error::from_io(&self.file, &e, "the text"))?;
            // Lines before the first non-newline byte are blank: not this record's start.
            if line.is_none() {
                let blank = input.iter().take_while(|b| **b == b'\n' || **b == b'\r').count();
                if blank < input.len() || input.is_empty() {
                    let nl = input[..blank].iter().filter(|b| **b == b'\n').count() as u64;
                    line = Some(self.newlines + nl + 1);
                }
            }
            let (res, n_in, n_out, n_end) =
                self.core.read_record(input, &mut self.out[out_len..], &mut self.ends[ends_len..]);
            self.newlines += input[..n_in].iter().filter(|b| **b == b'\n').count() as u64;
            self.reader.consume_unpin(n_in);
            self.consumed += n_in as u64;
            out_len += n_out;
            ends_len += n_end;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => {
                    let mut start = 0;
                    for &end in &self.ends[..ends_len] {
                        fields.push(String::from_utf8_lossy(&self.out[start..end]).into_owned());
                        start = end;
                    }
                    return Ok(line);
                }
                ReadRecordResult::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }
}
