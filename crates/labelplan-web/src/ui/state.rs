//! The app's state and the actions that change it.

use std::rc::Rc;

use labelplan_core::draw::Frame;
use labelplan_core::plan::{Manifest, Plan};
use labelplan_core::progress::Unit;
use labelplan_core::read::SidecarJoin;
use labelplan_core::{LoadOptions, Summary};
use labelplan_select::map::PoolMap;
use yew::Reducible;

use super::form::PlanForm;
use crate::protocol::{BackendStatus, ColumnCodes, Failure, FileHandle, Item, Response, Tagged};

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

/// A finished plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The plan, manifest included.
    pub plan: Rc<Plan>,
    /// The map of its pool.
    pub map: Rc<PoolMap>,
    /// Seconds it took.
    pub seconds: f64,
    /// How it ran, when the user should know (a GPU failure and CPU rerun).
    pub note: Option<String>,
}

/// A frame of the map the GPU drew (or why it could not).
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// The page's number for the frame.
    pub seq: u64,
    /// Canvas size and view.
    pub frame: Frame,
    /// RGBA rows, or why not.
    pub pixels: Result<Vec<u8>, String>,
}

/// A request in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    /// The job's request number: only its answers move the progress or end it.
    pub id: u64,
    /// What the user asked for.
    pub label: String,
    /// Current stage from the worker.
    pub stage: String,
    /// What `done` and `total` count.
    pub unit: Unit,
    /// Units done.
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// When it started (ms since the page opened).
    pub started_ms: f64,
    /// When the current stage started (ms).
    pub stage_started_ms: f64,
    /// Whether `done` and `total` count the current stage (some stages have no count and
    /// leave the bar where the last one left it).
    pub stage_counts: bool,
}

impl Busy {
    /// Job `id`, shown as `label`, starting now.
    pub fn started(id: u64, label: String) -> Busy {
        let now = now_ms();
        Busy {
            id,
            label,
            stage: "starting".into(),
            unit: Unit::Steps,
            done: 0,
            total: 0,
            started_ms: now,
            stage_started_ms: now,
            stage_counts: false,
        }
    }

    /// Takes in the worker's progress of this job.
    pub fn advance(&mut self, stage: String, unit: Unit, done: u64, total: u64) {
        if self.stage != stage {
            self.stage_started_ms = now_ms();
            self.stage_counts = false;
        }
        self.stage = stage;
        // A stage without a count keeps the bar where the last count left it.
        if total > 0 {
            self.unit = unit;
            self.done = done;
            self.total = total;
            self.stage_counts = true;
        }
    }

    /// Seconds the current stage still needs at its pace so far (`now_ms` is the clock),
    /// once it has counted something and is not done.
    pub fn eta_seconds(&self, now_ms: f64) -> Option<f64> {
        (self.stage_counts && self.total > 0 && self.done > 0 && self.done < self.total).then(|| {
            (now_ms - self.stage_started_ms) / 1000.0 / self.done as f64 * (self.total - self.done) as f64
        })
    }
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
    pub backend: Option<BackendStatus>,
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
    /// Plan settings.
    pub plan_form: PlanForm,
    /// The last plan of the loaded dataset.
    pub planned: Option<Planned>,
    /// A dropped plan.json being reproduced: its settings are in the form, and a plan of
    /// another input says so.
    pub replay: Option<Rc<Manifest>>,
    /// The worker's last answer describing rows (ids, metadata) of the shown plan.
    pub described: Option<Rc<Vec<Item>>>,
    /// The worker's last answer to a search by id.
    pub found: Option<Found>,
    /// Plans of other methods on the same data and settings, to compare with `planned`.
    pub compared: Vec<Planned>,
    /// Metadata columns the worker coded as categories (the map's colours, coverage bars).
    pub coded: Vec<Rc<ColumnCodes>>,
    /// The GPU's last frame of the map.
    pub drawn: Option<Rc<Drawn>>,
    /// The worker panicked and stopped: nothing more can be asked of it until a reload.
    pub worker_stopped: bool,
}

