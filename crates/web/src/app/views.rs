//! The workspace's templates (minijinja, HTML escaping forced on for every
//! value). Pages pass plain data; the only HTML that arrives pre-rendered is
//! the model's guidance, rendered by the site's own markdown renderer.
//!
//! Undefined values are errors (`UndefinedBehavior::Strict`), as in letters:
//! a misspelt key fails the page, and so a test, instead of rendering blank.
//! Only what the layout reads on every page has a default (no one signed in,
//! no form errors).

use minijinja::{AutoEscape, Environment, Value};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../templates/app/layout.html"),
    ),
    ("error.html", include_str!("../../templates/app/error.html")),
    ("login.html", include_str!("../../templates/app/login.html")),
    (
        "login-code.html",
        include_str!("../../templates/app/login-code.html"),
    ),
    (
        "portfolio.html",
        include_str!("../../templates/app/portfolio.html"),
    ),
    (
        "retention.html",
        include_str!("../../templates/app/retention.html"),
    ),
    (
        "second-factor.html",
        include_str!("../../templates/app/second-factor.html"),
    ),
    ("setup.html", include_str!("../../templates/app/setup.html")),
    (
        "settings.html",
        include_str!("../../templates/app/settings.html"),
    ),
    (
        "invite.html",
        include_str!("../../templates/app/invite.html"),
    ),
    ("home.html", include_str!("../../templates/app/home.html")),
    (
        "search.html",
        include_str!("../../templates/app/search.html"),
    ),
    (
        "knowledge.html",
        include_str!("../../templates/app/knowledge.html"),
    ),
    (
        "article-edit.html",
        include_str!("../../templates/app/article-edit.html"),
    ),
    (
        "article-changes.html",
        include_str!("../../templates/app/article-changes.html"),
    ),
    (
        "migrations.html",
        include_str!("../../templates/app/migrations.html"),
    ),
    (
        "assessment.html",
        include_str!("../../templates/app/assessment.html"),
    ),
    (
        "article-feedback.html",
        include_str!("../../templates/app/article-feedback.html"),
    ),
    (
        "releases.html",
        include_str!("../../templates/app/releases.html"),
    ),
    (
        "community.html",
        include_str!("../../templates/app/community.html"),
    ),
    (
        "community-topics.html",
        include_str!("../../templates/app/community-topics.html"),
    ),
    (
        "community-category.html",
        include_str!("../../templates/app/community-category.html"),
    ),
    (
        "community-about.html",
        include_str!("../../templates/app/community-about.html"),
    ),
    (
        "community-ask.html",
        include_str!("../../templates/app/community-ask.html"),
    ),
    (
        "community-question.html",
        include_str!("../../templates/app/community-question.html"),
    ),
    (
        "community-edit.html",
        include_str!("../../templates/app/community-edit.html"),
    ),
    (
        "community-history.html",
        include_str!("../../templates/app/community-history.html"),
    ),
    (
        "register.html",
        include_str!("../../templates/app/register.html"),
    ),
    (
        "register-sent.html",
        include_str!("../../templates/app/register-sent.html"),
    ),
    (
        "community-flags.html",
        include_str!("../../templates/app/community-flags.html"),
    ),
    (
        "unsubscribe.html",
        include_str!("../../templates/app/unsubscribe.html"),
    ),
    (
        "adopters.html",
        include_str!("../../templates/app/adopters.html"),
    ),
    (
        "engagement-base.html",
        include_str!("../../templates/app/engagement-base.html"),
    ),
    (
        "engagement.html",
        include_str!("../../templates/app/engagement.html"),
    ),
    ("stage.html", include_str!("../../templates/app/stage.html")),
    ("risks.html", include_str!("../../templates/app/risks.html")),
    (
        "privacy.html",
        include_str!("../../templates/app/privacy.html"),
    ),
    (
        "discussion.html",
        include_str!("../../templates/app/discussion.html"),
    ),
    (
        "benefits.html",
        include_str!("../../templates/app/benefits.html"),
    ),
    (
        "lessons.html",
        include_str!("../../templates/app/lessons.html"),
    ),
    (
        "surveys.html",
        include_str!("../../templates/app/surveys.html"),
    ),
    (
        "survey.html",
        include_str!("../../templates/app/survey.html"),
    ),
    (
        "survey-results.html",
        include_str!("../../templates/app/survey-results.html"),
    ),
    (
        "survey-answer.html",
        include_str!("../../templates/app/survey-answer.html"),
    ),
    (
        "decisions.html",
        include_str!("../../templates/app/decisions.html"),
    ),
    (
        "engagement-people.html",
        include_str!("../../templates/app/engagement-people.html"),
    ),
    (
        "history.html",
        include_str!("../../templates/app/history.html"),
    ),
    (
        "agencies.html",
        include_str!("../../templates/app/agencies.html"),
    ),
    (
        "agency.html",
        include_str!("../../templates/app/agency.html"),
    ),
    (
        "people.html",
        include_str!("../../templates/app/people.html"),
    ),
    (
        "person.html",
        include_str!("../../templates/app/person.html"),
    ),
    (
        "conflict.html",
        include_str!("../../templates/app/conflict.html"),
    ),
    (
        "request-support.html",
        include_str!("../../templates/app/request-support.html"),
    ),
    (
        "request-sent.html",
        include_str!("../../templates/app/request-sent.html"),
    ),
    (
        "enquiries.html",
        include_str!("../../templates/app/enquiries.html"),
    ),
    (
        "enquiry.html",
        include_str!("../../templates/app/enquiry.html"),
    ),
    (
        "workshops.html",
        include_str!("../../templates/app/workshops.html"),
    ),
    (
        "letter.html",
        include_str!("../../templates/app/letter.html"),
    ),
    (
        "letter-template.html",
        include_str!("../../templates/app/letter-template.html"),
    ),
    (
        "delivery.html",
        include_str!("../../templates/app/delivery.html"),
    ),
    ("guide.html", include_str!("../../templates/app/guide.html")),
    (
        "outbox.html",
        include_str!("../../templates/app/outbox.html"),
    ),
    (
        "webhooks.html",
        include_str!("../../templates/app/webhooks.html"),
    ),
    (
        "webhook.html",
        include_str!("../../templates/app/webhook.html"),
    ),
    (
        "mailbox.html",
        include_str!("../../templates/app/mailbox.html"),
    ),
    (
        "macros.html",
        include_str!("../../templates/app/macros.html"),
    ),
];

