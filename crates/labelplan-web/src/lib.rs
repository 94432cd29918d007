//! labelplan-web: the browser app. The UI thread (Yew components in [`ui`]) only renders
//! and sends typed [`protocol::Request`]s; the compute worker ([`worker::Engine`], a
//! yew-agent reactor) owns the file, the parsed dataset and the backend (WebGPU or CPU),
//! and answers with progress, summaries and errors as data.

pub mod blob_reader;
pub mod codec;
pub mod model_jobs;
pub mod protocol;
pub mod stopped;
pub mod ui;
pub mod worker;
