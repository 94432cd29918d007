//! The exports of a plan, a stable contract for scripts: `plan.json` (manifest, settings,
//! curves, picks per budget), `ranked.csv`, `selected_ids.txt` and Label Studio tasks.
//! The first requested budget is the one exported as ids and tasks.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::dataset::Dataset;
use crate::plan::Plan;

/// The id of a row: the dataset's id, or the 0-based row number when it has none.
fn id(data: &Dataset, row: u32) -> String {
    data.ids.as_ref().map_or_else(|| row.to_string(), |ids| ids[row as usize].clone())
}

/// One export of a plan: what the CLI writes into its output folder and the page offers
/// as a download, from the same writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Export {
    /// `plan.json`.
    PlanJson,
    /// `ranked.csv`.
    RankedCsv,
    /// `selected_ids.txt`.
    SelectedIds,
    /// `labelstudio.json`.
    LabelStudio,
}

impl Export {
    /// Every export.
    pub const ALL: [Export; 4] =
        [Export::PlanJson, Export::RankedCsv, Export::SelectedIds, Export::LabelStudio];

    /// The file's name.
    pub fn file_name(self) -> &'static str {
        match self {
            Export::PlanJson => "plan.json",
            Export::RankedCsv => "ranked.csv",
            Export::SelectedIds => "selected_ids.txt",
            Export::LabelStudio => "labelstudio.json",
        }
    }

    /// The file's media type.
    pub fn mime(self) -> &'static str {
        match self {
            Export::PlanJson | Export::LabelStudio => "application/json",
            Export::RankedCsv => "text/csv",
            Export::SelectedIds => "text/plain",
        }
    }

    /// The file's text for `plan` of `data`.
    pub fn write(self, plan: &Plan, data: &Dataset) -> String {
        match self {
            Export::PlanJson => plan_json(plan),
            Export::RankedCsv => ranked_csv(plan, data),
            Export::SelectedIds => selected_ids(plan, data),
            Export::LabelStudio => label_studio(plan, data),
        }
    }
}

/// What the shares mean, for every place that shows them.
pub const SHARE_MEANING: &str = "Shares are of the reachable quality: a label-free estimate relative to \
labeling the whole pool (a probe trained on the picks, scored on pseudo-labels), not accuracy.";

/// The plan's two readings of its curve, as sentences: the knee (the recommendation) and
/// the budget that reaches the target share; or why there is no recommendation.
pub fn readings(plan: &Plan) -> Vec<String> {
    let s = &plan.manifest.settings;
    let Some(r) = &plan.recommended else {
        return vec!["No recommended budget: the estimate does not rise along the curve.".into()];
    };
    let mut out = vec![format!(
        "Recommended: {} items ({:.1}% of the pool), where one more percent adds under {} points of the \
         estimate: {:.1}% of the reachable quality, {:.2} in cost and {:.1} hours of labeling.",
        r.count, r.percent, s.gain_threshold, r.share, r.cost, r.hours
    )];
    if let Some(t) = &plan.reaches {
        out.push(format!(
            "{}% of the reachable quality: {} items ({:.1}% of the pool), {:.2} in cost and {:.1} hours.",
            s.target_share, t.count, t.percent, t.cost, t.hours
        ));
    }
    out
}

/// The true knee over the recommended budget, lowest and highest, as `cargo xtask quality`
/// measured them on the suite's six labelled sets (docs/quality.md, 2026-12-03): with the
/// class count given (names 0.68, sotu 0.97) and without it (names 0.26, fashion 1.12).
/// The harness flags a set that falls outside, so the stated range cannot go stale silently.
pub const KNEE_OVER_RECOMMENDED: KneeRange = KneeRange { given: (0.67, 0.98), not_given: (0.25, 1.13) };

/// Where the true knee lay against the recommendation on labelled data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KneeRange {
    /// With the task's class count given (`--task-classes`).
    pub given: (f64, f64),
    /// Without it (the estimate learns the pseudo-label clusters' K).
    pub not_given: (f64, f64),
}

/// Which task the estimate learned (the team's class count, or the clusters' K with a hint
/// to give the class count), and where the true knee lay against such a recommendation on
/// the labelled suite ([`KNEE_OVER_RECOMMENDED`]), in items: a team then knows how far
/// the one number may be off before it spends on it.
pub fn estimate_note(plan: &Plan) -> String {
    let given = plan.manifest.settings.task_classes;
    let task = match given {
        Some(c) => format!("Estimated for a labeling task of {c} classes (as set)."),
        None => format!(
            "Estimated for a labeling task of {} classes (the pseudo-label clusters): give the number of \
             classes your labelers will assign (Classes to label, --task-classes) for a recommendation that \
             follows your task.",
            plan.clustering.k
        ),
    };
    let Some(r) = &plan.recommended else { return task };
    let ((low, high), earliest) = match given {
        Some(_) => (KNEE_OVER_RECOMMENDED.given, "where the labels follow the data's clusters only in part"),
        None => {
            (KNEE_OVER_RECOMMENDED.not_given, "where the task has fewer classes than the data has clusters")
        }
    };
    let items = |factor: f64| ((r.count as f64 * factor).round() as usize).max(1);
    format!(
        "{task} On six labelled data sets the knee of true accuracy lay at {low}–{high}× such a recommendation \
         (earliest {earliest}): here {}–{} items.",
        items(low),
        items(high)
    )
}