/// A template that does not compile, or a page that does not render (with
/// minijinja's whole account of where).
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("template {name}: {detail}")]
    Template { name: &'static str, detail: String },
    #[error("cannot render {name}: {detail}")]
    Render { name: String, detail: String },
}

/// The compiled templates.
pub struct Views(Environment<'static>);

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Views")
    }
}

/// The zone times are shown in when the viewer has not chosen one.
pub const DEFAULT_ZONE: chrono_tz::Tz = chrono_tz::Australia::Canberra;

/// `{{ at|when }}`: a timestamp as a `<time>` element's parts: the instant
/// for machines, and for people the time in the viewer's zone (the page's
/// `user.zone`, else Canberra's), like "Thu 10 Dec 2026, 10:00 am AEDT".
fn when(state: &minijinja::State, secs: i64) -> Value {
    let zone = state
        .lookup("user")
        .and_then(|u| u.get_attr("zone").ok())
        .and_then(|z| z.as_str().and_then(|z| z.parse::<chrono_tz::Tz>().ok()))
        .unwrap_or(DEFAULT_ZONE);
    let (iso, text) = local_time(secs, zone);
    minijinja::context! { iso => iso, text => text }
}

/// A timestamp as ISO 8601 (UTC) and as people in `zone` read it.
pub fn local_time(secs: i64, zone: chrono_tz::Tz) -> (String, String) {
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => (
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            t.with_timezone(&zone)
                .format("%a %-d %b %Y, %-I:%M %P %Z")
                .to_string(),
        ),
        None => (String::new(), "an unknown time".into()),
    }
}

/// `{{ "2027-01-15"|day }}`: a date as people read it, "Fri 15 Jan 2027".
fn day(s: String) -> String {
    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map(|d| d.format("%a %-d %b %Y").to_string())
        .unwrap_or(s)
}

fn words(s: String) -> String {
    s.replace('_', " ")
}

impl Views {
    pub fn new() -> Result<Self, ViewError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_filter("when", when);
        env.add_filter("words", words);
        env.add_filter("day", day);
        // What the layout reads on every page, unless the page passes it:
        // nobody signed in, no form errors. A page's own value shadows these.
        env.add_global("user", Value::from(()));
        env.add_global("error", Value::from(()));
        env.add_global("errors", Value::from(Vec::<Value>::new()));
        // The core's rules, said the same way on every form that asks.
        env.add_global(
            "rules",
            minijinja::context! { abbreviation => waymark_core::Abbreviation::RULE },
        );
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| ViewError::Template {
                    name,
                    detail: e.to_string(),
                })?;
        }
        Ok(Views(env))
    }

    /// Renders `name` with a page's view (any `Serialize` value).
    pub fn render(&self, name: &str, view: &impl serde::Serialize) -> Result<String, ViewError> {
        self.0
            .get_template(name)
            .and_then(|t| t.render(Value::from(minijinja::value::Serde(view))))
            .map_err(|e| ViewError::Render {
                name: name.to_string(),
                detail: format!("{e:#}"),
            })
    }
}
