//! The portfolio through the API: the dashboard's figures, filtered as
//! its page is, and the programme's capacity. The same store calls and
//! core rules as `/portfolio`; to anyone but the programme it does not exist.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use waymark_core::portfolio::{self, Figures, Filter};
use waymark_store::{CapacitySetting, now};

use super::contract::Body;
use super::{ApiState, Caller, Problem, invalid_fields, not_found, query};

/// The portfolio is the programme's: to anyone else there is no such route.
fn may_see(actor: &waymark_core::Actor) -> Result<(), Problem> {
    portfolio::may_see(actor).map_err(|_| not_found("route"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct PortfolioQuery {
    /// Only agencies in this portfolio, as the directory names it (empty:
    /// every portfolio).
    #[param(max_length = 200)]
    portfolio: Option<String>,
    /// Only agencies of this type (empty: every type).
    #[param(pattern = "^(lean|aligned|self_directed|complex)?$")]
    agency_type: Option<String>,
    /// The first month, `YYYY-MM` (empty or left out: eleven months
    /// before `to`).
    #[param(pattern = "^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    from: Option<String>,
    /// The last month, `YYYY-MM` (empty or left out: this month in
    /// Canberra); the range covers at most 60 months.
    #[param(pattern = "^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    to: Option<String>,
}

/// The portfolio dashboard's figures: engagements by stage over time, the
/// funnel, time in stage against timeboxes, stages past their timebox,
/// capacity, decisions, funding, benefits and survey scores (the
/// programme; to others it does not exist).
#[utoipa::path(get, path = "/api/v1/portfolio", params(PortfolioQuery), responses(
    (status = 200, body = Figures),
    (status = 404, body = Problem),
    (status = 422, body = Problem, description = "Each problem with the filter, by its field"),
))]
pub(super) async fn figures(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    q: Result<Query<PortfolioQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Figures>, Problem> {
    may_see(&actor)?;
    let q = query(q)?;
    let known = s.store.portfolios().await?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let filter = Filter::read(
        &text(&q.portfolio),
        &text(&q.agency_type),
        &text(&q.from),
        &text(&q.to),
        &known,
        now(),
    )
    .map_err(|p| invalid_fields(&p))?;
    Ok(Json(
        s.store.portfolio(&actor, &s.model, &filter, now()).await?,
    ))
}

/// How many Do it With You engagements the programme supports at once.
#[utoipa::path(get, path = "/api/v1/portfolio/capacity", responses(
    (status = 200, body = CapacitySetting),
    (status = 404, body = Problem),
))]
pub(super) async fn capacity(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
) -> Result<Json<CapacitySetting>, Problem> {
    may_see(&actor)?;
    Ok(Json(s.store.capacity().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CapacityRequest {
    /// Engagements at once: 1 to 500.
    #[schema(minimum = 1, maximum = 500)]
    capacity: u32,
}

/// Sets the capacity (the programme).
#[utoipa::path(put, path = "/api/v1/portfolio/capacity", request_body = CapacityRequest, responses(
    (status = 200, body = CapacitySetting),
    (status = 404, body = Problem),
    (status = 422, body = Problem),
))]
pub(super) async fn set_capacity(
    State(s): State<Arc<ApiState>>,
    Caller(actor): Caller,
    Body(req): Body<CapacityRequest>,
) -> Result<Json<CapacitySetting>, Problem> {
    may_see(&actor)?;
    let n = portfolio::parse_capacity(&req.capacity.to_string())?;
    Ok(Json(s.store.set_capacity(&actor, n, now()).await?))
}
