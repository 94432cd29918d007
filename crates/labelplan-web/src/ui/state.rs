//! The app's state and the actions that change it.

use std::rc::Rc;

use labelplan_core::read::SidecarJoin;
use labelplan_core::{LoadOptions, Summary};
use yew::Reducible;

use crate::protocol::{Backend, Failure, FileHandle, Response};

/// What the user set for loading.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// Drop rows with NaN/Inf instead of refusing the file.
    pub drop_non_finite: bool,
    /// Array or tensor name for `.npz` / `.safetensors` with several.
    pub array_name: String,
    /// Sidecar id column to join by; empty joins by row order.
    pub join_column: String,
}

/// A load in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    /// What the user asked for.
    pub label: String,
    /// Current stage from the worker.
    pub stage: String,
    /// Bytes done.
    pub done: u64,
    /// Bytes in all.
    pub total: u64,
    /// When it started (ms since the page opened).
    pub started_ms: f64,
}

/// A loaded dataset's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The numbers.
    pub summary: Summary,
    /// Which backend computed the norms.
    pub norms_on: String,
    /// Parse time in seconds.
    pub parse_seconds: f64,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppState {
    /// The worker's backend, once known.
    pub backend: Option<Backend>,
    /// The running request.
    pub busy: Option<Busy>,
    /// The loaded dataset.
    pub summary: Option<Loaded>,
    /// The last failure, shown until the next request.
    pub error: Option<Failure>,
    /// The last file asked for, to retry it (e.g. dropping NaN rows).
    pub last_file: Option<FileHandle>,
    /// Load settings.
    pub settings: Settings,
}

impl AppState {
    /// Load options from the settings, with the browser's memory limit.
    pub fn load_options(&self) -> LoadOptions {
        let name = self.settings.array_name.trim();
        LoadOptions {
            drop_non_finite: self.settings.drop_non_finite,
            array_name: (!name.is_empty()).then(|| name.to_owned()),
            ..LoadOptions::browser()
        }
    }

    /// The sidecar join from the settings.
    pub fn sidecar_join(&self) -> SidecarJoin {
        match self.settings.join_column.trim() {
            "" => SidecarJoin::RowOrder,
            col => SidecarJoin::ById(col.to_owned()),
        }
    }
}

/// What changes the state.
#[derive(Debug, Clone)]
pub enum Action {
    /// A request was sent.
    Started(String),
    /// The worker answered.
    Response(Response),
    /// Keep this file for a retry.
    Remember(FileHandle),
    /// New settings.
    Settings(Settings),
    /// Turn dropping NaN rows on or off.
    SetDropNonFinite(bool),
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Started(label) => {
                s.error = None;
                s.busy =
                    Some(Busy { label, stage: "starting".into(), done: 0, total: 0, started_ms: now_ms() });
            }
            Action::Remember(file) => s.last_file = Some(file),
            Action::Settings(settings) => s.settings = settings,
            Action::SetDropNonFinite(on) => s.settings.drop_non_finite = on,
            Action::Response(response) => match response {
                Response::Backend(b) => s.backend = Some(b),
                Response::Progress { stage, done, total } => {
                    if let Some(busy) = s.busy.as_mut() {
                        busy.stage = stage;
                        // A stage without a byte count keeps the bar where reading left it.
                        if total > 0 {
                            busy.done = done;
                            busy.total = total;
                        }
                    }
                }
                Response::Loaded { summary, norms_on, parse_seconds } => {
                    s.busy = None;
                    s.summary = Some(Loaded { summary, norms_on, parse_seconds });
                }
                Response::Failed(failure) => {
                    s.busy = None;
                    s.error = Some(failure);
                }
                Response::Cancelled => s.busy = None,
            },
        }
        Rc::new(s)
    }
}
