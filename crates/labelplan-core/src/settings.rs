//! Each setting of a plan, once: its key, what the page calls it, a line of help, how it
//! is printed and parsed, and the range it must lie in. The CLI's flags (`--<key>`), the
//! page's form and the URL hash (`#<key>=<value>&…`, defaults left out) all go through
//! [`FIELDS`], so a value means the same and is refused with the same words everywhere.

use std::fmt;
use std::str::FromStr;

use crate::plan::{Balance, HeadKind, Settings};

/// A setting refused: which one (its [`Field::key`]) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The field's key (the CLI flag without `--`).
    pub key: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

impl SettingError {
    /// The field's name as the page shows it.
    pub fn label(&self) -> &'static str {
        field(self.key).map_or(self.key, |f| f.label)
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label(), self.message)
    }
}

/// One setting.
pub struct Field {
    /// Key in the URL hash; the CLI flag is `--<key>`.
    pub key: &'static str,
    /// What the page calls it.
    pub label: &'static str,
    /// One line of help (the default is shown beside it, printed by `get`).
    pub help: &'static str,
    /// The value as text that `set` reads back; "" for an unset optional value.
    pub get: fn(&Settings) -> String,
    /// Reads the value from text into the settings, refusing it out of range.
    pub set: fn(&mut Settings, &str) -> Result<(), String>,
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key)
    }
}

/// The field with this key.
pub fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

