//! Every rule of Waymark.
//!
//! Owns: agencies, people, their roles and settings; an engagement's state
//! and the commands and events that change it; who may do what ([`may`]);
//! when a stale change is a real conflict ([`conflicts`]); what is next on
//! an engagement and what waits for whom ([`next_up`], [`waiting_for`]);
//! the enquiry workflow ([`enquiry`]); letters' facts and versions
//! ([`letter`]); stages' timeboxes as warnings; what a search means and who
//! may find what ([`search`]); knowledge articles and blueprint releases
//! ([`knowledge`]); the agency self-assessment and the type that tailors
//! an agency's journeys ([`assessment`]); moving an engagement to another
//! model version by a mapping ([`migration`]); where a message that
//! arrives in the programme's mailbox belongs ([`mailbox`]); what an API
//! token may do and who may end it ([`token`]); webhooks: who subscribes to
//! what, which events reach whom, where deliveries may go and when they are
//! retried or stopped ([`webhook`]); the community portal: who reads,
//! asks, answers, edits, votes and accepts, what a post holds, what each
//! change records in a question's chain, and who may register
//! ([`community`]); an engagement's own discussion: what a comment may be
//! about, whom it mentions, who edits and hides it ([`discussion`]); a
//! second factor: who must have one, who may reset one, and what a typed
//! code may be ([`factor`]); the benefits register: what a benefit measures,
//! its readings, and its derived status ([`benefit`]); lessons from
//! retrospectives, tagged to the model's stages and steps ([`lesson`]); surveys:
//! what they ask, when they take answers, what an answer is, and their
//! results ([`survey`]); the portfolio's kept counts and the dashboard's
//! figures ([`portfolio`]); signing in with an OpenID provider: what a
//! provider's configuration must say and who a proven identity becomes
//! ([`oidc`]); what a removal of personal data searches for ([`removal`]).
//!
//! Must not touch: SQL, HTTP, files, clocks. [`decide`] takes a state, an
//! actor, the people the command names and the command, and returns events
//! or a typed error; [`Engagement::apply`] folds events into state. The store
//! runs both inside one transaction; the web layer and the CLI only
//! translate. Every text a command carries is a bounded [`Line`] or [`Text`].

mod access;
pub mod adopters;
pub mod assessment;
pub mod benefit;
mod command;
pub mod community;
mod conflict;
pub mod discussion;
mod engagement;
pub mod enquiry;
mod error;
pub mod factor;
pub mod knowledge;
pub mod lesson;
pub mod letter;
pub mod mailbox;
pub mod migration;
mod next;
pub mod oidc;
mod people;
pub mod portfolio;
mod records;
pub mod removal;
pub mod search;
pub mod survey;
mod text;
pub mod token;
pub mod webhook;

pub use access::{Access, Actor, PartnerKind, Role};
pub use command::{
    Command, DecisionAt, Funder, Item, Sha256, Slug, allowed_commands, decide, may, may_start,
    permission, start,
};
pub use conflict::conflicts;
pub use engagement::{
    Archived, Assignment, Benefit, DEPLOY, DISCOVERY, Decision, Engagement, Event, Evidence,
    Initiative, Mode, Ownership, RiskRecord, RiskSource, SignOff, StageRecord, StageStatus,
    StepRecord, StepStatus, SuccessCheck, Summary, Timestamp, Warning, overrun_if_started_before,
};
pub use error::DomainError;
pub use next::{
    Next, PROGRAMME_ZONE, WORKSHOP_HORIZON_DAYS, next_up, past_due, today, waiting_for,
};
pub use people::{
    Abbreviation, Agency, AgencyId, AgencyType, Email, EngagementId, NewAgency, NewPerson, Notify,
    Password, Person, PersonId, Settings, TIME_ZONES,
};
pub use records::{
    Artefact, Attendee, Delivery, DocumentRecord, Feature, Guide, LetterKind, LetterRecord, Sprint,
    Story, WORKSHOP_HEADINGS, When, WorkStatus, Workshop, WorkshopAnswer, WorkshopNotes,
    WorkshopPlan, answer as answer_invitation, parse_date, parse_time,
};
pub use text::{Line, Text, check_line, check_text, clean_lines, one_line};
