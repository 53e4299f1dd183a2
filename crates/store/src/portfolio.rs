//! The portfolio dashboard's counts: kept in the transaction that appends
//! an engagement's events (`keep`, from `chain::append`), counted again
//! from the events when missing (`rebuild_portfolio`), and read by filter
//! (`Store::portfolio`). The rules of what counts are in
//! `waymark_core::portfolio`.

use std::collections::BTreeMap;

use sqlx::Row;
use waymark_core::portfolio::{self, Chart, Extras, Figures, Filter, Tally};
use waymark_core::{Actor, AgencyId, AgencyType, Engagement, EngagementId, Event, Timestamp};

use crate::{Backend, Store, StoreError, unjson};

/// The name the capacity is kept under in `programme_settings`.
const CAPACITY: &str = "capacity";

/// (chart, scope, month, item, bucket): a kept row's key, in the order
/// the table's primary key sorts.
type Place = (&'static str, String, i64, String, i64);

/// Adds `t` to `rows` in each of `scopes`.
fn spread(rows: &mut BTreeMap<Place, i64>, scopes: &[String], t: &Tally) {
    for (k, n) in t {
        for scope in scopes {
            let place = (
                k.chart.slug(),
                scope.clone(),
                i64::from(k.month),
                k.key.clone(),
                i64::from(k.bucket),
            );
            *rows.entry(place).or_default() += n;
        }
    }
}

/// The scopes an agency's counts are kept in, as the directory has it now.
async fn scopes_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    agency: AgencyId,
) -> Result<[String; 5], StoreError> {
    // On PostgreSQL under a share lock: a change of the agency's type (which
    // holds the row while it moves the counts) finishes first, or waits
    // for this one, so no count is kept under a type being left.
    let sql = if tx.backend_name() == "PostgreSQL" {
        "SELECT portfolio, agency_type FROM agencies WHERE id = $1 FOR SHARE"
    } else {
        "SELECT portfolio, agency_type FROM agencies WHERE id = $1"
    };
    let row = sqlx::query(sql)
        .bind(agency.0)
        .fetch_optional(&mut **tx)
        .await?;
    let (portfolio, kind) = match row {
        Some(r) => (
            r.try_get::<String, _>("portfolio")?,
            r.try_get::<Option<String>, _>("agency_type")?,
        ),
        None => (String::new(), None),
    };
    let kind: Option<AgencyType> = match kind.as_deref() {
        Some(k) => unjson(k)?,
        None => None,
    };
    Ok(portfolio::scopes(agency, &portfolio, kind))
}

/// Adds `t`, what one command of an engagement of `agency` changed, to
/// each scope the agency's counts are kept in, in key order.
pub(crate) async fn keep(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    agency: AgencyId,
    t: &Tally,
) -> Result<(), StoreError> {
    if t.is_empty() {
        return Ok(());
    }
    let scopes = scopes_of(tx, agency).await?;
    let mut rows: BTreeMap<Place, i64> = BTreeMap::new();
    spread(&mut rows, &scopes, t);
    write(tx, &rows).await
}

/// Moves an agency's counts from the scopes of its type `before` to those
/// of the type it has now (called in the transaction that changes it).
pub(crate) async fn regroup(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    agency: AgencyId,
    before: Option<AgencyType>,
) -> Result<(), StoreError> {
    let now = scopes_of(tx, agency).await?;
    let portfolio = now[1].strip_prefix("p:").unwrap_or_default().to_string();
    let old = portfolio::scopes(agency, &portfolio, before);
    if old == now {
        return Ok(());
    }
    // Its own rows, as they stand.
    let mut own = Tally::new();
    for r in
        sqlx::query("SELECT chart, month, item, bucket, n FROM portfolio_counts WHERE scope = $1")
            .bind(portfolio::agency_scope(agency))
            .fetch_all(&mut **tx)
            .await?
    {
        let Some(chart) = Chart::from_slug(&r.try_get::<String, _>("chart")?) else {
            continue;
        };
        own.insert(
            portfolio::Key {
                chart,
                month: i32::try_from(r.try_get::<i64, _>("month")?).unwrap_or(0),
                key: r.try_get("item")?,
                bucket: i32::try_from(r.try_get::<i64, _>("bucket")?).unwrap_or(0),
            },
            r.try_get("n")?,
        );
    }
    let negated: Tally = own.iter().map(|(k, n)| (k.clone(), -n)).collect();
    // The type's two scopes change; every agency's and the portfolio's do not.
    let mut rows: BTreeMap<Place, i64> = BTreeMap::new();
    spread(&mut rows, &old[2..4], &negated);
    spread(&mut rows, &now[2..4], &own);
    write(tx, &rows).await
}

