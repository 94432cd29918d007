//! labelplan-select: label-free coreset selection and the budget planner, written once
//! against [`labelplan_core::Backend`].
//!
//! A run ([`Engine::run`]) normalises the embeddings, makes pseudo-label clusters
//! (spherical k-means, K chosen by silhouette unless set), trains proxy heads on them
//! when a method needs training dynamics, turns the chosen method's ranking into picks
//! for every budget through the constraint walk, and measures each budget: coverage, a
//! label-free quality estimate, a fitted curve and a recommended budget.

pub mod constraints;
pub mod context;
pub mod dynamics;
pub mod engine;
pub mod error;
pub mod estimate;
pub mod greedy;
pub mod ivf;
pub mod kmeans;
pub mod map;
pub mod methods;
pub mod nearest;
pub mod planner;
pub mod probe;
pub mod rng;

pub use context::{Progress, Scale};
pub use engine::Engine;
pub use error::{Result, SelectError};
