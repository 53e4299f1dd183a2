//! The benefits register as the workspace shows it: each benefit's plan,
//! its derived status and why (the core's `benefit::assess`), a chart of
//! its readings against the target with the same numbers in a table, the
//! model's benefits that can be adopted, and the register as CSV.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use waymark_core::benefit::{Assessment, Benefit, Status, assess};
use waymark_core::{Engagement, EngagementId, PersonId};
use waymark_model::Model;

use super::auth::SignedIn;
use super::{AppState, PageError};
use crate::chart::{LineChart, Series, Style};

/// One benefit on the register page.
#[derive(Serialize)]
pub struct BenefitView {
    id: u32,
    text: String,
    measure: Option<String>,
    unit: Option<String>,
    /// The baseline and target as people read them ("100 hours").
    baseline: Option<String>,
    baseline_date: Option<String>,
    target: Option<String>,
    target_date: Option<String>,
    owner: Option<String>,
    status: &'static str,
    status_slug: &'static str,
    why: String,
    /// The chart's SVG (drawn here; every text in it escaped).
    chart: Option<String>,
    /// The chart's data: baseline, readings (as they count), target.
    rows: Vec<RowView>,
    /// Every reading recorded, corrections included (oldest first).
    recorded: usize,
    /// The stage of the model it was adopted from.
    from_stage: Option<String>,
    /// The plan as typed, for the change form.
    form: PlanForm,
}

#[derive(Serialize)]
struct RowView {
    what: &'static str,
    date: String,
    value: String,
    note: Option<String>,
    by: Option<String>,
}

/// A plan's values in the form a person types them back.
#[derive(Serialize)]
struct PlanForm {
    unit: String,
    baseline: String,
    baseline_date: String,
    target: String,
    target_date: String,
    owner: Option<i64>,
}

/// A stage whose model benefits are not all on the register yet.
#[derive(Serialize)]
pub struct AdoptView {
    slug: String,
    name: String,
    benefits: Vec<String>,
}

/// How many benefits have each status, in the order of `Status::ALL`,
/// leaving out those with none: the register's summary line.
pub fn summary(views: &[BenefitView]) -> Vec<(usize, &'static str)> {
    Status::ALL
        .iter()
        .map(|s| {
            (
                views.iter().filter(|v| v.status_slug == s.slug()).count(),
                s.label(),
            )
        })
        .filter(|(n, _)| *n > 0)
        .collect()
}

/// The people a benefit names (owners and who recorded readings).
pub fn people(e: &Engagement) -> impl Iterator<Item = PersonId> + '_ {
    e.benefits.iter().flat_map(|b| {
        b.plan
            .owner
            .into_iter()
            .chain(b.readings.iter().map(|r| r.by))
    })
}

/// Each benefit of `e` as the register shows it on `today`.
pub fn views(
    e: &Engagement,
    model: &Model,
    today: &str,
    name: &dyn Fn(PersonId) -> String,
) -> Vec<BenefitView> {
    e.benefits
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let id = i as u32 + 1;
            let a = assess(b, today);
            let show = |v| b.show(v);
            let mut rows = Vec::new();
            if let Some(p) = &b.plan.baseline {
                rows.push(RowView {
                    what: "Baseline",
                    date: p.date.clone(),
                    value: show(p.value),
                    note: None,
                    by: None,
                });
            }
            for r in b.effective() {
                rows.push(RowView {
                    what: "Reading",
                    date: r.date.clone(),
                    value: show(r.value),
                    note: r.note.clone(),
                    by: Some(name(r.by)),
                });
            }
            if let Some(p) = &b.plan.target {
                rows.push(RowView {
                    what: "Target",
                    date: p.date.clone(),
                    value: show(p.value),
                    note: None,
                    by: None,
                });
            }
            BenefitView {
                id,
                text: b.text.clone(),
                measure: b.measure.clone(),
                unit: b.plan.unit.clone(),
                baseline: b.plan.baseline.as_ref().map(|p| show(p.value)),
                baseline_date: b.plan.baseline.as_ref().map(|p| p.date.clone()),
                target: b.plan.target.as_ref().map(|p| show(p.value)),
                target_date: b.plan.target.as_ref().map(|p| p.date.clone()),
                owner: b.plan.owner.map(name),
                status: a.status.label(),
                status_slug: a.status.slug(),
                chart: chart(id, b, &a, today),
                why: a.why,
                rows,
                recorded: b.readings.len(),
                from_stage: b.source.as_ref().map(|s| {
                    model
                        .stage(&s.stage)
                        .map_or(s.stage.clone(), |st| st.name.clone())
                }),
                form: PlanForm {
                    unit: b.plan.unit.clone().unwrap_or_default(),
                    baseline: b
                        .plan
                        .baseline
                        .as_ref()
                        .map(|p| p.value.to_string())
                        .unwrap_or_default(),
                    baseline_date: b
                        .plan
                        .baseline
                        .as_ref()
                        .map(|p| p.date.clone())
                        .unwrap_or_default(),
                    target: b
                        .plan
                        .target
                        .as_ref()
                        .map(|p| p.value.to_string())
                        .unwrap_or_default(),
                    target_date: b
                        .plan
                        .target
                        .as_ref()
                        .map(|p| p.date.clone())
                        .unwrap_or_default(),
                    owner: b.plan.owner.map(|p| p.0),
                },
            }
        })
        .collect()
}