/// The answer to a search by id or row number.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// What was looked for.
    pub text: String,
    /// The row, if any matched.
    pub row: Option<u32>,
    /// Counts answers, so the same search twice still moves to the row.
    pub seq: u64,
}

impl AppState {
    /// The state a page opens in: the plan form the address's hash describes.
    pub fn from_link() -> Self {
        let (plan_form, unknown) = PlanForm::from_hash(&super::link::current());
        let error = (!unknown.is_empty()).then(|| {
            Failure::message(format!(
                "The link names settings this version does not know ({}); they were left out.",
                unknown.join(", ")
            ))
        });
        AppState { plan_form, error, ..AppState::default() }
    }

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
    /// A job (a load or plan) was sent: its request's number and its label.
    Started(u64, String),
    /// The worker answered the request with this number.
    Response(Tagged<Response>),
    /// Keep this file for a retry.
    Remember(FileHandle),
    /// New settings.
    Settings(Settings),
    /// New plan settings.
    PlanForm(PlanForm),
    /// A request could not be sent (settings that do not parse).
    Refused(String),
    /// Reproduce this plan.json: its settings into the form.
    Replay(Rc<Manifest>),
    /// Turn dropping NaN rows on or off.
    SetDropNonFinite(bool),
    /// The worker panicked (its message) and stopped for good.
    WorkerStopped(String),
}

/// Milliseconds since the Unix epoch (`Date.now()` in the browser; the reducer's unit
/// tests run natively).
fn now_ms() -> f64 {
    web_time::SystemTime::now().duration_since(web_time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            // A stopped worker runs nothing more: its message stays until a reload.
            Action::Started(..) if s.worker_stopped => return self,
            Action::Started(id, label) => {
                s.error = None;
                s.busy = Some(Busy::started(id, label));
            }
            Action::PlanForm(form) => {
                s.plan_form = form;
                // A setting the engine refused is shown at its field until the form changes.
                if s.error.as_ref().is_some_and(|f| f.setting.is_some()) {
                    s.error = None;
                }
                // Edited settings are no longer plan.json's.
                s.replay = None;
            }
            Action::Refused(message) => s.error = Some(Failure::message(message)),
            Action::WorkerStopped(why) => {
                let during =
                    s.busy.take().map(|b| format!(" while {}", b.label.to_lowercase())).unwrap_or_default();
                s.worker_stopped = true;
                s.error = Some(Failure::message(format!(
                    "The worker that reads and plans stopped on an internal error{during} ({why}). Reload the page to start it again: the settings stay in the link; the file must be dropped again."
                )));
            }
            Action::Replay(manifest) => {
                s.plan_form = PlanForm::from_settings(&manifest.settings);
                s.error = None;
                s.replay = Some(manifest);
            }
            Action::Remember(file) => s.last_file = Some(file),
            Action::Settings(settings) => s.settings = settings,
            Action::SetDropNonFinite(on) => s.settings.drop_non_finite = on,
            Action::Response(Tagged { id, body }) => {
                // Whether this answers the running job (it then ends it), not a query or
                // a job it replaced.
                let ends_job = s.busy.as_ref().is_some_and(|b| b.id == id)
                    && matches!(
                        body,
                        Response::Loaded { .. }
                            | Response::Planned { .. }
                            | Response::Failed(_)
                            | Response::Cancelled
                    );
                if ends_job {
                    s.busy = None;
                }
                s.answer(id, body);
            }
        }
        Rc::new(s)
    }
}

