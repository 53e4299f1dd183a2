//! Agencies, people and engagements on every backend.

use waymark_core::token::{NewToken, TokenScope};
use waymark_core::*;
use waymark_store::{ListFilter, StoreError};

use crate::{NOW, stores, world};

#[test]
fn migration_folders_stay_in_step() {
    let dir = |b: &str| {
        let mut v: Vec<String> =
            std::fs::read_dir(format!("{}/migrations/{b}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        v.sort();
        v
    };
    assert_eq!(dir("sqlite"), dir("postgres"));
    assert!(!dir("sqlite").is_empty());
}

#[tokio::test]
async fn unique_fields_are_unique() {
    for store in stores("unique").await {
        let w = world(store).await;
        let err = w
            .store
            .add_agency(
                &NewAgency::parse("Again", "dta", "Finance", None).unwrap(),
                NOW,
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "abbreviation: DTA is already taken");
        let err = w
            .store
            .add_person(&NewPerson::parse("Sam", "SAM@DTA.gov.au").unwrap(), NOW)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "email: sam@dta.gov.au is already taken");
        assert!(matches!(
            w.store.add_role(w.staff.person, Role::ProgrammeStaff).await,
            Err(StoreError::Duplicate { .. })
        ));
    }
}

#[tokio::test]
async fn an_engagement_runs_and_is_kept() {
    for store in stores("run").await {
        let w = world(store).await;
        let e = w.start().await;
        assert_eq!(e.version, 1);
        assert_eq!(e.stage("engagement").unwrap().status, StageStatus::Active);
        let e = w
            .store
            .execute(
                &w.member,
                e.id,
                1,
                &Command::SetStep {
                    stage: "engagement".into(),
                    step: 1,
                    status: StepStatus::Done,
                },
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(e.version, 2);
        let e = w
            .store
            .execute(
                &w.member,
                e.id,
                2,
                &Command::Decide {
                    stage: "engagement".into(),
                    at: DecisionAt::Point { index: 0 },
                    option: 0,
                    rationale: "Understand first.".into(),
                    funded_by: Funder::Dta,
                    note: None,
                },
                NOW,
            )
            .await
            .unwrap();
        let loaded = w.store.engagement(&w.member, e.id).await.unwrap();
        assert_eq!(loaded, e);
        assert_eq!(
            loaded.stage("discovery").unwrap().status,
            StageStatus::Active
        );
        let history = w.store.history(&w.staff, e.id).await.unwrap();
        assert_eq!(history.first().unwrap().command, "start");
        assert_eq!(history.last().unwrap().command, "decide");
        assert!(history.windows(2).all(|p| p[1].seq == p[0].seq + 1));
        let all = ListFilter::default();
        assert_eq!(w.store.engagements(&w.member, &all).await.unwrap().total, 1);
        assert_eq!(w.store.engagements(&w.other, &all).await.unwrap().total, 0);
        let v = w.store.verify().await.unwrap();
        assert_eq!(
            (v.engagements, v.events, v.broken.len()),
            (1, history.len(), 0)
        );
    }
}

#[tokio::test]
async fn a_stale_write_is_a_conflict_and_changes_nothing() {
    for store in stores("stale").await {
        let w = world(store).await;
        let e = w.start().await;
        // Both about the plan: the second was sent from the older page.
        let cmd = Command::PlanDiscovery { weeks: 6 };
        w.store.execute(&w.staff, e.id, 1, &cmd, NOW).await.unwrap();
        let err = w
            .store
            .execute(&w.member, e.id, 1, &cmd, NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Domain(DomainError::Conflict {
                    expected: 1,
                    actual: 2
                })
            ),
            "{err}"
        );
        let now = w.store.engagement(&w.staff, e.id).await.unwrap();
        assert_eq!((now.version, now.discovery_weeks), (2, Some(6)));
    }
}

#[tokio::test]
async fn other_agencies_get_not_found_and_rules_roll_back() {
    for store in stores("access").await {
        let w = world(store).await;
        let e = w.start().await;
        assert!(matches!(
            w.store.engagement(&w.other, e.id).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        let cmd = Command::AddRisk {
            text: "x".into(),
            stage: None,
        };
        assert!(matches!(
            w.store.execute(&w.other, e.id, 1, &cmd, NOW).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        assert!(matches!(
            w.store
                .execute(&w.staff, EngagementId(999), 1, &cmd, NOW)
                .await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        let bad = Command::SkipStep {
            stage: "engagement".into(),
            step: 1,
            reason: " ".into(),
        };
        assert!(matches!(
            w.store.execute(&w.member, e.id, 1, &bad, NOW).await,
            Err(StoreError::Domain(DomainError::Invalid { .. }))
        ));
        assert_eq!(w.store.engagement(&w.staff, e.id).await.unwrap().version, 1);
        assert!(w.store.verify().await.unwrap().broken.is_empty());
        let err = w
            .store
            .start_engagement(&w.staff, AgencyId(999), Mode::DoItWithYou, &w.model, NOW)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "agency: 999 does not exist");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_engagement_never_lose_an_update() {
    for store in stores("concurrent").await {
        let w = world(store).await;
        let e = w.start().await;
        let mut ok = 0;
        // Rounds of eight writers who all saw the same version: one wins, the rest conflict.
        for (round, version) in (0..5).zip(e.version..) {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let (s, a) = (w.store.clone(), w.staff.clone());
                    tokio::spawn(async move {
                        s.execute(
                            &a,
                            e.id,
                            version,
                            // The same step each time: a real conflict.
                            &Command::SetStep {
                                stage: "engagement".into(),
                                step: 1,
                                status: if (round + i) % 2 == 0 {
                                    StepStatus::Done
                                } else {
                                    StepStatus::InProgress
                                },
                            },
                            NOW,
                        )
                        .await
                    })
                })
                .collect();
            let mut winners = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(_) => winners += 1,
                    Err(StoreError::Domain(DomainError::Conflict { .. })) => {}
                    Err(other) => panic!("{other}"),
                }
            }
            assert_eq!(winners, 1, "round {round}");
            ok += winners;
        }
        let now = w.store.engagement(&w.staff, e.id).await.unwrap();
        assert_eq!(now.steps.len(), ok);
        assert_eq!(now.version, 1 + ok as u64);
        assert!(w.store.verify().await.unwrap().broken.is_empty());
    }
}

#[tokio::test]
async fn a_pinned_model_does_not_change_under_an_engagement() {
    for store in stores("pin").await {
        let w = world(store).await;
        let e = w.start().await;
        let mut pages = waymark_model::bundled();
        for p in &mut pages {
            p.text = p
                .text
                .replace("Step 2 – Request support", "Step 2 – Ask for help");
        }
        let newer = w.store.pin_model(&pages, NOW).await.unwrap();
        assert_ne!(newer, w.model);
        assert_eq!(
            w.store
                .pin_model(&waymark_model::bundled(), NOW)
                .await
                .unwrap(),
            w.model,
            "same pages, same hash"
        );
        let e = w.store.engagement(&w.staff, e.id).await.unwrap();
        assert_eq!(e.model_hash, w.model);
        let m = w.store.model(&e.model_hash).await.unwrap();
        assert_eq!(
            m.stage("engagement").unwrap().steps[1].title,
            "Request support"
        );
    }
}

#[tokio::test]
async fn tokens_name_their_person_and_are_kept_only_as_hashes() {
    for store in stores("tokens").await {
        let w = world(store).await;
        let token = w
            .store
            .create_token(w.member.person, "cli", NOW)
            .await
            .unwrap();
        assert!(token.starts_with("wmk_") && token.len() == 68, "{token}");
        assert_eq!(
            w.store.actor_for_token(&token, NOW).await.unwrap(),
            Some((w.member.clone(), TokenScope::ReadWrite))
        );
        assert_eq!(
            w.store.actor_for_token("wmk_nope", NOW).await.unwrap(),
            None
        );
        let x = w.store.export().await.unwrap();
        assert!(!serde_json::to_string(&x).unwrap().contains(&token));
        assert!(w.store.create_token(PersonId(999), "x", NOW).await.is_err());

        // A read-only token that ends in a day.
        let new = NewToken::parse("Power BI", "read", "1", NOW).unwrap();
        let reader = w
            .store
            .create_token_with(w.member.person, &new, NOW)
            .await
            .unwrap();
        assert_eq!(
            w.store.actor_for_token(&reader, NOW).await.unwrap(),
            Some((w.member.clone(), TokenScope::Read))
        );
        let later = Timestamp(NOW.0 + 86_400);
        assert_eq!(w.store.actor_for_token(&reader, later).await.unwrap(), None);
        // Its last use is written, at most once a minute.
        let info = |tokens: Vec<waymark_store::TokenInfo>| {
            tokens
                .into_iter()
                .find(|t| t.id == waymark_store::token_id(&reader))
                .unwrap()
        };
        let t = info(w.store.tokens_of(w.member.person).await.unwrap());
        assert_eq!(t.scope, TokenScope::Read);
        assert_eq!(t.expires_at, Some(later));
        assert_eq!(t.last_used_at, Some(NOW));
        w.store
            .actor_for_token(&reader, Timestamp(NOW.0 + 59))
            .await
            .unwrap();
        let t = info(w.store.tokens_of(w.member.person).await.unwrap());
        assert_eq!(t.last_used_at, Some(NOW), "not again within the minute");
        w.store
            .actor_for_token(&reader, Timestamp(NOW.0 + 60))
            .await
            .unwrap();
        let t = info(w.store.tokens_of(w.member.person).await.unwrap());
        assert_eq!(t.last_used_at, Some(Timestamp(NOW.0 + 60)));
        // The export keeps the scope and the end.
        let x = w.store.export().await.unwrap();
        let row = x
            .tokens
            .iter()
            .find(|r| r.hash.starts_with(&waymark_store::token_id(&reader)))
            .unwrap();
        assert_eq!(
            (row.scope.as_str(), row.expires_at),
            ("read", Some(later.0))
        );
    }
}

/// Many first writes at once on a freshly opened store (no model cached
/// yet): each must go through, none may wait on a pooled connection while
/// holding the write lock (this once deadlocked until the pool timed out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_writes_on_a_cold_store_do_not_starve_each_other() {
    let mut urls = vec![waymark_store::testing::sqlite_url("cold")];
    urls.extend(waymark_store::testing::postgres_url("cold").await);
    for url in urls {
        let w = world(waymark_store::Store::open(&url).await.unwrap()).await;
        let mut ids = Vec::new();
        for _ in 0..16 {
            ids.push(w.start().await.id);
        }
        w.store.close().await;
        let cold = waymark_store::Store::open(&url).await.unwrap();
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (s, a, id) = (cold.clone(), w.staff.clone(), *id);
                tokio::spawn(async move {
                    s.execute(&a, id, 1, &Command::PlanDiscovery { weeks: 6 }, NOW)
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(cold.verify().await.unwrap().broken.is_empty());
    }
}

/// Two people on pages of the same version: changes to different things
/// both land; a change to the same thing is refused, never merged; and the
/// core still judges the late one against the current state.
#[tokio::test]
async fn only_a_change_to_the_same_thing_is_a_conflict() {
    for store in stores("real-conflicts").await {
        let w = world(store).await;
        let e = w.start().await;
        let shown = e.version;
        let set = |step, status| Command::SetStep {
            stage: "engagement".into(),
            step,
            status,
        };
        w.store
            .execute(&w.staff, e.id, shown, &set(1, StepStatus::Done), NOW)
            .await
            .unwrap();
        // Another step, from the older page: it goes through.
        let after = w
            .store
            .execute(&w.member, e.id, shown, &set(2, StepStatus::InProgress), NOW)
            .await
            .unwrap();
        assert_eq!(after.version, shown + 2);
        assert_eq!(after.step("engagement", 1), StepStatus::Done);
        assert_eq!(after.step("engagement", 2), StepStatus::InProgress);
        // The same step, from the older page: refused, and nothing changes.
        let err = w
            .store
            .execute(&w.member, e.id, shown, &set(1, StepStatus::Todo), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::Conflict { .. })),
            "{err}"
        );
        let now = w.store.engagement(&w.staff, e.id).await.unwrap();
        assert_eq!(
            (now.version, now.step("engagement", 1)),
            (shown + 2, StepStatus::Done)
        );
        // Padding the stage's name changes nothing: still the same step.
        let padded = Command::SetStep {
            stage: " engagement\t".into(),
            step: 1,
            status: StepStatus::Todo,
        };
        let err = w
            .store
            .execute(&w.member, e.id, shown, &padded, NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::Conflict { .. })),
            "{err}"
        );
        // Rules still hold on a late change: an unknown step is refused as
        // such, not let through because nothing "conflicted".
        let err = w
            .store
            .execute(&w.member, e.id, shown, &set(99, StepStatus::Done), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::Invalid { .. })),
            "{err}"
        );
        // A version the engagement never had is refused.
        let err = w
            .store
            .execute(&w.member, e.id, shown + 10, &set(3, StepStatus::Done), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::Conflict { .. })),
            "{err}"
        );
        assert!(w.store.verify().await.unwrap().broken.is_empty());
    }
}