/// The stages whose "Benefits" are not all on the register yet.
pub fn adoptable(e: &Engagement, model: &Model) -> Vec<AdoptView> {
    model
        .stages
        .iter()
        .filter_map(|s| {
            let missing: Vec<String> = waymark_core::benefit::unadopted(e, s)
                .into_iter()
                .map(|(_, text)| text.to_string())
                .collect();
            (!missing.is_empty()).then(|| AdoptView {
                slug: s.slug.clone(),
                name: s.name.clone(),
                benefits: missing,
            })
        })
        .collect()
}

/// A date on the chart's time axis.
fn day_number(d: &str) -> Option<f64> {
    waymark_core::benefit::day_number(d).map(|n| n as f64)
}

pub(super) fn date_of(n: f64) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(n.round() as i32)
        .map(|d| d.format("%-d %b %Y").to_string())
        .unwrap_or_default()
}

/// Readings against the target, with the trend to the target date: only
/// for a benefit with a baseline and a target.
fn chart(id: u32, b: &Benefit, a: &Assessment, today: &str) -> Option<String> {
    let (base, target) = (b.plan.baseline.as_ref()?, b.plan.target.as_ref()?);
    let (x0, xt) = (day_number(&base.date)?, day_number(&target.date)?);
    let mut measured = vec![(x0, base.value.as_f64())];
    // What the status counts: a reading dated after today waits for its day.
    let effective = b.counted(today);
    for r in &effective {
        measured.push((day_number(&r.date)?, r.value.as_f64()));
    }
    let last = *measured.last()?;
    let mut series = vec![
        Series {
            name: "Readings".into(),
            style: Style::Measured,
            points: measured,
        },
        Series {
            name: "Target".into(),
            style: Style::Target,
            points: vec![(x0, target.value.as_f64()), (xt, target.value.as_f64())],
        },
    ];
    // The trend: to where it meets the target, or to where it is on the
    // target date when it falls short.
    let trend_end = match (a.status, &a.reaches_on, a.projected) {
        (Status::OnTrack, Some(on), _) => day_number(on).map(|x| (x, target.value.as_f64())),
        (Status::AtRisk, _, Some(p)) => Some((xt, p.as_f64())),
        _ => None,
    };
    if let Some(end) = trend_end {
        series.push(Series {
            name: "Trend".into(),
            style: Style::Projected,
            points: vec![last, end],
        });
    }
    let y = |v: f64| waymark_core::benefit::Amount::from_f64(v).with_unit(None);
    let desc = format!(
        "From a baseline of {} on {}, {} reading{}{}. The target is {} by {}. {}: {}",
        b.show(base.value),
        date_of(x0),
        effective.len(),
        if effective.len() == 1 { "" } else { "s" },
        effective
            .last()
            .map(|r| format!(", the latest {} on {}", b.show(r.value), date_of(last.0)))
            .unwrap_or_default(),
        b.show(target.value),
        date_of(xt),
        a.status.label(),
        a.why,
    );
    Some(
        LineChart {
            id: format!("benefit-{id}-chart"),
            title: format!("Benefit {id}: {}", b.text),
            desc,
            series,
            x_label: &date_of,
            y_label: &y,
            y_title: b.plan.unit.clone().unwrap_or_default(),
            y_range: None,
        }
        .svg(),
    )
}

/// `GET /engagements/{id}/benefits.csv`: every benefit with its baseline,
/// every reading (corrections included) and its target, one row each.
pub async fn csv(
    State(s): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let e = s.store.engagement(&who.actor, EngagementId(id)).await?;
    let today = waymark_core::today(waymark_store::now());
    let body = crate::export::benefits_csv(&e, &today)
        .map_err(|err| PageError::Internal(err.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"engagement-{id}-benefits.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}
