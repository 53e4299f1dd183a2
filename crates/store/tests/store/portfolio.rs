//! The portfolio's kept counts: kept with each command, the same as a count
//! from the events, filtered by portfolio and agency type, counted again
//! after an import or when missing, and the programme's capacity.

use waymark_core::portfolio::{Filter, Range};
use waymark_core::*;
use waymark_store::StoreError;

use crate::{NOW, World, stores, world};

fn filter(portfolio: Option<&str>, agency_type: Option<AgencyType>) -> Filter {
    let to = waymark_core::portfolio::month_of(NOW);
    Filter {
        portfolio: portfolio.map(str::to_string),
        agency_type,
        range: Range { from: to, to },
    }
}

async fn into_discovery(w: &World, who: &Actor, e: &Engagement, funder: Funder) -> Engagement {
    w.store
        .execute(
            who,
            e.id,
            e.version,
            &Command::Decide {
                stage: "engagement".into(),
                at: DecisionAt::Point { index: 0 },
                option: 0,
                rationale: "We need to understand our readiness first.".into(),
                funded_by: funder,
                note: None,
            },
            Timestamp(NOW.0 + 3600),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn the_portfolio_is_kept_with_each_command_and_filtered_by_agency() {
    for store in stores("portfolio").await {
        let w = world(store).await;
        let model = w.store.model(&w.model).await.unwrap();
        let ours = w.start().await;
        into_discovery(&w, &w.member, &ours, Funder::Dta).await;
        let theirs = w
            .store
            .start_engagement(&w.staff, w.other_agency, Mode::DoItWithYou, &w.model, NOW)
            .await
            .unwrap();
        into_discovery(&w, &w.other, &theirs, Funder::Agency).await;
        w.start().await;

        let all = w
            .store
            .portfolio(&w.staff, &model, &filter(None, None), NOW)
            .await
            .unwrap();
        let count = |f: &waymark_core::portfolio::Figures, key: &str| {
            f.funnel.iter().find(|t| t.key == key).unwrap().count
        };
        assert_eq!(count(&all, "started"), 3);
        assert_eq!(count(&all, "discovery"), 2);
        let active = |f: &waymark_core::portfolio::Figures, stage: &str| {
            *f.by_stage
                .iter()
                .find(|s| s.stage == stage)
                .unwrap()
                .active
                .last()
                .unwrap()
        };
        assert_eq!(active(&all, "discovery"), 2);
        let funded = |f: &waymark_core::portfolio::Figures, key: &str| {
            f.funding.iter().find(|t| t.key == key).unwrap().count
        };
        assert_eq!((funded(&all, "dta"), funded(&all, "agency")), (1, 1));
        // Three Do it With You engagements active.
        assert_eq!(all.capacity.quarters.last().unwrap().active, 3);
        assert_eq!(all.capacity.capacity, 6);

        // Only the aligned agency: ours.
        let aligned = w
            .store
            .portfolio(
                &w.staff,
                &model,
                &filter(None, Some(AgencyType::Aligned)),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(count(&aligned, "started"), 2);
        assert_eq!(active(&aligned, "discovery"), 1);
        assert_eq!(
            (funded(&aligned, "dta"), funded(&aligned, "agency")),
            (1, 0)
        );
        let finance = w
            .store
            .portfolio(&w.staff, &model, &filter(Some("Finance"), None), NOW)
            .await
            .unwrap();
        assert_eq!(count(&finance, "started"), 3);
        let nobody = w
            .store
            .portfolio(&w.staff, &model, &filter(Some("Health"), None), NOW)
            .await
            .unwrap();
        assert_eq!(count(&nobody, "started"), 0);

        // An agency's new type takes its counts with it.
        let lean = filter(None, Some(AgencyType::Lean));
        let before = w
            .store
            .portfolio(&w.staff, &model, &lean, NOW)
            .await
            .unwrap();
        assert_eq!(count(&before, "started"), 0);
        w.store
            .set_agency_type(
                &w.staff,
                w.other_agency,
                AgencyType::Lean,
                &"Confirmed at the quarterly review.".into(),
                NOW,
            )
            .await
            .unwrap();
        let after = w
            .store
            .portfolio(&w.staff, &model, &lean, NOW)
            .await
            .unwrap();
        assert_eq!(count(&after, "started"), 1);
        assert_eq!((funded(&after, "dta"), funded(&after, "agency")), (0, 1));
        let both = w
            .store
            .portfolio(
                &w.staff,
                &model,
                &filter(Some("Finance"), Some(AgencyType::Lean)),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(count(&both, "started"), 1);
        let everyone = w
            .store
            .portfolio(&w.staff, &model, &filter(None, None), NOW)
            .await
            .unwrap();
        assert_eq!(everyone, all, "every agency's counts do not move");

        // What is kept is what the events count.
        let v = w.store.verify().await.unwrap();
        assert!(v.portfolio_drift.is_empty(), "{:?}", v.portfolio_drift);
        assert!(v.intact());

        // Only the programme sees it.
        for who in [&w.member, &w.other] {
            let r = w
                .store
                .portfolio(who, &model, &filter(None, None), NOW)
                .await;
            assert!(
                matches!(r, Err(StoreError::Domain(DomainError::NotFound))),
                "{r:?}"
            );
        }

        // A count changed behind the store's back is found.
        sqlx::query(
            "UPDATE portfolio_counts SET n = n + 5 WHERE chart = 'reached' AND scope = 'all'",
        )
        .execute(w.store.pool())
        .await
        .unwrap();
        let v = w.store.verify().await.unwrap();
        assert!(!v.intact());
        assert!(
            v.portfolio_drift
                .iter()
                .any(|d| d.starts_with("reached in scope all, ")),
            "{:?}",
            v.portfolio_drift
        );

        // A tampered row's words cannot drive the terminal.
        sqlx::query("INSERT INTO portfolio_counts (chart, scope, month, item, bucket, n) VALUES ('decision', 'all', 202312, $1, 0, 5)")
            .bind("Evil\u{1b}[31mQ\nfake line\u{1f}Opt\r\u{7}ion")
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        let evil = v
            .portfolio_drift
            .iter()
            .find(|d| d.contains("Evil"))
            .unwrap();
        assert!(!evil.chars().any(char::is_control), "{evil:?}");
        assert!(
            evil.contains("decision in scope all, 2023-12, Evil\\u{1b}[31mQ\\u{a}fake line / Opt"),
            "{evil}"
        );

        // Lost counts are counted again from the events when missing.
        sqlx::query("DELETE FROM portfolio_counts")
            .execute(w.store.pool())
            .await
            .unwrap();
        assert!(w.store.rebuild_portfolio_if_missing().await.unwrap());
        assert!(!w.store.rebuild_portfolio_if_missing().await.unwrap());
        let again = w
            .store
            .portfolio(&w.staff, &model, &filter(None, None), NOW)
            .await
            .unwrap();
        assert_eq!(again, all);

        // An import counts them from the imported events.
        let x = w.store.export().await.unwrap();
        for target in stores("portfolio-import").await {
            target.import(&x).await.unwrap();
            let imported = target
                .portfolio(&w.staff, &model, &filter(None, None), NOW)
                .await
                .unwrap();
            assert_eq!(imported, all);
            assert!(target.verify().await.unwrap().portfolio_drift.is_empty());
        }
    }
}

#[tokio::test]
async fn the_capacity_is_the_programmes_to_set() {
    for store in stores("capacity").await {
        let w = world(store).await;
        assert_eq!(w.store.capacity().await.unwrap().capacity, 6);
        let set = w.store.set_capacity(&w.staff, 9, NOW).await.unwrap();
        assert_eq!(
            (set.capacity, set.set_by, set.set_at),
            (9, Some(w.staff.person.0), Some(NOW.0))
        );
        assert!(matches!(
            w.store.set_capacity(&w.member, 3, NOW).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        assert!(w.store.set_capacity(&w.staff, 0, NOW).await.is_err());
        assert!(w.store.set_capacity(&w.staff, 501, NOW).await.is_err());
        assert_eq!(w.store.capacity().await.unwrap().capacity, 9);
    }
}

/// A task adding `n` measured benefits to engagement `id`, a command each.
fn adding_benefits(
    w: &std::sync::Arc<World>,
    id: EngagementId,
    n: usize,
) -> tokio::task::JoinHandle<Result<(), StoreError>> {
    let w = std::sync::Arc::clone(w);
    tokio::spawn(async move {
        for i in 0..n {
            let e = w.store.engagement(&w.staff, id).await.unwrap();
            let cmd = Command::AddBenefit {
                text: format!("Benefit {i}").as_str().into(),
                measure: None,
                plan: waymark_core::benefit::PlanInput {
                    unit: Some("builds".into()),
                    baseline: Some("40".into()),
                    baseline_date: Some("2026-01-01".into()),
                    target: Some("10".into()),
                    target_date: Some("2027-06-30".into()),
                    owner: None,
                },
            };
            w.store.execute(&w.member, id, e.version, &cmd, NOW).await?;
        }
        Ok(())
    })
}

/// Commands on an agency's engagements while its type changes, at once:
/// every one commits (no deadlock), and no count is left under a type the
/// agency has left (the helper's attack found both on PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_and_a_change_of_type_at_once_keep_the_counts_right() {
    for store in stores("portfolio-retype").await {
        let w = std::sync::Arc::new(world(store).await);
        let mut engagements = Vec::new();
        for _ in 0..8 {
            engagements.push(w.start().await);
        }
        let mut tasks = Vec::new();
        for e in &engagements {
            tasks.push(adding_benefits(&w, e.id, 12));
        }
        // The type changes, again and again, while the commands run.
        {
            let w = std::sync::Arc::clone(&w);
            tasks.push(tokio::spawn(async move {
                for kind in AgencyType::ALL.into_iter().cycle().take(10) {
                    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                    w.store
                        .set_agency_type(&w.staff, w.agency, kind, &"Reviewed.".into(), NOW)
                        .await?;
                }
                Ok(())
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let v = w.store.verify().await.unwrap();
        assert!(v.portfolio_drift.is_empty(), "{:?}", v.portfolio_drift);
        let model = w.store.model(&w.model).await.unwrap();
        // Whichever change committed last.
        let now = w.store.agency(w.agency).await.unwrap().unwrap().agency_type;
        let mut f = filter(None, now);
        f.range = Range {
            from: 202701,
            to: 202712,
        };
        let theirs = w.store.portfolio(&w.staff, &model, &f, NOW).await.unwrap();
        assert_eq!(
            theirs.benefits[0].due, 96,
            "every benefit, under the type now"
        );
        for other in AgencyType::ALL.into_iter().filter(|t| Some(*t) != now) {
            f.agency_type = Some(other);
            let left = w.store.portfolio(&w.staff, &model, &f, NOW).await.unwrap();
            assert!(left.benefits.is_empty(), "nothing left under {other:?}");
        }
    }
}

/// `audit verify` while commands run reads one moment: a write landing
/// between its reads (an engagement's row, then its events; the kept
/// counts, then the events) is not taken for tampering.
#[tokio::test]
async fn verify_while_commands_run_finds_nothing_altered() {
    for store in stores("portfolio-verify-live").await {
        let w = std::sync::Arc::new(world(store).await);
        let mut engagements = Vec::new();
        for _ in 0..4 {
            engagements.push(w.start().await);
        }
        let mut writers = Vec::new();
        for e in &engagements {
            writers.push(adding_benefits(&w, e.id, 25));
        }
        let mut runs = 0;
        while writers.iter().any(|t| !t.is_finished()) || runs == 0 {
            let v = w.store.verify().await.unwrap();
            assert!(v.intact(), "{:?}: run {runs}: {v:?}", w.store.backend());
            runs += 1;
        }
        for t in writers {
            t.await.unwrap().unwrap();
        }
        assert!(w.store.verify().await.unwrap().intact());
    }
}
