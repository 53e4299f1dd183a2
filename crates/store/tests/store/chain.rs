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
        sqlx::query("UPDATE events SET payload = REPLACE(payload, '\"b\"', '\"B\"') WHERE engagement_id = $1 AND seq = 4")
            .bind(id.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        let (seq, reason) = first_broken(&w).await;
        assert_eq!(seq, 4);
        assert!(reason.contains("does not match its hash"), "{reason}");
    }
}

#[tokio::test]
async fn a_removed_event_is_caught() {
    for store in stores("tamper-remove").await {
        let (w, id) = setup(store).await;
        sqlx::query("DELETE FROM events WHERE engagement_id = $1 AND seq = 5")
            .bind(id.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        let (seq, reason) = first_broken(&w).await;
        assert_eq!(seq, 5);
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
