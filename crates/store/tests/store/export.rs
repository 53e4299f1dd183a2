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
                plan: Default::default(),
            },
            NOW,
        )
        .await
        .unwrap();
    // A second factor, with a recovery code used: it moves with the data.
    w.store
        .enrol_second_factor(
            w.member.person,
            &[
                0, 200, 7, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            ],
            55_000_000,
            &["abcdefghij".to_string(), "kmnpqrstuv".to_string()],
            NOW,
        )
        .await
        .unwrap();
    assert!(
        w.store
            .use_recovery_code(w.member.person, "abcdefghij", NOW)
            .await
            .unwrap()
    );
    // Everything beside the engagements: an enquiry with an attachment and
    // a triage note, an uploaded file, a letter, a template, mail.
    let added = w
        .store
        .add_enquiry(
            &waymark_store::NewEnquiry {
                source: "email".into(),
                message_id: Some("<x@y>".into()),
                agency_name: "Bureau".into(),
                contact_name: "Alex".into(),
                contact_email: "alex@bureau.gov.au".into(),
                subject: "Help".into(),
                body: "Please".into(),
                attachments: vec![waymark_store::NewFile {
                    title: "a".into(),
                    name: "a.bin".into(),
                    content_type: "application/octet-stream".into(),
                    bytes: vec![0, 159, 255, 1],
                }],
                ..Default::default()
            },
            Some(&waymark_store::Mail {
                kind: "enquiry".into(),
                to: "alex@bureau.gov.au".into(),
                subject: "Thanks".into(),
                body: "Body".into(),
                attachment: None,
                ..Default::default()
            }),
            NOW,
        )
        .await
        .unwrap();
    let waymark_store::ImportOutcome::Added(enquiry) = added else {
        panic!()
    };
    w.store
        .triage(
            &w.staff,
            enquiry,
            &waymark_store::EnquiryCommand::Note {
                text: "Rang back".into(),
            },
            NOW,
        )
        .await
        .unwrap();
    let e = w
        .store
        .issue_letter(
            &w.staff,
            e.id,
            3,
            &waymark_store::NewLetter {
                kind: LetterKind::LetterOfIntent,
                markdown: "# L".into(),
                html: "<h1>L</h1>".into(),
                pdf: b"%PDF-\x00\xff".to_vec(),
                facts: "{}".into(),
                template_version: 0,
                mail: Vec::new(),
            },
            NOW,
        )
        .await
        .unwrap();
    w.store
        .attach_file(
            &w.member,
            e.id,
            e.version,
            waymark_store::NewFile {
                title: "Case".into(),
                name: "case.txt".into(),
                content_type: "text/plain".into(),
                bytes: b"case".to_vec(),
            },
            NOW,
        )
        .await
        .unwrap();
    w.store
        .save_letter_template(
            &w.staff,
            LetterKind::LetterOfIntent,
            "Dear {{ agency.name }}",
            NOW,
        )
        .await
        .unwrap();
    // Someone has left: an import must not let them back in.
    let admin = w.admin();
    w.store
        .deactivate_person(&admin, w.other.person, NOW)
        .await
        .unwrap();
    // Someone's own settings travel too.
    let settings = waymark_core::Settings::parse("Australia/Perth", "daily").unwrap();
    w.store
        .set_settings(w.member.person, &settings)
        .await
        .unwrap();
    let x = w.store.export().await.unwrap();
    assert_eq!(x.engagements.len(), 1);
    assert!(
        x.people
            .iter()
            .any(|p| p.time_zone.as_deref() == Some("Australia/Perth")
                && p.notify.as_deref() == Some("daily"))
    );
    let left: Vec<_> = x
        .people
        .iter()
        .filter(|p| p.deactivated_at.is_some())
        .collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].deactivated_by, Some(admin.person.0));
    for (table, n) in [
        ("enquiries", 1),
        ("enquiry_events", 2),
        ("files", 2),
        ("letters", 1),
        ("letter_templates", 1),
        ("outbox", 1),
    ] {
        assert_eq!(x.records[table].len(), n, "{table}");
    }
    assert!(x.events.len() >= 4);
    (w.store, x)
}

#[tokio::test]
async fn an_export_round_trips_between_every_pair_of_backends() {
    for source in stores("export-src").await {
        let from = source.backend();
        let (_, x) = filled(source).await;
        assert_eq!(x.records["second_factors"].len(), 1);
        assert_eq!(x.records["recovery_codes"].len(), 2);
        let json = serde_json::to_string(&x).unwrap();
        for target in stores("export-dst").await {
            let to = target.backend();
            target
                .import(&serde_json::from_str(&json).unwrap())
                .await
                .unwrap();
            assert_eq!(target.export().await.unwrap(), x, "{from:?} -> {to:?}");
            let v = target.verify().await.unwrap();
            assert!(v.intact(), "{from:?} -> {to:?}: {v:?}");
            assert_eq!(v.enquiry_events, 2);
            // The agency's type, given when it was added, and its chain.
            assert_eq!(v.agency_events, 1);
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
        // Exports from before enquiries and files (version 1) still load.
        let mut old = x.clone();
        old.version = 1;
        old.records.clear();
        let target = stores("export-old-dst").await.remove(0);
        target.import(&old).await.unwrap();
        let v = target.verify().await.unwrap();
        assert!(
            v.broken.is_empty() && v.broken_enquiries.is_empty(),
            "{v:?}"
        );
        // This export was cut down from one that had letters and files, so
        // the chains still name bytes it no longer carries: verify says so.
        assert!(!v.altered.is_empty());
        assert!(v.altered.iter().all(|a| a.reason.contains("gone")), "{v:?}");
        x.version = 99;
        let target = stores("export-bad-dst").await.remove(0);
        let err = target.import(&x).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("expected \"waymark-export\" version 2 or earlier"),
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