impl AppState {
    /// Takes in the worker's answer to request `id`.
    fn answer(&mut self, id: u64, response: Response) {
        let s = self;
        match response {
            Response::Backend(b) => s.backend = Some(b),
            Response::Progress { stage, unit, done, total } => {
                if let Some(busy) = s.busy.as_mut().filter(|b| b.id == id) {
                    busy.advance(stage, unit, done, total);
                }
            }
            Response::Loaded { summary, norms_on, parse_seconds } => {
                s.summary = Some(Loaded { summary, norms_on, parse_seconds });
                // A plan of the data before would describe other rows.
                s.planned = None;
                s.described = None;
                s.found = None;
                s.compared.clear();
                s.coded.clear();
            }
            Response::Planned { plan, seconds, note, compare: true, .. } => {
                let method = plan.manifest.settings.method;
                s.compared.retain(|c| c.plan.manifest.settings.method != method);
                let map = Rc::new(PoolMap::default());
                s.compared.push(Planned { plan: Rc::new(*plan), map, seconds, note });
            }
            Response::Planned { plan, map, order, seconds, mut note, compare: false } => {
                // Comparisons were made beside the plan this one replaces.
                s.compared.clear();
                s.coded.clear();
                if let Some(Err(why)) = s.replay.as_ref().map(|m| m.check_input(&plan.manifest.input)) {
                    let warning =
                        format!("this is not plan.json's input, so the picks are not its picks: {why}");
                    note = Some(note.map_or(warning.clone(), |n| format!("{n}; {warning}")));
                }
                s.planned = Some(Planned {
                    plan: Rc::new(*plan),
                    map: Rc::new(PoolMap { positions: map, order }),
                    seconds,
                    note,
                });
                s.described = None;
                s.found = None;
            }
            Response::Failed(failure) => s.error = Some(failure),
            // The model page's answers: not the planner's.
            Response::Cancelled
            | Response::ModelLoaded(_)
            | Response::Token { .. }
            | Response::Generated(_)
            | Response::Measured(_)
            | Response::Timed(_) => {}
            Response::Described(items) => s.described = Some(Rc::new(items)),
            Response::Column(codes) => {
                s.coded.retain(|c| c.name != codes.name);
                s.coded.push(Rc::new(codes));
            }
            Response::Found { text, row } => {
                let seq = s.found.as_ref().map_or(0, |f| f.seq + 1);
                s.found = Some(Found { text, row, seq });
            }
            Response::Drawn { seq, frame, pixels } => s.drawn = Some(Rc::new(Drawn { seq, frame, pixels })),
            // Saved by the bridge as it arrives (see `ui::Main`).
            Response::Exported { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use labelplan_core::plan::{InputInfo, Method, Settings};
    use labelplan_core::Dataset;

    use super::*;

    fn manifest(settings: Settings) -> Rc<Manifest> {
        let data = Dataset::from_matrix("digits.npy", vec![0.0; 8], 4, 2);
        let input = InputInfo { sha256: "ab".repeat(32), ..InputInfo::unhashed(&data) };
        Rc::new(Manifest {
            tool: "labelplan".into(),
            version: "0".into(),
            input,
            backend: "CPU".into(),
            settings,
        })
    }

    #[test]
    fn the_time_left_follows_the_stages_pace() {
        let busy = |done, total| Busy {
            id: 1,
            label: "Planning".into(),
            stage: "training".into(),
            unit: Unit::Epochs,
            done,
            total,
            started_ms: 0.0,
            stage_started_ms: 1_000.0,
            stage_counts: true,
        };
        assert_eq!(busy(2, 10).eta_seconds(5_000.0), Some(16.0), "2 steps in 4 s: 8 more take 16 s");
        assert_eq!(busy(0, 10).eta_seconds(5_000.0), None, "no pace yet");
        assert_eq!(busy(10, 10).eta_seconds(5_000.0), None, "done");
        assert_eq!(busy(3, 0).eta_seconds(5_000.0), None, "no count");
        let uncounted = Busy { stage_counts: false, ..busy(2, 10) };
        assert_eq!(uncounted.eta_seconds(5_000.0), None, "the count is an earlier stage's");
    }

    #[test]
    fn a_dropped_plan_sets_the_form_until_the_user_edits_it() {
        let settings = Settings { method: Method::Elfs, epochs: 4, ..Settings::default() };
        let state = Rc::new(AppState::default()).reduce(Action::Replay(manifest(settings.clone())));
        assert_eq!(state.plan_form.settings(), Ok(settings));
        assert!(state.replay.is_some());
        let edited = state.plan_form.with("epochs", "5".into());
        let state = state.reduce(Action::PlanForm(edited));
        assert!(state.replay.is_none(), "edited settings are no longer plan.json's");
    }

    #[test]
    fn only_the_running_jobs_answers_move_or_end_its_progress() {
        let answer = |id, body| Action::Response(Tagged { id, body });
        let progress =
            |done| Response::Progress { stage: "reading".into(), unit: Unit::Bytes, done, total: 10 };
        let state = Rc::new(AppState::default()).reduce(Action::Started(1, "Loading a.npy".into()));
        // Loading b.npy replaces it; a.npy's cancel and late progress arrive after.
        let state = state.reduce(Action::Started(2, "Loading b.npy".into()));
        let state = state.reduce(answer(1, progress(9))).reduce(answer(1, Response::Cancelled));
        let busy = state.busy.as_ref().expect("b.npy still loads");
        assert_eq!((busy.id, busy.done), (2, 0));
        let state = state.reduce(answer(2, progress(4)));
        assert_eq!(state.busy.as_ref().map(|b| (b.done, b.unit)), Some((4, Unit::Bytes)));
        // A query failing meanwhile shows its message and leaves the job running.
        let state = state.reduce(answer(3, Response::Failed(Failure::message("no column".into()))));
        assert!(state.busy.is_some() && state.error.is_some());
        let state = state.reduce(answer(2, Response::Cancelled));
        assert!(state.busy.is_none());
    }

    #[test]
    fn a_stopped_worker_ends_the_job_keeps_what_is_shown_and_runs_nothing_more() {
        let data = labelplan_core::Dataset::from_matrix("a.npy", vec![1.0, 0.0], 1, 2);
        let loaded = Response::Loaded {
            summary: Summary::new(&data, &[1.0]),
            norms_on: "CPU".into(),
            parse_seconds: 0.1,
        };
        let state = Rc::new(AppState::default())
            .reduce(Action::Response(Tagged { id: 0, body: loaded }))
            .reduce(Action::Started(1, "Loading b.parquet".into()))
            .reduce(Action::WorkerStopped("panicked at parquet".into()));
        assert!(state.busy.is_none() && state.worker_stopped);
        assert_eq!(state.summary.as_ref().map(|l| l.summary.rows), Some(1), "a.npy's summary stays");
        let message = &state.error.as_ref().expect("a message").message;
        assert!(message.contains("while loading b.parquet (panicked at parquet)"), "{message}");
        assert!(message.contains("Reload the page"), "{message}");
        let state = state.reduce(Action::Started(2, "Planning".into()));
        assert!(state.busy.is_none() && state.error.is_some(), "nothing starts on a stopped worker");
    }

    #[test]
    fn a_setting_the_engine_refused_stays_until_the_form_changes() {
        let refused = Failure {
            message: "Balance: no column \"site\"".into(),
            non_finite_rows: None,
            setting: Some("balance".into()),
        };
        let state = Rc::new(AppState::default()).reduce(Action::Started(1, "Planning".into()));
        let state = state.reduce(Action::Response(Tagged { id: 1, body: Response::Failed(refused) }));
        assert!(state.busy.is_none());
        assert_eq!(state.error.as_ref().and_then(|f| f.setting.as_deref()), Some("balance"));
        let edited = state.plan_form.with("balance", "region=a:1".into());
        assert!(state.reduce(Action::PlanForm(edited)).error.is_none());
    }
}
