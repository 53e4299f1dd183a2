//! Waymark's web layer.
//!
//! Owns: the workspace (the community portal too) and the JSON API over
//! HTTP, the actions both run
//! (`actions`), the application that composes them with the guide
//! (`Application`), what they send and read: letters' HTML and PDF, charts
//! as accessible SVG (`chart`),
//! iCalendar, exports, mail out (`mail`) and in (`inbound`, and the IMAP
//! reader `imap`), webhooks' deliveries (`webhook`), sign-in with OpenID
//! providers (`oidc`), passkeys' WebAuthn ceremonies (`passkey`), one
//! outgoing HTTP request (`fetch`), a bound on CPU-heavy work at once
//! (`heavy`: passwords, typesetting), and what an
//! operator reads of them (`ops`: request ids, logs, metrics, health).
//!
//! Must not touch: SQL (the store's), rules (the core's: handlers translate
//! and ask, never decide), or how the guide is rendered (waymark-site).

pub mod actions;
pub mod api;
pub mod app;
pub mod application;
pub mod chart;
pub use application::{Application, Settings, index_guide};
pub mod export;
pub mod fetch;
pub mod heavy;
pub mod ics;
pub mod imap;
pub mod inbound;
pub mod letter;
pub mod mail;
pub mod oidc;
pub mod ops;
pub mod passkey;
pub mod webhook;
