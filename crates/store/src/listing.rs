//! Lists and the dashboard: pages of summaries filtered in SQL by what the
//! actor may see (`scope`, tested against the core's `Actor::access`).

use serde::Serialize;
use sqlx::Row;
use waymark_core::{Actor, AgencyId, EngagementId, PersonId, Summary, Timestamp};

use crate::*;

impl Store {
    /// One page of the engagements `actor` may see, newest first, as
    /// summaries, with the total the filter matches. The access rule is
    /// applied in SQL (agency membership, partner assignment), so the cost
    /// follows the page size, not the number of engagements.
    pub async fn engagements(
        &self,
        actor: &Actor,
        filter: &ListFilter,
    ) -> Result<Listing, StoreError> {
        let (rows, total, _) = self.summaries_json(actor, filter).await?;
        Ok(Listing {
            items: rows.iter().map(|s| unjson(s)).collect::<Result<_, _>>()?,
            total,
        })
    }

    /// The engagements `actor` takes part in, newest first, at most `limit`
    /// of them, whole: those of their agencies and those they are assigned
    /// to (programme staff see every engagement, but take part only in the
    /// ones they are assigned to). What "Waiting for you" is made from.
    pub async fn involving(
        &self,
        actor: &Actor,
        limit: u32,
    ) -> Result<Vec<waymark_core::Engagement>, StoreError> {
        // Two indexed reads (by agency, by assignment) joined, so neither
        // backend scans every engagement to honour an OR.
        let mut binds: Vec<i64> = actor.agencies().map(|a| a.0).collect();
        let mut ids: Vec<String> = Vec::new();
        if !binds.is_empty() {
            ids.push(format!(
                "SELECT id FROM engagements WHERE agency_id IN ({})",
                placeholders(1, binds.len())
            ));
        }
        binds.push(actor.person.0);
        ids.push(format!(
            "SELECT engagement_id FROM assignments WHERE person_id = ${}",
            binds.len()
        ));
        let sql = format!(
            "SELECT state FROM engagements WHERE id IN ({}) ORDER BY id DESC LIMIT {}",
            ids.join(" UNION "),
            limit.min(100)
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        let mut out = Vec::new();
        for row in q.fetch_all(&self.pool).await? {
            let e: waymark_core::Engagement = unjson(&row.try_get::<String, _>(0)?)?;
            // The SQL chose by involvement; the core still says who sees.
            if actor.access(&e) != waymark_core::Access::None {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The same page as [`Store::engagements`], each summary as the JSON
    /// it is stored as, for callers that only pass it on (the API's list),
    /// with the total the filter matches (the cursor aside) and, when the
    /// page is full, the last engagement on it: the next page's cursor.
    pub async fn summaries_json(
        &self,
        actor: &Actor,
        filter: &ListFilter,
    ) -> Result<(Vec<String>, u64, Option<EngagementId>), StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<i64> = Vec::new();
        match scope(actor, "", &mut binds) {
            Scope::All => {}
            Scope::Nothing => return Ok((Vec::new(), 0, None)),
            Scope::Where(c) => clauses.push(c),
        }
        if let Some(a) = filter.agency {
            binds.push(a.0);
            clauses.push(format!("agency_id = ${}", binds.len()));
        }
        let wh = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let total = self.total(actor, filter, &wh, &binds).await?;
        // The cursor narrows the page, not the total.
        let wh = match filter.before {
            Some(before) => {
                binds.push(before.0);
                let c = format!("id < ${}", binds.len());
                if wh.is_empty() {
                    format!(" WHERE {c}")
                } else {
                    format!("{wh} AND {c}")
                }
            }
            None => wh,
        };
        let n = binds.len();
        let page_sql = format!(
            "SELECT id, summary FROM engagements{wh} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = sqlx::query(&page_sql);
        for b in &binds {
            page = page.bind(*b);
        }
        let rows = page
            .bind(i64::from(filter.limit.clamp(1, MAX_PAGE)))
            .bind(i64::from(filter.offset))
            .fetch_all(&self.pool)
            .await?;
        let items: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("summary"))
            .collect::<Result<_, _>>()?;
        let last = match rows.last() {
            Some(r) if items.len() as u32 == filter.limit.clamp(1, MAX_PAGE) => {
                Some(EngagementId(r.try_get("id")?))
            }
            _ => None,
        };
        Ok((items, total as u64, last))
    }

    /// How many engagements `actor` may see are active in `stage`.
    pub async fn count_active(&self, actor: &Actor, stage: &str) -> Result<u64, StoreError> {
        let mut binds = Vec::new();
        let sql = match scope(actor, "e.", &mut binds) {
            Scope::Nothing => return Ok(0),
            // The programme sees every engagement: the kept count answers.
            Scope::All => {
                return Ok(self
                    .kept_active_counts()
                    .await?
                    .get(stage)
                    .copied()
                    .unwrap_or(0));
            }
            // Their own engagements drive the join (CROSS JOIN keeps that
            // order on SQLite), so a few engagements cost a few lookups.
            Scope::Where(c) => format!(
                "SELECT COUNT(*) FROM engagements e CROSS JOIN engagement_stages es \
                 WHERE es.engagement_id = e.id AND {c} AND es.stage = ${} AND es.status = 'active'",
                binds.len() + 1
            ),
        };
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        let n: i64 = q.bind(stage).fetch_one(&self.pool).await?.try_get(0)?;
        Ok(n as u64)
    }

    /// Engagements `actor` may see that are active in `stage`, by when
    /// their current cycle of it began: the newest first, or with
    /// `started_before`, only those that began before then, the oldest
    /// first (for overdue lists).
    pub async fn active_in_stage(
        &self,
        actor: &Actor,
        stage: &str,
        started_before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Summary>, StoreError> {
        let mut binds = Vec::new();
        let Some((from, mut wh)) = stage_scope(actor, &mut binds) else {
            return Ok(Vec::new());
        };
        let order = match started_before {
            Some(t) => {
                binds.push(t.0);
                wh.push_str(&format!(" AND es.started_at < ${}", binds.len()));
                "ASC"
            }
            None => "DESC",
        };
        let n = binds.len();
        let sql = format!(
            "SELECT e.summary FROM {from} WHERE es.stage = ${} AND es.status = 'active'{wh} \
             ORDER BY es.started_at {order}, es.engagement_id {order} LIMIT ${}",
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        q.bind(stage)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| unjson(&r.try_get::<String, _>(0)?))
            .collect()
    }

    /// The latest events on engagements `actor` may see, newest first.
    pub async fn recent_events(
        &self,
        actor: &Actor,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        const COLUMNS: &str = "engagement_id, seq, actor_id, at, command, payload, hash";
        let mut binds = Vec::new();
        let rows = match scope(actor, "", &mut binds) {
            Scope::Nothing => return Ok(Vec::new()),
            // Newest first over the whole log, straight from its time index.
            Scope::All => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM events ORDER BY at DESC, engagement_id DESC, seq DESC LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            // The latest of each of their most recently changed engagements
            // (by primary key), merged: a few engagements, a few rows.
            Scope::Where(c) => {
                let sql =
                    format!("SELECT id FROM engagements WHERE {c} ORDER BY updated_at DESC LIMIT 50");
                let mut q = sqlx::query(&sql);
                for b in &binds {
                    q = q.bind(*b);
                }
                let mut rows = Vec::new();
                for r in q.fetch_all(&self.pool).await? {
                    let id: i64 = r.try_get(0)?;
                    rows.extend(
                        sqlx::query(&format!(
                            "SELECT {COLUMNS} FROM events WHERE engagement_id = $1 ORDER BY seq DESC LIMIT $2"
                        ))
                        .bind(id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?,
                    );
                }
                rows
            }
        };
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(StoredEvent {
                    engagement: EngagementId(r.try_get("engagement_id")?),
                    seq: r.try_get("seq")?,
                    actor: PersonId(r.try_get("actor_id")?),
                    at: Timestamp(r.try_get("at")?),
                    command: r.try_get("command")?,
                    event: unjson(&r.try_get::<String, _>("payload")?)?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|e| std::cmp::Reverse((e.at, e.engagement, e.seq)));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// What needs `actor`'s attention: each of `stages` with how many
    /// engagements are active in it and the newest few, Discovery that has
    /// run past `overdue_after` weeks (oldest first), and recent activity.
    /// The workspace's home page and the API's dashboard both read this.
    pub async fn dashboard(
        &self,
        actor: &Actor,
        model: &waymark_model::Model,
        now: Timestamp,
    ) -> Result<Dashboard, StoreError> {
        let mut by_stage = Vec::with_capacity(model.stages.len());
        let mut overdue: Vec<Summary> = Vec::new();
        // The programme's counts are kept: one read for every stage.
        let kept = match scope(actor, "e.", &mut Vec::new()) {
            Scope::All => Some(self.kept_active_counts().await?),
            _ => None,
        };
        // Every stage's newest and (past its timebox, by the core's count
        // of weeks) longest-running engagements, in one query.
        let lists: Vec<StageList> = model
            .stages
            .iter()
            .flat_map(|stage| {
                let newest = StageList {
                    stage: &stage.slug,
                    started_before: None,
                    limit: NEWEST_SHOWN,
                };
                let late = stage.timebox.map(|t| StageList {
                    stage: &stage.slug,
                    started_before: Some(waymark_core::overrun_if_started_before(t, now)),
                    limit: OVERDUE_SHOWN,
                });
                std::iter::once(newest).chain(late)
            })
            .collect();
        let mut found = self.active_in_stages(actor, &lists).await?.into_iter();
        for list in &lists {
            let items = found.next().unwrap_or_default();
            if list.started_before.is_some() {
                for s in items {
                    if !overdue.iter().any(|o| o.id == s.id) {
                        overdue.push(s);
                    }
                }
                continue;
            }
            let active = match &kept {
                Some(k) => k.get(list.stage).copied().unwrap_or(0),
                None => self.count_active(actor, list.stage).await?,
            };
            by_stage.push(StageColumn {
                stage: list.stage.to_string(),
                active,
                newest: items,
            });
        }
        overdue.truncate(OVERDUE_SHOWN as usize);
        Ok(Dashboard {
            by_stage,
            overdue,
            recent: self.recent_events(actor, 12).await?,
        })
    }

    /// Several `active_in_stage` lists in one query (a `UNION ALL` of the
    /// same indexed reads), each list in its own order.
    async fn active_in_stages(
        &self,
        actor: &Actor,
        lists: &[StageList<'_>],
    ) -> Result<Vec<Vec<Summary>>, StoreError> {
        let mut out: Vec<Vec<(i64, i64, Summary)>> = vec![Vec::new(); lists.len()];
        let mut binds = Vec::new();
        let Some((from, wh)) = stage_scope(actor, &mut binds) else {
            return Ok(vec![Vec::new(); lists.len()]);
        };
        // Bound after the scope's values: each list's stage, then the
        // times (bound, not written in: a time in the text made a new
        // statement every second, prepared and planned again each time).
        let mut texts: Vec<String> = Vec::new();
        let mut times: Vec<i64> = Vec::new();
        let mut parts = Vec::new();
        for (k, list) in lists.iter().enumerate() {
            texts.push(list.stage.to_string());
            let stage = binds.len() + texts.len();
            let (order, before) = match list.started_before {
                Some(t) => {
                    times.push(t.0);
                    let at = binds.len() + lists.len() + times.len();
                    ("ASC", format!(" AND es.started_at < ${at}"))
                }
                None => ("DESC", String::new()),
            };
            parts.push(format!(
                "SELECT * FROM (SELECT {k} AS k, es.started_at AS started_at, es.engagement_id AS id, e.summary AS summary \
                 FROM {from} WHERE es.stage = ${stage} AND es.status = 'active'{wh}{before} \
                 ORDER BY es.started_at {order}, es.engagement_id {order} LIMIT {}) AS l{k}",
                list.limit
            ));
        }
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = parts.join(" UNION ALL ");
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        for t in &texts {
            q = q.bind(t.as_str());
        }
        for t in &times {
            q = q.bind(*t);
        }
        for r in q.fetch_all(&self.pool).await? {
            let k: i64 = r.try_get("k")?;
            let Some(list) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) else {
                continue;
            };
            list.push((
                r.try_get::<Option<i64>, _>("started_at")?.unwrap_or(0),
                r.try_get("id")?,
                unjson(&r.try_get::<String, _>("summary")?)?,
            ));
        }
        Ok(out
            .into_iter()
            .zip(lists)
            .map(|(mut rows, list)| {
                rows.sort_by_key(|(at, id, _)| (*at, *id));
                if list.started_before.is_none() {
                    rows.reverse();
                }
                rows.into_iter().map(|(_, _, s)| s).collect()
            })
            .collect())
    }

    /// Every stage's kept count of active engagements (the programme's view).
    async fn kept_active_counts(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut out = HashMap::new();
        for r in sqlx::query("SELECT stage, n FROM stage_active")
            .fetch_all(&self.pool)
            .await?
        {
            let n: i64 = r.try_get("n")?;
            out.insert(r.try_get::<String, _>("stage")?, n.max(0) as u64);
        }
        Ok(out)
    }

    /// How many engagements a list matches. Where the access rule and the
    /// filter are only about agencies, the kept per-agency counts answer;
    /// a partner's list (by assignment) is counted directly, and is short.
    pub(crate) async fn total(
        &self,
        actor: &Actor,
        filter: &ListFilter,
        wh: &str,
        binds: &[i64],
    ) -> Result<i64, StoreError> {
        let row = if actor.is_partner() && !actor.is_programme() {
            let sql = format!("SELECT COUNT(*) FROM engagements{wh}");
            let mut q = sqlx::query(&sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_one(&self.pool).await?
        } else {
            let mut agencies: Option<Vec<i64>> = if actor.is_programme() {
                None
            } else {
                Some(actor.agencies().map(|a| a.0).collect())
            };
            if let Some(a) = filter.agency {
                agencies = Some(match agencies {
                    None => vec![a.0],
                    Some(mine) => mine.into_iter().filter(|m| *m == a.0).collect(),
                });
            }
            match agencies {
                // SQLite counts every engagement from its smallest index,
                // faster than summing the counts; PostgreSQL's count must
                // visit rows that writes have changed, so it sums them.
                None if self.backend == Backend::Sqlite => {
                    sqlx::query("SELECT COUNT(*) FROM engagements")
                        .fetch_one(&self.pool)
                        .await?
                }
                None => {
                    sqlx::query(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM agency_engagements",
                    )
                    .fetch_one(&self.pool)
                    .await?
                }
                Some(ids) if ids.is_empty() => return Ok(0),
                Some(ids) => {
                    let params = placeholders(1, ids.len());
                    let sql = format!(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM agency_engagements WHERE agency_id IN ({})",
                        params
                    );
                    let mut q = sqlx::query(&sql);
                    for id in &ids {
                        q = q.bind(*id);
                    }
                    q.fetch_one(&self.pool).await?
                }
            }
        };
        Ok(row.try_get(0)?)
    }
}

/// The largest page a list returns.
pub const MAX_PAGE: u32 = 500;

/// Which engagements to list, and which page of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFilter {
    pub agency: Option<AgencyId>,
    pub limit: u32,
    pub offset: u32,
    /// Only engagements older than this one (a cursor: the last of the
    /// page before). Ids only grow, so a walk by cursor neither skips nor
    /// repeats an engagement while others are started.
    pub before: Option<EngagementId>,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            agency: None,
            limit: 50,
            offset: 0,
            before: None,
        }
    }
}

/// One stage's column on a dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageColumn {
    pub stage: String,
    /// How many engagements are active in the stage.
    pub active: u64,
    /// The five that entered it most recently.
    pub newest: Vec<Summary>,
}

/// What needs a person's attention, across the engagements they may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    pub by_stage: Vec<StageColumn>,
    /// Engagements past a stage's timebox, stage by stage, the
    /// longest-running first.
    pub overdue: Vec<Summary>,
    /// The latest events, newest first.
    pub recent: Vec<StoredEvent>,
}

/// How many overrunning engagements the dashboard lists.
pub(crate) const OVERDUE_SHOWN: u32 = 20;

/// The tables and the access condition of a read of active stages that
/// `actor` may see (`None`: nothing), adding the condition's values to
/// `binds`. The programme's read starts from the (stage, status,
/// started_at) index, which gives the rows in order.
fn stage_scope(actor: &Actor, binds: &mut Vec<i64>) -> Option<(&'static str, String)> {
    match scope(actor, "e.", binds) {
        Scope::Nothing => None,
        Scope::All => Some((
            "engagement_stages es JOIN engagements e ON e.id = es.engagement_id",
            String::new(),
        )),
        Scope::Where(c) => Some((
            "engagements e CROSS JOIN engagement_stages es",
            format!(" AND es.engagement_id = e.id AND {c}"),
        )),
    }
}

/// How many of a stage's newest engagements its column on the home page shows.
const NEWEST_SHOWN: u32 = 5;

/// One list of a stage's active engagements: its newest (`started_before`
/// none), or those that began before a time, longest-running first.
struct StageList<'a> {
    stage: &'a str,
    started_before: Option<Timestamp>,
    limit: u32,
}

/// One page of a list, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub items: Vec<Summary>,
    pub total: u64,
}

/// Which engagements an actor may see, as SQL over the engagements table.
pub(crate) enum Scope {
    All,
    Nothing,
    Where(String),
}

/// The access rule of `Actor::access`, in SQL: the programme sees every
/// engagement; agency members their agencies'; partners those they are
/// assigned to. `t` prefixes the engagements table's columns ("e." or "");
/// values are pushed onto `binds` and numbered after those already there.
pub(crate) fn scope(actor: &Actor, t: &str, binds: &mut Vec<i64>) -> Scope {
    if actor.is_programme() {
        return Scope::All;
    }
    let mut any: Vec<String> = Vec::new();
    for a in actor.agencies() {
        binds.push(a.0);
        any.push(format!("{t}agency_id = ${}", binds.len()));
    }
    if actor.is_partner() {
        binds.push(actor.person.0);
        any.push(format!(
            "{t}id IN (SELECT engagement_id FROM assignments WHERE person_id = ${})",
            binds.len()
        ));
    }
    if any.is_empty() {
        Scope::Nothing
    } else {
        Scope::Where(format!("({})", any.join(" OR ")))
    }
}
