//! Tampering with stored rows is caught by `verify`.

use waymark_core::*;

use crate::{NOW, stores, world};

async fn setup(store: waymark_store::Store) -> (crate::World, EngagementId) {
    let w = world(store).await;
    let e = w.start().await;
    for (v, text) in [(1, "a"), (2, "b"), (3, "c")] {
        w.store
            .execute(
                &w.staff,
                e.id,
                v,
                &Command::AddRisk {
                    text: text.into(),
                    stage: None,
                },
                NOW,
            )
            .await
            .unwrap();
    }
    // Started, the first stage entered, tailored for the agency's type
    // (the world's agency has one), then the three risks: 4, 5 and 6.
    assert_eq!(w.store.history(&w.staff, e.id).await.unwrap().len(), 6);
    assert!(w.store.verify().await.unwrap().broken.is_empty());
    (w, e.id)
}

async fn first_broken(w: &crate::World) -> (i64, String) {
    let v = w.store.verify().await.unwrap();
    assert_eq!(v.broken.len(), 1, "{v:?}");
    (v.broken[0].seq, v.broken[0].reason.clone())
}

#[tokio::test]
async fn a_changed_payload_is_caught() {
    for store in stores("tamper-change").await {
        let (w, id) = setup(store).await;
        sqlx::query("UPDATE events SET payload = REPLACE(payload, '\"b\"', '\"B\"') WHERE engagement_id = $1 AND seq = 5")
            .bind(id.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        let (seq, reason) = first_broken(&w).await;
        assert_eq!(seq, 5);
        assert!(reason.contains("does not match its hash"), "{reason}");
    }
}

#[tokio::test]
async fn a_removed_event_is_caught() {
    for store in stores("tamper-remove").await {
        let (w, id) = setup(store).await;
        sqlx::query("DELETE FROM events WHERE engagement_id = $1 AND seq = 6")
            .bind(id.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        let (seq, reason) = first_broken(&w).await;
        assert_eq!(seq, 6);
        assert!(reason.contains("removed"), "{reason}");
        sqlx::query("DELETE FROM events WHERE engagement_id = $1 AND seq = 3")
            .bind(id.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        assert_eq!(first_broken(&w).await.0, 3);
    }
}

#[tokio::test]
async fn reordered_events_are_caught() {
    for store in stores("tamper-order").await {
        let (w, id) = setup(store).await;
        for (from, to) in [(3, 100), (4, 3), (100, 4)] {
            sqlx::query("UPDATE events SET seq = $1 WHERE engagement_id = $2 AND seq = $3")
                .bind(to)
                .bind(id.0)
                .bind(from)
                .execute(w.store.pool())
                .await
                .unwrap();
        }
        assert_eq!(first_broken(&w).await.0, 3);
    }
}

#[tokio::test]
async fn a_changed_state_is_caught() {
    for store in stores("tamper-state").await {
        let (w, id) = setup(store).await;
        sqlx::query(
            "UPDATE engagements SET state = REPLACE(state, '\"c\"', '\"z\"') WHERE id = $1",
        )
        .bind(id.0)
        .execute(w.store.pool())
        .await
        .unwrap();
        let (seq, reason) = first_broken(&w).await;
        assert_eq!(seq, 0);
        assert!(reason.contains("saved state"), "{reason}");
    }
}

/// Many commands at once: on SQLite they share transactions (group commit),
/// yet each keeps its own version check, events and place in its chain, and
/// a refused one takes none of its neighbours with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_commit_together_and_fail_alone() {
    for store in stores("group-commit").await {
        let w = std::sync::Arc::new(world(store).await);
        let mut engagements = Vec::new();
        for _ in 0..8 {
            engagements.push(w.start().await);
        }
        let before = w.store.write_batches();
        // Eight commands per engagement, all naming the same version: one
        // of each eight can win, the rest are stale.
        let mut tasks = Vec::new();
        for e in &engagements {
            for i in 0..8 {
                let (w, id, v) = (std::sync::Arc::clone(&w), e.id, e.version);
                tasks.push(tokio::spawn(async move {
                    // All about the same step: a real conflict each time.
                    let cmd = Command::SetStep {
                        stage: "engagement".into(),
                        step: 1,
                        status: if i % 2 == 0 {
                            StepStatus::Done
                        } else {
                            StepStatus::InProgress
                        },
                    };
                    w.store.execute(&w.staff, id, v, &cmd, NOW).await
                }));
            }
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(waymark_store::StoreError::Domain(DomainError::Conflict { .. })) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(won, 8, "one command per engagement wins");
        for e in &engagements {
            let now = w.store.engagement(&w.staff, e.id).await.unwrap();
            assert_eq!(now.version, e.version + 1);
        }
        assert!(w.store.verify().await.unwrap().intact());
        if w.store.backend() == waymark_store::Backend::Sqlite {
            let after = w.store.write_batches();
            let (batches, commands) = (after.0 - before.0, after.1 - before.1);
            assert_eq!(commands, 64, "every command ran in a batch");
            assert!(
                batches < commands,
                "{batches} batches for {commands} commands"
            );
        }
    }
}

/// With checkpoints in the background, commits leave the WAL alone (it grows
/// past SQLite's 1,000-page mark) and the task copies it into the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_run_outside_the_commits() {
    let url = waymark_store::testing::sqlite_url("checkpoints");
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let w = world(waymark_store::Store::open(&url).await.unwrap()).await;
    let task = w.store.checkpoint_in_background().await.unwrap().unwrap();
    let e = w.start().await;
    let wal = format!("{path}-wal");
    let size = |p: &str| std::fs::metadata(p).map_or(0, |m| m.len());
    let before = size(&path);
    let mut version = e.version;
    // About 1,500 pages of log: each risk's text is 4 KB, and the state
    // that holds them all grows with each one.
    for i in 0..150 {
        let cmd = Command::AddRisk {
            text: format!("{i} {}", "r".repeat(1900)).into(),
            stage: None,
        };
        version = w
            .store
            .execute(&w.staff, e.id, version, &cmd, NOW)
            .await
            .unwrap()
            .version;
    }
    assert!(size(&wal) > 1000 * 4096, "the WAL has {} bytes", size(&wal));
    assert_eq!(
        size(&path),
        before,
        "no commit copied the log into the database"
    );
    let handle = tokio::spawn(task);
    for _ in 0..40 {
        if size(&path) > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    handle.abort();
    assert!(
        size(&path) > before,
        "the background task checkpointed the log"
    );
    assert!(w.store.verify().await.unwrap().intact());
}

/// Two stores on one SQLite file (two processes, say the server and a CLI
/// command): each batch takes the write lock before it reads, so neither
/// fails with a stale snapshot; they wait their turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_sqlite_file_take_turns() {
    let url = waymark_store::testing::sqlite_url("two-stores");
    let w = std::sync::Arc::new(world(waymark_store::Store::open(&url).await.unwrap()).await);
    let other = waymark_store::Store::open(&url).await.unwrap();
    let mut engagements = Vec::new();
    for _ in 0..4 {
        engagements.push(w.start().await);
    }
    let mut tasks = Vec::new();
    for (n, e) in engagements.iter().enumerate() {
        let store = if n % 2 == 0 {
            w.store.clone()
        } else {
            other.clone()
        };
        let (staff, id, mut version) = (w.staff.clone(), e.id, e.version);
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let cmd = Command::AddRisk {
                    text: format!("risk {i}").into(),
                    stage: None,
                };
                version = store.execute(&staff, id, version, &cmd, NOW).await?.version;
            }
            Ok::<_, waymark_store::StoreError>(())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for e in &engagements {
        assert_eq!(
            w.store
                .engagement(&w.staff, e.id)
                .await
                .unwrap()
                .risks
                .len(),
            25
        );
    }
    assert!(w.store.verify().await.unwrap().intact());
}