/// The share column of a budget: "96.1%", or "–" without a fitted curve.
pub fn share_text(share: Option<f64>) -> String {
    share.map_or("–".into(), |v| format!("{v:.1}%"))
}

/// A Markdown summary of the plan for a planning document: what was planned, one table
/// row per budget, the two readings of the curve, and how to reproduce it.
pub fn summary_markdown(plan: &Plan) -> String {
    let m = &plan.manifest;
    let mut out = format!(
        "**Labeling plan for {}** ({} items, {} already labeled; method {}, {} pseudo-label clusters)\n\n",
        m.input.name, plan.pool, plan.labeled, m.settings.method, plan.clustering.k
    );
    out.push_str("| Budget | Items | Cost | Hours | Share of reachable quality (est.) | Covered |\n|---|---|---|---|---|---|\n");
    for b in &plan.budgets {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.1} | {} | {:.1}% |\n",
            b.budget,
            b.count,
            b.cost,
            b.hours,
            share_text(b.share),
            b.coverage.within_delta * 100.0
        ));
    }
    out.push('\n');
    for line in readings(plan) {
        out.push_str(&format!("{line}\n"));
    }
    out.push_str(&format!(
        "\n{} {SHARE_MEANING} Input SHA-256 `{}`; labelplan {}.\n",
        estimate_note(plan),
        m.input.sha256,
        m.version
    ));
    out
}

/// `plan.json`: the whole plan, pretty-printed, ending in a newline. Deterministic: the
/// same plan gives the same bytes.
pub fn plan_json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan serialises");
    s.push('\n');
    s
}

/// A text cell of the user's (an id, a metadata value or column name) made safe to open
/// in a spreadsheet: one that starts like a formula (`=`, `+`, `-`, `@`, a tab or a
/// carriage return) gets a leading `'`, which spreadsheets show as text (OWASP's rule
/// against CSV injection). Numbers such as `-0.5` are left as they are.
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let formula_like = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula_like && text.trim().parse::<f64>().is_err() {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// `ranked.csv`: header `rank,row,id,cluster,score,in_<budget>…,<metadata>…`, one line
/// per ranked row (1-based rank, 0-based input row). Ids and metadata pass through
/// [`spreadsheet_safe`].
pub fn ranked_csv(plan: &Plan, data: &Dataset) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["rank", "row", "id", "cluster", "score"].map(String::from).to_vec();
    header.extend(plan.budgets.iter().map(|b| format!("in_{}", b.budget)));
    header.extend(data.columns.iter().map(|c| spreadsheet_safe(&c.name).into_owned()));
    w.write_record(&header).expect("writing to memory");
    let member: Vec<Vec<bool>> = plan
        .budgets
        .iter()
        .map(|b| {
            let mut m = vec![false; data.rows];
            b.rows.iter().for_each(|&r| m[r as usize] = true);
            m
        })
        .collect();
    for (rank, &row) in plan.ranked.iter().enumerate() {
        let r = row as usize;
        let mut rec = vec![
            (rank + 1).to_string(),
            row.to_string(),
            spreadsheet_safe(&id(data, row)).into_owned(),
            plan.cluster[r].to_string(),
            plan.score.as_ref().map_or_else(String::new, |s| s[r].to_string()),
        ];
        rec.extend(member.iter().map(|m| if m[r] { "1" } else { "0" }.to_string()));
        rec.extend(data.columns.iter().map(|c| spreadsheet_safe(&c.values[r]).into_owned()));
        w.write_record(&rec).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing to memory")).expect("CSV of UTF-8 fields")
}

/// `selected_ids.txt`: the ids of the first budget's picks in rank order, one per line.
pub fn selected_ids(plan: &Plan, data: &Dataset) -> String {
    let rows = plan.budgets.first().map_or(&[][..], |b| &b.rows[..]);
    rows.iter().map(|&r| id(data, r) + "\n").collect()
}

/// Label Studio tasks for the first budget's picks: `data` carries the row, id, rank and
/// every metadata column; `predictions[0].score` falls with the rank (1 for the first
/// pick), so sorting tasks by prediction score gives the labeling order.
pub fn label_studio(plan: &Plan, data: &Dataset) -> String {
    let rows = plan.budgets.first().map_or(&[][..], |b| &b.rows[..]);
    let model = format!("labelplan {} {}", plan.manifest.version, plan.manifest.settings.method);
    let tasks: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(rank, &row)| {
            let mut fields = Map::new();
            fields.insert("labelplan_row".into(), json!(row));
            fields.insert("labelplan_id".into(), json!(id(data, row)));
            fields.insert("labelplan_rank".into(), json!(rank + 1));
            for c in &data.columns {
                fields.insert(c.name.clone(), json!(c.values[row as usize]));
            }
            let score = 1.0 - rank as f64 / rows.len() as f64;
            json!({ "data": fields, "predictions": [{ "model_version": model, "score": score, "result": [] }] })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&tasks).expect("tasks serialise");
    s.push('\n');
    s
}