/// Every setting, in the order the page and `--help` show them.
pub static FIELDS: [Field; 25] = [
    Field {
        key: "method",
        label: "Method",
        help: "how items are picked (see each method's line)",
        get: |s| s.method.name().into(),
        set: |s, v| { s.method = v.trim().parse()?; Ok(()) },
    },
    Field {
        key: "budget",
        label: "Budgets",
        help: "counts (500) or percentages of the pool (5%), comma-separated; the first is exported",
        get: |s| list(&s.budgets),
        set: |s, v| {
            let budgets = parse_list(v)?;
            if budgets.is_empty() {
                return Err("give at least one budget, e.g. 5%".into());
            }
            s.budgets = budgets;
            Ok(())
        },
    },
    Field {
        key: "curve",
        label: "Curve budgets",
        help: "budgets the budget curve is drawn at, comma-separated (empty: no curve)",
        get: |s| list(&s.curve),
        set: |s, v| { s.curve = parse_list(v)?; Ok(()) },
    },
    Field {
        key: "cost-per-label",
        label: "Cost per label",
        help: "money per label, for the cost estimate",
        get: |s| s.cost_per_label.to_string(),
        set: |s, v| { s.cost_per_label = number(v, |x| x >= 0.0, "a number ≥ 0")?; Ok(()) },
    },
    Field {
        key: "labels-per-hour",
        label: "Labels per hour",
        help: "labels the team makes in an hour, for the time estimate",
        get: |s| s.labels_per_hour.to_string(),
        set: |s, v| { s.labels_per_hour = number(v, |x| x > 0.0, "a number above 0")?; Ok(()) },
    },
    Field {
        key: "gain-threshold",
        label: "Gain threshold",
        help: "recommend the budget where one more percent of the pool adds less than this many points",
        get: |s| s.gain_threshold.to_string(),
        set: |s, v| { s.gain_threshold = number(v, |x| x >= 0.0, "a number of points ≥ 0")?; Ok(()) },
    },
    Field {
        key: "target-share",
        label: "Target share",
        help: "also show the budget that reaches this share (%) of what labeling the whole pool would give",
        get: |s| s.target_share.to_string(),
        set: |s, v| {
            s.target_share = number(v, |x| x > 0.0 && x <= 100.0, "a percentage above 0 and at most 100")?;
            Ok(())
        },
    },
    Field {
        key: "seed",
        label: "Seed",
        help: "seed of every random choice (the same seed gives the same plan)",
        get: |s| s.seed.to_string(),
        set: |s, v| { s.seed = v.trim().parse().map_err(|_| "a whole number ≥ 0".to_string())?; Ok(()) },
    },
    Field {
        key: "clusters",
        label: "Clusters (K)",
        help: "pseudo-label clusters; empty: chosen by silhouette over the K range",
        get: |s| s.clusters.map_or(String::new(), |k| k.to_string()),
        set: |s, v| { s.clusters = optional(v, |t| count(t, 1))?; Ok(()) },
    },
    Field {
        key: "cluster-range",
        label: "K range",
        help: "range searched for K, as LO-HI",
        get: |s| format!("{}-{}", s.cluster_range.0, s.cluster_range.1),
        set: |s, v| {
            let bad = || format!("{v:?}: expected LO-HI, e.g. 4-20");
            let (lo, hi) = v.split_once('-').ok_or_else(bad)?;
            let (lo, hi) = (count(lo, 1).map_err(|_| bad())?, count(hi, 1).map_err(|_| bad())?);
            if lo > hi {
                return Err(format!("{v:?}: LO must be at most HI"));
            }
            s.cluster_range = (lo, hi);
            Ok(())
        },
    },
    Field {
        key: "task-classes",
        label: "Classes to label",
        help: "classes your labelers will assign (2 for spam or not): the quality estimate learns a task with that many; empty: as many as the clusters",
        get: |s| s.task_classes.map_or(String::new(), |k| k.to_string()),
        set: |s, v| { s.task_classes = optional(v, |t| count(t, 2))?; Ok(()) },
    },
    Field {
        key: "head",
        label: "Proxy head",
        help: "model trained on pseudo-labels for the training dynamics: linear or mlp",
        get: |s| s.head.name().into(),
        set: |s, v| { s.head = v.trim().parse()?; Ok(()) },
    },
    Field {
        key: "epochs",
        label: "Epochs",
        help: "proxy training epochs",
        get: |s| s.epochs.to_string(),
        set: |s, v| { s.epochs = count(v, 1)?; Ok(()) },
    },
    Field {
        key: "learning-rate",
        label: "Learning rate",
        help: "SGD step size of the proxy head; empty: linear 5, mlp 0.1",
        get: |s| s.learning_rate.map_or(String::new(), |r| r.to_string()),
        set: |s, v| { s.learning_rate = optional(v, |t| number(t, |x| x > 0.0, "a number above 0"))?; Ok(()) },
    },
    Field {
        key: "folds",
        label: "Folds",
        help: "each item is scored by heads that did not train on it (1: no folds)",
        get: |s| s.folds.to_string(),
        set: |s, v| { s.folds = count(v, 1)?; Ok(()) },
    },
    Field {
        key: "noise",
        label: "Input noise",
        help: "noise added to the unit-norm embeddings during proxy training",
        get: |s| s.noise_std.to_string(),
        set: |s, v| { s.noise_std = number(v, |x| x >= 0.0, "a number ≥ 0")?; Ok(()) },
    },
    Field {
        key: "score",
        label: "Difficulty score",
        help: "what CCS and D2 rank by: aum, el2n, forgetting, entropy or centroid-distance",
        get: |s| s.score.name().into(),
        set: |s, v| { s.score = v.trim().parse()?; Ok(()) },
    },
    Field {
        key: "beta",
        label: "Hard cutoff β",
        help: "share of the hardest items ELFS and CCS drop; empty: searched without labels",
        get: |s| s.beta.map_or(String::new(), |b| b.to_string()),
        set: |s, v| {
            { s.beta = optional(v, |t| number(t, |x| (0.0..1.0).contains(&x), "at least 0 and below 1"))?; Ok(()) }
        },
    },
    Field {
        key: "labeled-column",
        label: "Already-labeled column",
        help: "metadata column whose non-empty, non-0/false/no values mark labeled items: never picked, they cover their neighbourhood",
        get: |s| s.labeled_column.clone().unwrap_or_default(),
        set: |s, v| { s.labeled_column = optional(v, |t| Ok(t.to_string()))?; Ok(()) },
    },
    Field {
        key: "balance",
        label: "Balance by column",
        help: "COLUMN (equal shares of its values) or COLUMN=value:ratio,value:ratio",
        get: |s| s.balance.as_ref().map_or(String::new(), Balance::to_string),
        set: |s, v| { s.balance = optional(v, str::parse)?; Ok(()) },
    },
    Field {
        key: "dedup",
        label: "Near-duplicate threshold",
        help: "two items at or above this cosine similarity are never both picked (exact duplicates never are)",
        get: |s| s.dedup_threshold.map_or(String::new(), |t| t.to_string()),
        set: |s, v| {
            s.dedup_threshold =
                optional(v, |t| number(t, |x| x > 0.0 && x <= 1.0, "a cosine similarity above 0 and at most 1"))?;
            Ok(())
        },
    },
    Field {
        key: "cost-column",
        label: "Cost column",
        help: "metadata column with each item's labeling cost; budgets are then in cost units",
        get: |s| s.cost_column.clone().unwrap_or_default(),
        set: |s, v| { s.cost_column = optional(v, |t| Ok(t.to_string()))?; Ok(()) },
    },
    Field {
        key: "coverage-delta",
        label: "Coverage distance",
        help: "cosine distance within which an item counts as covered by a pick",
        get: |s| s.coverage_delta.to_string(),
        set: |s, v| { s.coverage_delta = number(v, |x| x > 0.0 && x <= 2.0, "a cosine distance above 0 and at most 2")?; Ok(()) },
    },
    Field {
        key: "cluster-hits",
        label: "Picks per cluster hit",
        help: "picks a cluster needs to count as hit",
        get: |s| s.cluster_hits.to_string(),
        set: |s, v| { s.cluster_hits = count(v, 1)?; Ok(()) },
    },
    Field {
        key: "storage",
        label: "Vector storage",
        help: "f32, or f16: half the GPU memory, picks may differ slightly",
        get: |s| s.storage.name().into(),
        set: |s, v| { s.storage = v.trim().parse()?; Ok(()) },
    },
];

