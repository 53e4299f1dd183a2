//! Export, import and backup: nothing is lost moving between backends.

use waymark_core::*;
use waymark_store::{Backend, Store};

use crate::{NOW, stores, world};

async fn filled(store: Store) -> (Store, waymark_store::Export) {
    let w = world(store).await;
    let e = w.start().await;
    w.store
        .execute(
            &w.member,
            e.id,
            1,
            &Command::SkipStep {
                stage: "engagement".into(),
                step: 1,
                reason: "known".into(),
            },
            NOW,
        )
        .await
        .unwrap();
    w.store
        .execute(
            &w.staff,
            e.id,
            2,
            &Command::AddBenefit {
                text: "Fewer licences".into(),
                measure: Some("cost".into()),
            },
            NOW,
        )
        .await
        .unwrap();
    let x = w.store.export().await.unwrap();
    assert_eq!(x.engagements.len(), 1);
    assert!(x.events.len() >= 4);
    (w.store, x)
}

#[tokio::test]
async fn an_export_round_trips_between_every_pair_of_backends() {
    for source in stores("export-src").await {
        let from = source.backend();
        let (_, x) = filled(source).await;
        let json = serde_json::to_string(&x).unwrap();
        for target in stores("export-dst").await {
            let to = target.backend();
            target
                .import(&serde_json::from_str(&json).unwrap())
                .await
                .unwrap();
            assert_eq!(target.export().await.unwrap(), x, "{from:?} -> {to:?}");
            let v = target.verify().await.unwrap();
            assert!(v.broken.is_empty(), "{from:?} -> {to:?}: {v:?}");
            assert_eq!(v.events, x.events.len());
            // New rows continue after the imported ids.
            let id = target
                .add_agency(
                    &NewAgency::parse("Next", "NXT", "Finance", None).unwrap(),
                    NOW,
                )
                .await
                .unwrap();
            assert_eq!(id, AgencyId(3), "{from:?} -> {to:?}");
            // And importing twice is refused, leaving the data as it was.
            let err = target.import(&x).await.unwrap_err();
            assert!(
                err.to_string()
                    .contains("import only into an empty database"),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn imports_of_other_formats_are_refused() {
    for store in stores("export-bad").await {
        let (_, mut x) = filled(store).await;
        x.version = 99;
        let target = stores("export-bad-dst").await.remove(0);
        let err = target.import(&x).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("expected \"waymark-export\" version 1"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_backup_is_a_complete_copy() {
    for store in stores("backup").await {
        let backend = store.backend();
        let (store, x) = filled(store).await;
        let dir =
            std::env::temp_dir().join(format!("waymark-backup-{}-{backend:?}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("backup");
        store.backup(&file).await.unwrap();
        assert!(store.backup(&file).await.is_err(), "never overwrites");
        match backend {
            Backend::Sqlite => {
                let copy = Store::open(&format!("sqlite://{}", file.display()))
                    .await
                    .unwrap();
                assert_eq!(copy.export().await.unwrap(), x);
                assert!(copy.verify().await.unwrap().broken.is_empty());
            }
            Backend::Postgres => {
                let saved: waymark_store::Export =
                    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
                assert_eq!(saved, x);
            }
        }
    }
}
