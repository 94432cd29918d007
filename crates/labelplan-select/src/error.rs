//! The one error type of labelplan-select.

use labelplan_core::BackendError;

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A setting is out of range or contradicts the data.
    #[error("setting {setting}: {message}")]
    Setting {
        /// Setting name as on the command line.
        setting: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A named metadata column is missing.
    #[error("setting {setting}: no column {column:?}; the input has {}", if available.is_empty() { "no metadata columns".to_string() } else { format!("columns {}", available.join(", ")) })]
    UnknownColumn {
        /// Setting that named it.
        setting: String,
        /// Name given.
        column: String,
        /// Columns that exist.
        available: Vec<String>,
    },
    /// A value of the cost column is not a non-negative number.
    #[error("cost column {column:?}, row {row}: expected a number ≥ 0, found {found:?}")]
    BadCost {
        /// Column.
        column: String,
        /// 0-based row.
        row: usize,
        /// Text found.
        found: String,
    },
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, SelectError>;

impl SelectError {
    pub(crate) fn setting(setting: &str, message: impl Into<String>) -> Self {
        SelectError::Setting { setting: setting.into(), message: message.into() }
    }
}