impl Settings {
    /// Refuses settings out of range (the engine runs this first, whoever made them).
    pub fn validate(&self) -> Result<(), SettingError> {
        let mut scratch = Settings::default();
        for f in &FIELDS {
            (f.set)(&mut scratch, &(f.get)(self)).map_err(|message| SettingError { key: f.key, message })?;
        }
        Ok(())
    }

    /// The settings that differ from the defaults, as `key=value&…` (URL-encoded): what a
    /// link's hash holds.
    pub fn to_query(&self) -> String {
        let defaults = Settings::default();
        let changed: Vec<(&str, String)> = FIELDS
            .iter()
            .filter_map(|f| {
                let value = (f.get)(self);
                (value != (f.get)(&defaults)).then_some((f.key, value))
            })
            .collect();
        encode_query(changed.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// Settings from a [`Settings::to_query`] string: defaults for every key not given.
    /// An unknown key or a refused value is an error naming it.
    pub fn from_query(query: &str) -> Result<Settings, SettingError> {
        let mut settings = Settings::default();
        for (key, value) in decode_query(query) {
            let Some(f) = field(&key) else {
                return Err(SettingError { key: "link", message: format!("unknown setting {key:?}") });
            };
            (f.set)(&mut settings, &value).map_err(|message| SettingError { key: f.key, message })?;
        }
        Ok(settings)
    }
}

/// `key=value&…`, URL-encoded.
pub fn encode_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The pairs of a `key=value&…` string (a leading `#` or `?` skipped), decoded.
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches(['#', '?']).as_bytes()).into_owned().collect()
}

/// `items` printed and comma-separated.
fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

/// A comma-separated list (empty text: none).
fn parse_list<T: FromStr<Err = String>>(v: &str) -> Result<Vec<T>, String> {
    v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::parse).collect()
}

/// A whole number of at least `min`.
fn count(v: &str, min: usize) -> Result<usize, String> {
    match v.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("{:?}: expected a whole number ≥ {min}", v.trim())),
    }
}

/// A finite number for which `ok` holds (`expected` says what that is).
fn number<T: FromStr + Into<f64> + Copy>(
    v: &str,
    ok: impl Fn(f64) -> bool,
    expected: &str,
) -> Result<T, String> {
    match v.trim().parse::<T>() {
        Ok(x) if x.into().is_finite() && ok(x.into()) => Ok(x),
        _ => Err(format!("{:?}: expected {expected}", v.trim())),
    }
}

/// Empty text is `None`; anything else goes through `parse`.
fn optional<T>(v: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    let t = v.trim();
    if t.is_empty() {
        Ok(None)
    } else {
        parse(t).map(Some)
    }
}

impl HeadKind {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Linear => "linear",
            HeadKind::Mlp => "mlp",
        }
    }
}

impl FromStr for HeadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [HeadKind::Linear, HeadKind::Mlp]
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| format!("unknown head {s:?}; expected linear or mlp"))
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.column)?;
        for (i, (value, ratio)) in self.ratios.iter().enumerate() {
            write!(f, "{}{value}:{ratio}", if i == 0 { '=' } else { ',' })?;
        }
        Ok(())
    }
}