/// Adds `rows` to the kept counts, a few hundred a statement.
async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &BTreeMap<Place, i64>,
) -> Result<(), StoreError> {
    let all: Vec<(&Place, &i64)> = rows.iter().filter(|(_, n)| **n != 0).collect();
    for chunk in all.chunks(150) {
        let values = (0..chunk.len())
            .map(|i| {
                let b = i * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO portfolio_counts (chart, scope, month, item, bucket, n) VALUES {values} \
             ON CONFLICT (chart, scope, month, item, bucket) DO UPDATE SET n = portfolio_counts.n + excluded.n"
        );
        let mut q = sqlx::query(&sql);
        for ((chart, scope, month, item, bucket), n) in chunk {
            q = q
                .bind(*chart)
                .bind(scope.as_str())
                .bind(*month)
                .bind(item.as_str())
                .bind(*bucket)
                .bind(**n);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The condition on `column` (an agency id) that picks the agencies
/// `filter` names, and its values, numbered from `$first`.
fn agencies(filter: &Filter, column: &str, first: usize) -> (String, Vec<String>) {
    let mut conds = Vec::new();
    let mut binds = Vec::new();
    if let Some(p) = &filter.portfolio {
        binds.push(p.clone());
        conds.push(format!("portfolio = ${}", first + binds.len() - 1));
    }
    if let Some(t) = filter.agency_type {
        // Kept as JSON, as the directory writes it.
        binds.push(format!("\"{}\"", t.slug()));
        conds.push(format!("agency_type = ${}", first + binds.len() - 1));
    }
    (
        format!(
            "{column} IN (SELECT id FROM agencies WHERE {})",
            conds.join(" AND ")
        ),
        binds,
    )
}

impl Store {
    /// The dashboard's figures for the agencies and months `filter` names
    /// (the programme only).
    pub async fn portfolio(
        &self,
        actor: &Actor,
        model: &waymark_model::Model,
        filter: &Filter,
        now: Timestamp,
    ) -> Result<Figures, StoreError> {
        portfolio::may_see(actor)?;
        // Levels from the first month kept; standing counts whatever their
        // month; flows in the range: each a range of the primary key.
        // One scope holds each key once: its rows need no summing.
        let sql = "SELECT chart, month, item, bucket, n FROM portfolio_counts \
              WHERE chart IN ('active', 'diwy') AND scope = $3 AND month <= $2 \
             UNION ALL SELECT chart, month, item, bucket, n FROM portfolio_counts \
              WHERE chart IN ('planned', 'benefit_due', 'benefit_realised') AND scope = $3 \
             UNION ALL SELECT chart, month, item, bucket, n FROM portfolio_counts \
              WHERE chart IN ('started', 'reached', 'weeks', 'decision', 'funding', 'lesson') \
              AND scope = $3 AND month >= $1 AND month <= $2";
        let range = filter.range;
        let q = sqlx::query(sql)
            .bind(i64::from(range.from))
            .bind(i64::from(range.to))
            .bind(filter.scope());
        let mut rows = Vec::new();
        for r in q.fetch_all(&self.pool).await? {
            let Some(chart) = Chart::from_slug(&r.try_get::<String, _>("chart")?) else {
                continue;
            };
            rows.push(portfolio::Row {
                chart,
                month: i32::try_from(r.try_get::<i64, _>("month")?).unwrap_or(0),
                key: r.try_get("item")?,
                bucket: i32::try_from(r.try_get::<i64, _>("bucket")?).unwrap_or(0),
                n: r.try_get::<Option<i64>, _>("n")?.unwrap_or(0),
            });
        }
        // Engagements active now and past their stage's timebox, from the
        // (stage, status, started_at) index.
        let mut active_now = Vec::new();
        for stage in &model.stages {
            let Some(timebox) = stage.timebox else {
                continue;
            };
            let cutoff = waymark_core::overrun_if_started_before(timebox, now);
            let (join, cond, binds) = if filter.is_all() {
                (String::new(), String::new(), Vec::new())
            } else {
                let (c, b) = agencies(filter, "e.agency_id", 3);
                (
                    " JOIN engagements e ON e.id = es.engagement_id".to_string(),
                    format!(" AND {c}"),
                    b,
                )
            };
            let sql = format!(
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN es.started_at < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS past \
                 FROM engagement_stages es{join} WHERE es.stage = $1 AND es.status = 'active'{cond}"
            );
            let mut q = sqlx::query(&sql).bind(stage.slug.as_str()).bind(cutoff.0);
            for b in &binds {
                q = q.bind(b.as_str());
            }
            let r = q.fetch_one(&self.pool).await?;
            let n: i64 = r.try_get("n")?;
            let past: i64 = r.try_get("past")?;
            active_now.push((stage.slug.clone(), n.max(0) as u64, past.max(0) as u64));
        }
        let count = |sql: &'static str, binds: Vec<i64>| async move {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(b);
            }
            let n: i64 = q.fetch_one(&self.pool).await?.try_get(0)?;
            Ok::<u64, StoreError>(n.max(0) as u64)
        };
        let start = portfolio::month_start(range.from).0;
        let end = portfolio::month_start(portfolio::next_month(range.to)).0;
        let enquiries = count(
            "SELECT COUNT(*) FROM enquiries WHERE received_at >= $1 AND received_at < $2",
            vec![start, end],
        )
        .await?;
        let open_enquiries = count(
            "SELECT COUNT(*) FROM enquiries WHERE status = 'open'",
            vec![],
        )
        .await?;
        let surveys = self.survey_scores(filter).await?;
        let capacity = self.capacity().await?.capacity;
        Ok(portfolio::figures(
            model,
            &rows,
            range,
            &waymark_core::today(now),
            Extras {
                enquiries,
                open_enquiries,
                active_now,
                capacity,
                surveys,
            },
        ))
    }

    /// The portfolios agencies are in, in order (the dashboard's filter).
    pub async fn portfolios(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT portfolio FROM agencies ORDER BY portfolio")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Every sent survey's scores (an engagement survey's only when its
    /// agency is one `filter` names; the others only unfiltered).
    async fn survey_scores(
        &self,
        filter: &Filter,
    ) -> Result<Vec<portfolio::SurveyScore>, StoreError> {
        let (cond, binds) = if filter.is_all() {
            (String::new(), Vec::new())
        } else {
            let (c, b) = agencies(filter, "agency_id", 1);
            (format!(" AND {c}"), b)
        };
        let sql = format!(
            "SELECT id, definition, responses FROM surveys WHERE sent = 1{cond} ORDER BY id DESC LIMIT 200"
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let mut found = Vec::new();
        for r in q.fetch_all(&self.pool).await? {
            let d: waymark_core::survey::Definition =
                unjson(&r.try_get::<String, _>("definition")?)?;
            let id: i64 = r.try_get("id")?;
            let n: i64 = r.try_get("responses")?;
            found.push((id, d, n.max(0) as u64));
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids = crate::placeholders(1, found.len());
        let sql = format!(
            "SELECT survey_id, question, value, n FROM survey_counts WHERE survey_id IN ({ids})"
        );
        let mut q = sqlx::query(&sql);
        for (id, ..) in &found {
            q = q.bind(*id);
        }
        let mut counts: BTreeMap<i64, Vec<(usize, i64, u64)>> = BTreeMap::new();
        for r in q.fetch_all(&self.pool).await? {
            let question: i64 = r.try_get("question")?;
            let n: i64 = r.try_get("n")?;
            counts.entry(r.try_get("survey_id")?).or_default().push((
                usize::try_from(question).unwrap_or(usize::MAX),
                r.try_get("value")?,
                n.max(0) as u64,
            ));
        }
        Ok(found
            .iter()
            .map(|(id, d, n)| {
                portfolio::survey_score(*id, d, *n, counts.get(id).map_or(&[][..], |c| c))
            })
            .collect())
    }

    /// How many Do it With You engagements the programme supports at once,
    /// when it was set and by whom.
    pub async fn capacity(&self) -> Result<CapacitySetting, StoreError> {
        Ok(
            match crate::retention::setting(&self.pool, CAPACITY).await? {
                None => CapacitySetting {
                    capacity: portfolio::CAPACITY_DEFAULT,
                    set_by: None,
                    set_at: None,
                },
                Some((value, set_by, set_at)) => CapacitySetting {
                    capacity: value.parse().map_err(|_| {
                        StoreError::Corrupt("the programme's capacity is not a number".into())
                    })?,
                    set_by,
                    set_at: Some(set_at),
                },
            },
        )
    }

    /// Sets the capacity (the programme; `capacity` already read by
    /// `portfolio::parse_capacity`).
    pub async fn set_capacity(
        &self,
        by: &Actor,
        capacity: u32,
        now: Timestamp,
    ) -> Result<CapacitySetting, StoreError> {
        portfolio::may_see(by)?;
        if !portfolio::CAPACITY_RANGE.contains(&capacity) {
            return Err(StoreError::Domain(
                portfolio::parse_capacity(&capacity.to_string())
                    .err()
                    .unwrap_or(waymark_core::DomainError::NotFound),
            ));
        }
        let _turn = self.write_turn().await;
        crate::retention::put_setting(&self.pool, CAPACITY, &capacity.to_string(), by, now).await?;
        tracing::info!(by = by.person.0, capacity, "programme capacity set");
        self.capacity().await
    }

    /// Counts every engagement's kept portfolio rows again from its events,
    /// if none are kept yet and there are engagements (a database from
    /// before the counts, an import, generated records). Returns whether
    /// it counted.
    pub async fn rebuild_portfolio_if_missing(&self) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        // Take the write lock first, so that two instances opening at once
        // count once.
        match self.backend {
            Backend::Postgres => {
                sqlx::query("LOCK TABLE portfolio_counts IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            Backend::Sqlite => {
                sqlx::query("DELETE FROM portfolio_counts WHERE chart = ''")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let kept: Option<String> = sqlx::query_scalar("SELECT scope FROM portfolio_counts LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let any: Option<i64> = sqlx::query_scalar("SELECT id FROM engagements LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if kept.is_some() || any.is_none() {
            // Ended now, not when the pool gets round to it: SQLite's write
            // lock would stay held until then.
            tx.rollback().await?;
            return Ok(false);
        }
        let rows = count_all(&mut tx).await?;
        write(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The capacity setting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapacitySetting {
    pub capacity: u32,
    /// None while the default stands.
    pub set_by: Option<i64>,
    pub set_at: Option<i64>,
}

/// Every engagement's portfolio rows counted from its events: each
/// command's events (those sharing a version, or for older events a time
/// and a command) replayed as `chain::append` applies them.
async fn count_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
) -> Result<BTreeMap<Place, i64>, StoreError> {
    let mut out: BTreeMap<Place, i64> = BTreeMap::new();
    let mut scopes: BTreeMap<i64, [String; 5]> = BTreeMap::new();
    for r in sqlx::query("SELECT id, portfolio, agency_type FROM agencies")
        .fetch_all(&mut **tx)
        .await?
    {
        let id: i64 = r.try_get("id")?;
        let kind: Option<String> = r.try_get("agency_type")?;
        let kind: Option<AgencyType> = match kind.as_deref() {
            Some(k) => unjson(k)?,
            None => None,
        };
        let portfolio: String = r.try_get("portfolio")?;
        scopes.insert(id, portfolio::scopes(AgencyId(id), &portfolio, kind));
    }
    let mut after = 0i64;
    loop {
        let ids: Vec<(i64, i64)> = sqlx::query(
            "SELECT id, agency_id FROM engagements WHERE id > $1 ORDER BY id LIMIT 200",
        )
        .bind(after)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
        let Some(last) = ids.last() else {
            return Ok(out);
        };
        let (first, last) = (ids[0].0, last.0);
        after = last;
        let agency_of: BTreeMap<i64, i64> = ids.into_iter().collect();
        let rows = sqlx::query(
            "SELECT engagement_id, actor_id, at, payload FROM events \
             WHERE engagement_id BETWEEN $1 AND $2 ORDER BY engagement_id, seq",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&mut **tx)
        .await?;
        // Event by event, as `chain::append` keeps them: the same counts
        // whatever grouped the events into commands (an export keeps no
        // versions).
        let mut current: Option<(i64, Engagement)> = None;
        let none = portfolio::scopes(AgencyId(0), "", None);
        for r in &rows {
            let id: i64 = r.try_get("engagement_id")?;
            if current.as_ref().is_none_or(|(c, _)| *c != id) {
                let agency = AgencyId(agency_of.get(&id).copied().unwrap_or(0));
                current = Some((id, Engagement::new(EngagementId(id), agency)));
            }
            let Some((_, e)) = current.as_mut() else {
                continue;
            };
            let at = Timestamp(r.try_get("at")?);
            let actor = waymark_core::PersonId(r.try_get("actor_id")?);
            let ev: Event = unjson(&r.try_get::<String, _>("payload")?)?;
            let before = portfolio::Marks::of(e);
            e.apply(&ev, actor, at);
            let changed = portfolio::changes(&before, e, std::slice::from_ref(&ev), at);
            spread(&mut out, scopes.get(&e.agency.0).unwrap_or(&none), &changed);
        }
        out.retain(|_, n| *n != 0);
    }
}

/// Every kept portfolio row compared with a count from the events: a
/// sentence for each that differs, for `audit verify`.
pub(crate) async fn drift(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
) -> Result<Vec<String>, StoreError> {
    let counted = count_all(tx).await?;
    let mut kept: BTreeMap<Place, i64> = BTreeMap::new();
    for r in sqlx::query("SELECT chart, scope, month, item, bucket, n FROM portfolio_counts")
        .fetch_all(&mut **tx)
        .await?
    {
        let chart =
            Chart::from_slug(&r.try_get::<String, _>("chart")?).map_or("unknown", Chart::slug);
        let n: i64 = r.try_get("n")?;
        if n != 0 {
            kept.insert(
                (
                    chart,
                    r.try_get("scope")?,
                    r.try_get("month")?,
                    r.try_get("item")?,
                    r.try_get("bucket")?,
                ),
                n,
            );
        }
    }
    let mut out = Vec::new();
    let places: std::collections::BTreeSet<&Place> = kept.keys().chain(counted.keys()).collect();
    for p in places {
        let (k, c) = (
            kept.get(p).copied().unwrap_or(0),
            counted.get(p).copied().unwrap_or(0),
        );
        if k != c {
            out.push(format!(
                "{} in scope {}, {}, {}{}: kept {k}, the events count {c}",
                p.0,
                printable(&p.1),
                portfolio::month_text(i32::try_from(p.2).unwrap_or(0)),
                printable(&p.3.replace(portfolio::SEPARATOR, " / ")),
                if p.0 == Chart::Weeks.slug() {
                    format!(" ({} whole weeks)", p.4)
                } else {
                    String::new()
                }
            ));
        }
    }
    Ok(out)
}

/// Text for a terminal: control characters written as escapes, so a
/// tampered row cannot move the cursor or ring the bell.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
