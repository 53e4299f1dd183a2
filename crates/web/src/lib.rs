//! Waymark's web layer.
//!
//! Owns: turning the model into the guidance site (one renderer for the static
//! export and the live server), the JSON API, and the workspace where people
//! run engagements, all served over HTTP; and the actions both of them run
//! (`actions`: a command with its invitations, a letter, an upload).
//!
//! Must not touch: parsing pages (that is `waymark-model`) or the engagement
//! rules. It translates; it decides nothing about the model.

pub mod actions;
pub mod api;
pub mod app;
pub mod export;
pub mod ics;
pub mod inbound;
pub mod letter;
pub mod mail;