impl FromStr for Balance {
    type Err = String;
    /// `COLUMN` or `COLUMN=value:ratio,value:ratio` (ratios ≥ 0).
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((column, spec)) = s.split_once('=') else {
            return Ok(Balance { column: s.trim().to_string(), ratios: Vec::new() });
        };
        let ratios = spec
            .split(',')
            .map(|part| {
                let (v, r) =
                    part.rsplit_once(':').ok_or_else(|| format!("{part:?}: expected value:ratio"))?;
                match r.trim().parse::<f64>() {
                    Ok(r) if r.is_finite() && r >= 0.0 => Ok((v.to_string(), r)),
                    _ => Err(format!("{part:?}: the ratio must be a number ≥ 0")),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Balance { column: column.trim().to_string(), ratios })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Budget, Method, ScoreKind, Storage};

    /// Settings with every field away from its default.
    fn everything_set() -> Settings {
        Settings {
            method: Method::Ccs,
            budgets: vec![Budget::Percent(2.5), Budget::Count(300)],
            seed: 7,
            clusters: Some(12),
            cluster_range: (3, 9),
            task_classes: Some(2),
            head: HeadKind::Mlp,
            epochs: 8,
            learning_rate: Some(0.25),
            folds: 3,
            noise_std: 0.05,
            score: ScoreKind::El2n,
            beta: Some(0.1),
            labeled_column: Some("done".into()),
            balance: Some(Balance {
                column: "site".into(),
                ratios: vec![("a b".into(), 2.0), ("c&d".into(), 1.0)],
            }),
            dedup_threshold: Some(0.95),
            cost_column: Some("cost".into()),
            cost_per_label: 0.3,
            labels_per_hour: 120.0,
            gain_threshold: 0.25,
            target_share: 90.0,
            coverage_delta: 0.2,
            cluster_hits: 2,
            curve: vec![Budget::Percent(1.0), Budget::Count(50)],
            storage: Storage::F16,
        }
    }

    #[test]
    fn every_field_round_trips_through_text_and_the_link() {
        let s = everything_set();
        for f in &FIELDS {
            let mut back = Settings::default();
            (f.set)(&mut back, &(f.get)(&s)).unwrap_or_else(|e| panic!("{}: {e}", f.key));
            assert_eq!((f.get)(&back), (f.get)(&s), "{}", f.key);
            assert_ne!((f.get)(&s), (f.get)(&Settings::default()), "{}: the test sets it", f.key);
        }
        let query = s.to_query();
        assert_eq!(Settings::from_query(&query), Ok(s.clone()), "{query}");
        assert_eq!(Settings::from_query(&format!("#{query}")), Ok(s), "a hash's # is skipped");
        assert_eq!(query.matches('&').count() + 1, FIELDS.len(), "every changed field in the link");
    }

    #[test]
    fn defaults_make_an_empty_link_and_an_empty_link_the_defaults() {
        assert_eq!(Settings::default().to_query(), "");
        assert_eq!(Settings::from_query(""), Ok(Settings::default()));
        let s = Settings { seed: 3, ..Settings::default() };
        assert_eq!(s.to_query(), "seed=3");
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        for (query, key, words) in [
            ("epochs=0", "epochs", "whole number ≥ 1"),
            ("budget=", "budget", "at least one budget"),
            ("budget=5%25,0", "budget", "must be at least 1"),
            ("beta=1", "beta", "below 1"),
            ("dedup=1.5", "dedup", "at most 1"),
            ("cluster-range=9-3", "cluster-range", "LO must be at most HI"),
            ("method=elf", "method", "expected one of coverage"),
            ("labels-per-hour=0", "labels-per-hour", "above 0"),
            ("noise=NaN", "noise", "a number ≥ 0"),
            ("balance=site%3Da%3Ax", "balance", "ratio must be a number"),
            ("storage=f8", "storage", "f32 or f16"),
            ("task-classes=1", "task-classes", "whole number ≥ 2"),
            ("colour=red", "link", "unknown setting \"colour\""),
        ] {
            let err = Settings::from_query(query).expect_err(query);
            assert_eq!(err.key, key, "{query}");
            assert!(err.message.contains(words), "{query}: {}", err.message);
        }
        let err = Settings::from_query("gain-threshold=-1").expect_err("negative");
        assert_eq!(err.to_string(), "Gain threshold: \"-1\": expected a number of points ≥ 0");
    }

    #[test]
    fn validate_refuses_what_the_form_would_refuse() {
        let bad = Settings { folds: 0, ..Settings::default() };
        assert_eq!(bad.validate().expect_err("folds 0").key, "folds");
        let bad = Settings { budgets: Vec::new(), ..Settings::default() };
        assert_eq!(bad.validate().expect_err("no budget").key, "budget");
        let bad = Settings { learning_rate: Some(f32::INFINITY), ..Settings::default() };
        assert_eq!(bad.validate().expect_err("inf").label(), "Learning rate");
        assert!(everything_set().validate().is_ok());
    }
}
