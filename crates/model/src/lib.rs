//! The engagement model as data.
//!
//! Owns: reading Jekyll-style pages (front matter + markdown), turning them
//! into a typed [`Model`] of stages, steps, decision points and their options,
//! and linting them. Also ships the bundled default model and a generator of
//! synthetic page sets for benchmarks.
//!
//! Must not touch: engagements, storage, HTTP or HTML. Reading files is the
//! only IO here, and it lives in [`source`].

pub mod build;
pub mod classify;
pub mod diagnostic;
pub mod diff;
pub mod lint;
pub mod markdown;
pub mod model;
pub mod outline;
pub mod page;
pub mod par;
pub mod source;
pub mod synth;
pub mod tailoring;
pub mod text;

pub use build::{Loaded, SourceFile, build};
pub use diagnostic::{Code, Finding, Severity};
pub use lint::{Linting, lint, lint_each, load_for_lint};
pub use model::*;
pub use source::{SourceError, bundled, read_paths};
pub use tailoring::{
    AgencyType, Level, Placement, Questionnaire, Relevance, Tailoring, Unanswered,
};
