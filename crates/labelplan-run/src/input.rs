//! The manifest's record of the files a dataset came from: names, sizes, SHA-256 and how
//! they were read. The CLI streams files from disk, the worker `Blob`s: both hash here.

use futures::io::AsyncRead;
use labelplan_core::plan::{InputInfo, SidecarInfo};
use labelplan_core::read::source::Watch;
use labelplan_core::read::SidecarJoin;
use labelplan_core::{Dataset, LoadOptions};

/// One input file: its name and a stream of its bytes.
pub struct Source<R> {
    /// The file's name, as the manifest records it.
    pub name: String,
    /// Its bytes from the start.
    pub reader: R,
}

/// The record of `data`, read from `file` with `options` and joined to `sidecar` (by
/// `join`) when there is one. Hashing reports bytes to `watch` and stops on its cancel.
pub async fn input_info<R: AsyncRead + Unpin, S: AsyncRead + Unpin>(
    data: &Dataset,
    file: Source<R>,
    options: &LoadOptions,
    sidecar: Option<(Source<S>, &SidecarJoin)>,
    watch: &dyn Watch,
) -> labelplan_core::Result<InputInfo> {
    let (sha256, bytes) = labelplan_core::digest::sha256(&file.name, file.reader, watch).await?;
    let sidecar = match sidecar {
        None => None,
        Some((side, join)) => {
            let (sha256, bytes) = labelplan_core::digest::sha256(&side.name, side.reader, watch).await?;
            let join_by = match join {
                SidecarJoin::RowOrder => None,
                SidecarJoin::ById(column) => Some(column.clone()),
            };
            Some(SidecarInfo { name: side.name, bytes, sha256, join_by })
        }
    };
    Ok(InputInfo {
        name: file.name,
        bytes,
        sha256,
        rows: data.rows,
        dim: data.dim,
        array: options.array_name.clone(),
        drop_non_finite: options.drop_non_finite,
        sidecar,
    })
}
