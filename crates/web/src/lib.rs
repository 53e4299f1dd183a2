//! Waymark's web layer.
//!
//! Owns: turning the model into the guidance site (one renderer for the static
//! export and the live server) and serving it over HTTP.
//!
//! Must not touch: parsing pages (that is `waymark-model`) or the engagement
//! rules. It translates; it decides nothing about the model.

pub mod api;
pub mod server;
pub mod site;
