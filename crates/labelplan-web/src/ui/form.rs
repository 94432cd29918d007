//! The plan form's state: the text of every setting as the user typed it, read through
//! core's fields (`labelplan_core::settings`), so the form refuses what the CLI refuses,
//! with the page's words, and the link in the address bar reproduces the form.

use labelplan_core::plan::Settings;
use labelplan_core::settings::{decode_query, encode_query, SettingError, FIELDS};
use labelplan_run::BackendPolicy;

/// Every setting's text, in [`FIELDS`] order, and where plans run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanForm {
    texts: Vec<String>,
    /// Where plans run: the CLI's `--backend`, the link's `backend=` (left out for auto).
    pub backend: BackendPolicy,
}

/// The link's key for [`PlanForm::backend`], as the CLI's flag.
const BACKEND_KEY: &str = "backend";

impl Default for PlanForm {
    fn default() -> Self {
        PlanForm::from_settings(&Settings::default())
    }
}

/// Position of `key` in [`FIELDS`].
fn index(key: &str) -> usize {
    FIELDS.iter().position(|f| f.key == key).unwrap_or_else(|| panic!("no setting {key:?}"))
}

impl PlanForm {
    /// The form showing `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        PlanForm { texts: FIELDS.iter().map(|f| (f.get)(settings)).collect(), backend: BackendPolicy::Auto }
    }

    /// The same form running plans on `backend`.
    pub fn with_backend(&self, backend: BackendPolicy) -> Self {
        PlanForm { backend, ..self.clone() }
    }

    /// The text of setting `key`.
    pub fn text(&self, key: &str) -> &str {
        &self.texts[index(key)]
    }

    /// The same form with `text` for setting `key`.
    pub fn with(&self, key: &str, text: String) -> Self {
        let mut form = self.clone();
        form.texts[index(key)] = text;
        form
    }

    /// Why the text of setting `key` is refused, if it is.
    pub fn error(&self, key: &str) -> Option<String> {
        let i = index(key);
        (FIELDS[i].set)(&mut Settings::default(), &self.texts[i]).err()
    }

    /// The settings, or every refused field.
    pub fn settings(&self) -> Result<Settings, Vec<SettingError>> {
        let mut settings = Settings::default();
        let errors: Vec<SettingError> = FIELDS
            .iter()
            .zip(&self.texts)
            .filter_map(|(f, text)| {
                (f.set)(&mut settings, text).err().map(|message| SettingError { key: f.key, message })
            })
            .collect();
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }

    /// The link's hash: every setting whose text differs from its default's, and the
    /// backend unless it is auto.
    pub fn to_hash(&self) -> String {
        let defaults = PlanForm::default();
        let backend = (self.backend != BackendPolicy::Auto).then_some((BACKEND_KEY, self.backend.key()));
        encode_query(
            FIELDS
                .iter()
                .zip(self.texts.iter().zip(&defaults.texts))
                .filter(|(_, (text, default))| text != default)
                .map(|(f, (text, _))| (f.key, text.as_str()))
                .chain(backend),
        )
    }

    /// The form a link's hash describes (defaults for the settings it leaves out), and
    /// what in it was left out: keys that are no setting, a backend that is none.
    pub fn from_hash(hash: &str) -> (PlanForm, Vec<String>) {
        let mut form = PlanForm::default();
        let mut unknown = Vec::new();
        for (key, text) in decode_query(hash) {
            match FIELDS.iter().position(|f| f.key == key) {
                Some(i) => form.texts[i] = text,
                None if key == BACKEND_KEY => match text.parse() {
                    Ok(backend) => form.backend = backend,
                    Err(why) => unknown.push(format!("{BACKEND_KEY} ({why})")),
                },
                // Quoted: a key may be empty, or anything at all.
                None => unknown.push(format!("{key:?}")),
            }
        }
        (form, unknown)
    }
}

/// The refusals as one message for the error panel, in the page's words.
pub fn refusal(errors: &[SettingError]) -> String {
    let lines: Vec<String> = errors.iter().map(SettingError::to_string).collect();
    format!("Not planned — fix these settings first: {}", lines.join("; "))
}

#[cfg(test)]
mod tests {
    use labelplan_core::plan::{Budget, Method};

    use super::*;

    #[test]
    fn the_default_form_gives_the_default_settings_and_an_empty_link() {
        let form = PlanForm::default();
        assert_eq!(form.settings(), Ok(Settings::default()));
        assert_eq!(form.to_hash(), "");
        assert_eq!(form.text("budget"), "5%");
        assert!(FIELDS.iter().all(|f| form.error(f.key).is_none()));
    }

    #[test]
    fn typed_settings_reach_the_engine_and_survive_the_link() {
        let form = PlanForm::default()
            .with("method", "elfs".into())
            .with("budget", "2%, 300".into())
            .with("balance", "site=a:2,b:1".into())
            .with("cost-per-label", "0.25".into());
        let settings = form.settings().expect("valid");
        assert_eq!(settings.method, Method::Elfs);
        assert_eq!(settings.budgets, vec![Budget::Percent(2.0), Budget::Count(300)]);
        assert_eq!(settings.cost_per_label, 0.25);
        let hash = form.to_hash();
        assert_eq!(PlanForm::from_hash(&format!("#{hash}")), (form, Vec::new()), "{hash}");
    }

    #[test]
    fn refused_text_stays_in_the_form_and_names_each_field_in_the_pages_words() {
        let form = PlanForm::default().with("budget", "5%, five".into()).with("epochs", "0".into());
        assert!(form.error("budget").expect("refused").contains("budget \"five\""));
        let errors = form.settings().expect_err("two refusals");
        assert_eq!(errors.iter().map(|e| e.key).collect::<Vec<_>>(), ["budget", "epochs"]);
        let message = refusal(&errors);
        assert!(message.contains("Budgets: budget \"five\": expected a count"), "{message}");
        assert!(message.contains("Epochs: \"0\": expected a whole number ≥ 1"), "{message}");
        // A link keeps the refused text as typed, so the form it opens shows the same.
        let (back, unknown) = PlanForm::from_hash(&form.to_hash());
        assert_eq!(back.text("budget"), "5%, five");
        assert!(unknown.is_empty());
        assert_eq!(PlanForm::from_hash("seed=4&colour=red").1, ["\"colour\""]);
    }

    #[test]
    fn the_backend_rides_in_the_link_unless_it_is_auto() {
        let form = PlanForm::default().with("seed", "4".into()).with_backend(BackendPolicy::Gpu);
        assert_eq!(form.to_hash(), "seed=4&backend=gpu");
        assert_eq!(PlanForm::from_hash("seed=4&backend=gpu"), (form.clone(), Vec::new()));
        assert_eq!(form.with_backend(BackendPolicy::Auto).to_hash(), "seed=4");
        let (back, unknown) = PlanForm::from_hash("backend=tpu");
        assert_eq!(back.backend, BackendPolicy::Auto, "an unknown backend leaves auto");
        assert_eq!(unknown, ["backend (expected auto, gpu or cpu, got \"tpu\")"]);
    }
}
