//! The portfolio dashboard (the programme): where every engagement is,
//! what is stuck, what is decided and funded, benefits and surveys, each
//! chart with its table and its CSV, filtered by portfolio, agency type
//! and months. The figures are `waymark_core::portfolio`'s, read by the
//! store from its kept counts; this module only draws them.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use waymark_core::portfolio::{self, Figures, Filter};
use waymark_core::{AgencyType, DomainError};
use waymark_store::{CapacitySetting, now};

use super::auth::{SignedIn, UserView, encode};
use super::benefits::date_of;
use super::{AppState, FieldError, PageError, field_error, form_error, view_page};
use crate::chart::{BarChart, LineChart, Series, StackedChart, Style};

/// One chart as the page and its CSV show it.
#[derive(Debug, Serialize)]
pub struct ChartView {
    /// Its address under `/portfolio/` (`stages` → `/portfolio/stages.csv`).
    pub slug: &'static str,
    pub heading: &'static str,
    /// What it shows, in a sentence or two, above it.
    pub lead: String,
    /// The `<svg>`; none when there is nothing to draw.
    pub svg: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn view(
    slug: &'static str,
    heading: &'static str,
    lead: String,
    svg: Option<String>,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> ChartView {
    ChartView {
        slug,
        heading,
        lead,
        svg,
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows,
    }
}

fn weeks(w: Option<i32>) -> String {
    match w {
        None => "none finished".into(),
        Some(0) => "under a week".into(),
        Some(1) => "1 week".into(),
        Some(n) => format!("{n} weeks"),
    }
}

fn bars(id: &str, title: &str, desc: String, bars: Vec<(String, u64)>) -> Option<String> {
    Some(
        BarChart {
            id: format!("chart-{id}"),
            title: title.to_string(),
            desc,
            bars,
        }
        .svg(),
    )
}

fn counted(n: i64) -> u64 {
    n.max(0) as u64
}

/// The quarter a day number (the capacity chart's x) falls in: "2027 Q1".
fn quarter_of_day(n: f64) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(n.round() as i32)
        .map(|d| {
            use chrono::Datelike;
            portfolio::quarter_of(d.year() * 100 + d.month() as i32)
        })
        .unwrap_or_default()
}

/// Every chart of `f`, in the page's order; `who` says whose figures they
/// are, for each chart's description.
pub fn charts(f: &Figures, who: &str) -> Vec<ChartView> {
    let mut out = Vec::new();

    // Engagements by stage over time.
    let series: Vec<(String, Vec<u64>)> = f
        .by_stage
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.active.iter().map(|n| counted(*n)).collect(),
            )
        })
        .collect();
    let last: Vec<String> = f
        .by_stage
        .iter()
        .map(|s| format!("{} {}", s.active.last().copied().unwrap_or(0), s.name))
        .collect();
    let title = "Engagements active in each stage at each month's end";
    let svg = StackedChart {
        id: "chart-stages".into(),
        title: title.into(),
        desc: match f.months.last() {
            Some(m) => format!("For {who}. At {m}'s end: {}.", last.join(", ")),
            None => format!("For {who}. These months have not begun yet."),
        },
        columns: f.months.clone(),
        series,
        y_title: "Engagements".into(),
    }
    .svg();
    let mut headers = vec!["Month"];
    headers.extend(f.by_stage.iter().map(|s| s.name.as_str()));
    let rows = f
        .months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut r = vec![m.clone()];
            r.extend(
                f.by_stage
                    .iter()
                    .map(|s| s.active.get(i).copied().unwrap_or(0).to_string()),
            );
            r
        })
        .collect();
    out.push(view(
        "stages",
        "Engagements by stage over time",
        "How many engagements were active in each stage at the end of each month. An engagement can be active in more than one stage at once.".into(),
        Some(svg),
        &headers,
        rows,
    ));

    // The funnel.
    let desc = f
        .funnel
        .iter()
        .map(|t| format!("{}: {}", t.label, t.count))
        .collect::<Vec<_>>()
        .join("; ");
    out.push(view(
        "funnel",
        "From enquiry to each stage",
        "Enquiries received, engagements started, and engagements reaching each stage for the first time, in these months: what happened in them, not a drop-off (an engagement that reached Deploy in these months may have reached Discovery before them). Enquiries are counted for every agency: until one becomes an engagement, it names its agency in its own words.".into(),
        bars(
            "funnel",
            "From enquiry to each stage",
            format!("For {who}. {desc}."),
            f.funnel.iter().map(|t| (t.label.clone(), counted(t.count))).collect(),
        ),
        &["Step", "Count"],
        f.funnel
            .iter()
            .map(|t| vec![t.label.clone(), t.count.to_string()])
            .collect(),
    ));

    // Time in stage.
    let mut stage_bars = Vec::new();
    for t in f.time_in_stage.iter().filter(|t| t.finished > 0) {
        stage_bars.push((
            format!("{}: median", t.name),
            t.median_weeks.unwrap_or(0).max(0) as u64,
        ));
        stage_bars.push((
            format!("{}: 90th", t.name),
            t.p90_weeks.unwrap_or(0).max(0) as u64,
        ));
        if let Some(w) = t.timebox_weeks {
            stage_bars.push((format!("{}: timebox", t.name), u64::from(w)));
        }
    }
    let desc = f
        .time_in_stage
        .iter()
        .map(|t| {
            let timebox = t
                .timebox_weeks
                .map_or(String::new(), |w| format!(", timebox {w} weeks"));
            format!(
                "{}: median {}, 90th percentile {}{timebox}",
                t.name,
                weeks(t.median_weeks),
                weeks(t.p90_weeks)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    out.push(view(
        "time-in-stage",
        "Time in stage",
        "Whole weeks each stage took, for stage visits that finished (completed or exited) in these months: the median and the 90th percentile, and the model's timebox where the stage has one.".into(),
        (!stage_bars.is_empty())
            .then(|| bars("time-in-stage", "Weeks in each stage", format!("For {who}. {desc}."), stage_bars))
            .flatten(),
        &[
            "Stage",
            "Finished",
            "Median weeks",
            "90th percentile weeks",
            "Timebox weeks",
            "Finished past the timebox",
        ],
        f.time_in_stage
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.finished.to_string(),
                    t.median_weeks.map_or(String::new(), |w| w.to_string()),
                    t.p90_weeks.map_or(String::new(), |w| w.to_string()),
                    t.timebox_weeks.map_or(String::new(), |w| w.to_string()),
                    t.over_timebox.to_string(),
                ]
            })
            .collect(),
    ));

    // Past their timebox now.
    let desc = f
        .past_timebox
        .iter()
        .map(|p| {
            format!(
                "{}: {} of {} past {} weeks",
                p.name, p.past, p.active, p.timebox_weeks
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    out.push(view(
        "past-timebox",
        "Past their timebox now",
        "Engagements active now in a stage with a timebox, and how many of them have run past it. This is today's picture: the months do not change it. The Engagements page lists those past their timebox, the longest-running first.".into(),
        bars(
            "past-timebox",
            "Engagements past their stage's timebox now",
            format!("For {who}. {desc}."),
            f.past_timebox
                .iter()
                .map(|p| (format!("{} (timebox {} weeks)", p.name, p.timebox_weeks), p.past))
                .collect(),
        ),
        &["Stage", "Timebox weeks", "Active now", "Past the timebox"],
        f.past_timebox
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.timebox_weeks.to_string(),
                    p.active.to_string(),
                    p.past.to_string(),
                ]
            })
            .collect(),
    ));

    // Capacity.
    let c = &f.capacity;
    let x_of =
        |month: &str| waymark_core::benefit::day_number(&format!("{month}-28")).map(|d| d as f64);
    let active: Vec<(f64, f64)> = c
        .quarters
        .iter()
        .filter_map(|q| Some((x_of(&q.month)?, q.active as f64)))
        .collect();
    let limit: Vec<(f64, f64)> = active
        .iter()
        .map(|(x, _)| (*x, f64::from(c.capacity)))
        .collect();
    let over: Vec<&str> = c
        .quarters
        .iter()
        .filter(|q| q.over_capacity)
        .map(|q| q.quarter.as_str())
        .collect();
    let desc = format!(
        "For {who}. Capacity {}. {}. {}",
        c.capacity,
        c.quarters
            .iter()
            .map(|q| format!("{}: {} at its end, at most {}", q.quarter, q.active, q.peak))
            .collect::<Vec<_>>()
            .join("; "),
        if over.is_empty() {
            "No quarter went over capacity.".to_string()
        } else {
            format!("Over capacity in {}.", over.join(", "))
        }
    );
    let y = |v: f64| format!("{v}");
    let svg = (!active.is_empty()).then(|| {
        LineChart {
            id: "chart-capacity".into(),
            title: "Do it With You engagements against capacity, by quarter".into(),
            desc,
            series: vec![
                Series {
                    name: "Active".into(),
                    style: Style::Measured,
                    points: active.clone(),
                },
                Series {
                    name: "Capacity".into(),
                    style: Style::Target,
                    points: limit,
                },
            ],
            x_label: &quarter_of_day,
            y_label: &y,
            y_title: "Engagements".into(),
            y_range: None,
        }
        .svg()
    });
    out.push(view(
        "capacity",
        "Programme capacity",
        format!(
            "Do it With You engagements active at each quarter's end (or the range's last month), against the {} the programme can support at once. {} The queue now: {} open enquir{} and {} planned start{} (Discovery planned, not yet begun).",
            c.capacity,
            if over.is_empty() {
                "No quarter went over capacity.".to_string()
            } else {
                format!("Over capacity in {}.", over.join(", "))
            },
            c.open_enquiries,
            if c.open_enquiries == 1 { "y" } else { "ies" },
            c.planned_starts,
            if c.planned_starts == 1 { "" } else { "s" },
        ),
        svg,
        &["Quarter", "Active at its end", "Most active at a month's end", "Capacity", "Over capacity"],
        c.quarters
            .iter()
            .map(|q| {
                vec![
                    q.quarter.clone(),
                    q.active.to_string(),
                    q.peak.to_string(),
                    c.capacity.to_string(),
                    if q.over_capacity { "yes" } else { "no" }.into(),
                ]
            })
            .collect(),
    ));

    // Decisions by option.
    let desc = f
        .decisions
        .iter()
        .take(12)
        .map(|d| format!("{}, “{}”: {}", d.question, d.option, d.count))
        .collect::<Vec<_>>()
        .join("; ");
    out.push(view(
        "decisions",
        "Decisions by option",
        "Every decision recorded in these months, by the question and the option chosen, the most chosen first.".into(),
        (!f.decisions.is_empty())
            .then(|| {
                bars(
                    "decisions",
                    "Decisions by option",
                    format!("For {who}. {desc}."),
                    f.decisions
                        .iter()
                        .take(12)
                        .map(|d| (d.option.clone(), counted(d.count)))
                        .collect(),
                )
            })
            .flatten(),
        &["Question", "Option", "Decisions"],
        f.decisions
            .iter()
            .map(|d| vec![d.question.clone(), d.option.clone(), d.count.to_string()])
            .collect(),
    ));

    // Funding by funder.
    let desc = f
        .funding
        .iter()
        .map(|t| format!("{}: {}", t.label, t.count))
        .collect::<Vec<_>>()
        .join("; ");
    out.push(view(
        "funding",
        "Funding by funder",
        "Decisions recorded in these months, by who funds what each leads to.".into(),
        bars(
            "funding",
            "Decisions by who funds them",
            format!("For {who}. {desc}."),
            f.funding
                .iter()
                .map(|t| {
                    // Short enough for a bar's label; the table says it whole.
                    let label = match t.key.as_str() {
                        "co_funded" => "Co-funded (DTA and agency)".to_string(),
                        _ => t.label.clone(),
                    };
                    (label, counted(t.count))
                })
                .collect(),
        ),
        &["Funder", "Decisions"],
        f.funding
            .iter()
            .map(|t| vec![t.label.clone(), t.count.to_string()])
            .collect(),
    ));

    // Benefits realised against target.
    let desc = f
        .benefits
        .iter()
        .map(|b| {
            format!(
                "{}: {} due, {} realised, {} missed, {} still to come",
                b.quarter, b.due, b.realised, b.missed, b.pending
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let svg = (!f.benefits.is_empty()).then(|| {
        StackedChart {
            id: "chart-benefits".into(),
            title: "Benefits realised against target, by the quarter they are due".into(),
            desc: format!("For {who}. {desc}."),
            columns: f.benefits.iter().map(|b| b.quarter.clone()).collect(),
            series: vec![
                (
                    "Realised".into(),
                    f.benefits.iter().map(|b| counted(b.realised)).collect(),
                ),
                (
                    "Missed".into(),
                    f.benefits.iter().map(|b| counted(b.missed)).collect(),
                ),
                (
                    "Still to come".into(),
                    f.benefits.iter().map(|b| counted(b.pending)).collect(),
                ),
            ],
            y_title: "Benefits".into(),
        }
        .svg()
    });
    out.push(view(
        "benefits",
        "Benefits realised against target",
        "Measured benefits (a baseline and a target) whose target date falls in these months, by quarter: realised when the latest reading reaches the target; missed when not, once the quarter is over.".into(),
        svg,
        &["Quarter due", "Due", "Realised", "Missed", "Still to come"],
        f.benefits
            .iter()
            .map(|b| {
                vec![
                    b.quarter.clone(),
                    b.due.to_string(),
                    b.realised.to_string(),
                    b.missed.to_string(),
                    b.pending.to_string(),
                ]
            })
            .collect(),
    ));

    // Survey scores over time.
    let points: Vec<(f64, f64)> = f
        .surveys
        .iter()
        .filter_map(|s| {
            Some((
                waymark_core::benefit::day_number(&s.opens_on)? as f64,
                s.nps? as f64,
            ))
        })
        .collect();
    let desc = f
        .surveys
        .iter()
        .map(|s| match (&s.withheld, s.nps) {
            (Some(_), _) => format!("{} ({}): withheld, too few answers", s.title, s.opens_on),
            (None, Some(n)) => format!("{} ({}): Net Promoter Score {n}", s.title, s.opens_on),
            (None, None) => format!(
                "{} ({}): no likely-to-recommend question",
                s.title, s.opens_on
            ),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let svg = (!points.is_empty()).then(|| {
        LineChart {
            id: "chart-surveys".into(),
            title: "Net Promoter Score of each survey, by the day it opened".into(),
            desc: format!("For {who}. {desc}."),
            series: vec![Series {
                name: "Net Promoter Score".into(),
                style: Style::Measured,
                points,
            }],
            x_label: &date_of,
            y_label: &y,
            y_title: "Score (-100 to 100)".into(),
            y_range: Some((-100.0, 100.0)),
        }
        .svg()
    });
    out.push(view(
        "surveys",
        "Survey scores over time",
        "Each survey that opened in these months: its Net Promoter Score and its mean rating. An anonymous survey's scores show once three people have answered. With a portfolio or a type chosen, only surveys sent to those agencies' engagements count.".into(),
        svg,
        &["Survey", "Opened", "Answers", "Net Promoter Score", "Mean rating (1 to 5)"],
        f.surveys
            .iter()
            .map(|s| {
                vec![
                    s.title.clone(),
                    s.opens_on.clone(),
                    s.responses.to_string(),
                    s.nps.map_or(String::new(), |n| n.to_string()),
                    s.mean_rating.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    ));

    // Lessons by stage.
    let desc = f
        .lessons
        .iter()
        .map(|l| {
            format!(
                "{}: {} went well, {} to improve, {} to try next",
                l.name, l.went_well, l.to_improve, l.try_next
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let any = f
        .lessons
        .iter()
        .any(|l| l.went_well + l.to_improve + l.try_next > 0);
    // Bars, a stage a row: stage names are too long to sit under columns.
    let svg = any
        .then(|| {
            bars(
                "lessons",
                "Lessons to improve, by the stage they are about",
                format!("For {who}. {desc}."),
                f.lessons
                    .iter()
                    .map(|l| (l.name.clone(), counted(l.to_improve)))
                    .collect(),
            )
        })
        .flatten();
    out.push(view(
        "lessons",
        "Lessons by stage",
        "Lessons recorded at retrospectives in these months, by the stage they are about: the stages with the most to improve cause the most trouble. The chart counts those to improve; the table has every kind, and the Lessons page every lesson by step.".into(),
        svg,
        &["Stage", "To improve", "Try next", "Went well"],
        f.lessons
            .iter()
            .map(|l| {
                vec![
                    l.name.clone(),
                    l.to_improve.to_string(),
                    l.try_next.to_string(),
                    l.went_well.to_string(),
                ]
            })
            .collect(),
    ));
    out
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FilterQuery {
    portfolio: String,
    agency_type: String,
    from: String,
    to: String,
    saved: String,
}

/// A filter as a query string (for the CSV links).
fn query_of(f: &Filter) -> String {
    let mut q = format!(
        "from={}&to={}",
        portfolio::month_text(f.range.from),
        portfolio::month_text(f.range.to)
    );
    if let Some(p) = &f.portfolio {
        q.push_str("&portfolio=");
        q.push_str(&encode(p));
    }
    if let Some(t) = f.agency_type {
        q.push_str("&agency_type=");
        q.push_str(t.slug());
    }
    q
}

/// Reads the filter against the portfolios agencies are in (`known`).
fn read(q: &FilterQuery, known: &[String]) -> Result<Filter, Vec<DomainError>> {
    Filter::read(&q.portfolio, &q.agency_type, &q.from, &q.to, known, now())
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct PortfolioPage {
    title: &'static str,
    user: UserView,
    portfolios: Vec<Choice>,
    types: Vec<Choice>,
    from: String,
    to: String,
    errors: Vec<FieldError>,
    /// Whose figures, in words.
    who: String,
    charts: Vec<ChartView>,
    query: String,
    capacity: CapacitySetting,
    /// What the capacity field shows (what was typed, after an error).
    capacity_typed: String,
    saved: bool,
    /// The filter as typed, for the capacity form to come back to.
    back: Vec<(&'static str, String)>,
}

async fn page(
    s: &AppState,
    who: &SignedIn,
    q: &FilterQuery,
    capacity_typed: Option<String>,
    mut errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    portfolio::may_see(&who.actor)?;
    let known = s.store.portfolios().await?;
    let filter = read(q, &known);
    let (charts, words, query) = match &filter {
        Ok(f) => {
            let figures = s.store.portfolio(&who.actor, &s.model, f, now()).await?;
            let words = f.words();
            (charts(&figures, &words), words, query_of(f))
        }
        Err(problems) => {
            errors.extend(problems.iter().filter_map(field_error));
            (Vec::new(), String::new(), String::new())
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let chosen = filter.as_ref().ok();
    let capacity = s.store.capacity().await?;
    let view = PortfolioPage {
        title: "Portfolio",
        user: who.view(),
        portfolios: known
            .into_iter()
            .map(|p| Choice {
                selected: chosen.and_then(|f| f.portfolio.as_deref()) == Some(p.as_str()),
                label: p.clone(),
                value: p,
            })
            .collect(),
        types: AgencyType::ALL
            .into_iter()
            .map(|t| Choice {
                value: t.slug().into(),
                label: t.label().into(),
                selected: chosen.and_then(|f| f.agency_type) == Some(t),
            })
            .collect(),
        from: chosen.map_or_else(
            || super::typed_back(&q.from),
            |f| portfolio::month_text(f.range.from),
        ),
        to: chosen.map_or_else(
            || super::typed_back(&q.to),
            |f| portfolio::month_text(f.range.to),
        ),
        errors,
        who: words,
        charts,
        query,
        capacity_typed: capacity_typed.unwrap_or_else(|| capacity.capacity.to_string()),
        capacity,
        saved: q.saved == "capacity",
        back: vec![
            ("portfolio", super::typed_back(&q.portfolio)),
            ("agency_type", super::typed_back(&q.agency_type)),
            ("from", super::typed_back(&q.from)),
            ("to", super::typed_back(&q.to)),
        ],
    };
    view_page(s, status, "portfolio.html", &view)
}

/// `GET /portfolio`.
pub async fn dashboard(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(&who, q)?;
    page(&s, &who, &q, None, Vec::new()).await
}

/// The filter as asked, once the visitor may see the portfolio at all:
/// to anyone else even a malformed query finds nothing.
fn query(
    who: &SignedIn,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<FilterQuery, PageError> {
    portfolio::may_see(&who.actor)?;
    q.map(|Query(q)| q).map_err(|e| {
        PageError::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The filter could not be read: {}. Give each of portfolio, agency_type, from and to at most once.", e.body_text()),
        )
    })
}

/// `GET /portfolio/{chart}.csv`: one chart's table, filtered as the page.
pub async fn chart_csv(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(file): Path<String>,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(&who, q)?;
    let slug = file.strip_suffix(".csv").ok_or(PageError::NotFound)?;
    let known = s.store.portfolios().await?;
    let filter = read(&q, &known).map_err(|problems| {
        let said = problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY, said)
    })?;
    let figures = s
        .store
        .portfolio(&who.actor, &s.model, &filter, now())
        .await?;
    let chart = charts(&figures, &filter.words())
        .into_iter()
        .find(|c| c.slug == slug)
        .ok_or(PageError::NotFound)?;
    let body = crate::export::table_csv(&chart.headers, chart.rows)
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name(slug, &filter)),
            ),
        ],
        body,
    )
        .into_response())
}

/// A chart's CSV's name: the chart, the months and the filter, in letters,
/// digits and dashes only (a portfolio's name is anyone's typing).
fn file_name(slug: &str, f: &Filter) -> String {
    let mut name = format!(
        "portfolio-{slug}-{}-to-{}",
        portfolio::month_text(f.range.from),
        portfolio::month_text(f.range.to)
    );
    if let Some(t) = f.agency_type {
        name.push('-');
        name.push_str(&t.slug().replace('_', "-"));
    }
    if let Some(p) = &f.portfolio {
        let p: String = p
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(60)
            .collect();
        name.push('-');
        name.push_str(&p);
    }
    name + ".csv"
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CapacityForm {
    csrf: String,
    capacity: String,
    /// The page's filter, to come back to.
    portfolio: String,
    agency_type: String,
    from: String,
    to: String,
}

/// `POST /portfolio/capacity`.
pub async fn set_capacity(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    f: Result<Form<CapacityForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    portfolio::may_see(&who.actor)?;
    let Form(f) =
        f.map_err(|e| PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    who.check(&f.csrf)?;
    let back = FilterQuery {
        portfolio: f.portfolio.clone(),
        agency_type: f.agency_type.clone(),
        from: f.from.clone(),
        to: f.to.clone(),
        saved: String::new(),
    };
    match portfolio::parse_capacity(&f.capacity) {
        Ok(n) => {
            s.store.set_capacity(&who.actor, n, now()).await?;
            let known = s.store.portfolios().await?;
            let filter = read(&back, &known)
                .map(|f| format!("&{}", query_of(&f)))
                .unwrap_or_default();
            Ok(Redirect::to(&format!(
                "/portfolio?saved=capacity{filter}#portfolio-capacity"
            ))
            .into_response())
        }
        Err(e) => {
            let errors: Vec<FieldError> = field_error(&e)
                .into_iter()
                .chain(
                    (!matches!(e, DomainError::Invalid { .. }))
                        .then(|| form_error("capacity", e.to_string())),
                )
                .collect();
            page(
                &s,
                &who,
                &back,
                Some(super::typed_back(&f.capacity)),
                errors,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_is_named_by_its_chart_months_and_filter_in_safe_letters() {
        let f = Filter {
            portfolio: Some("Home \"Affairs\"\r\n/../x".into()),
            agency_type: Some(AgencyType::SelfDirected),
            range: portfolio::Range {
                from: 202311,
                to: 202410,
            },
        };
        assert_eq!(
            file_name("stages", &f),
            "portfolio-stages-2023-11-to-2024-10-self-directed-home--affairs-------x.csv"
        );
        let all = Filter {
            portfolio: None,
            agency_type: None,
            ..f
        };
        assert_eq!(
            file_name("funnel", &all),
            "portfolio-funnel-2023-11-to-2024-10.csv"
        );
    }
}
