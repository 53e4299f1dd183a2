//! Retention on every backend: a closed enquiry past the period goes, with
//! its chain, conversation, attachments, mail and search entry, leaving a
//! tombstone in the mailbox's records and a line naming its number; open,
//! converted and recent ones stay; `audit verify` still passes; only the
//! programme's admins set the period or run it.

use sqlx::Row;
use waymark_core::*;
use waymark_store::{Incoming, Mail, MailThread, NewEnquiry, Parsed, StoreError, Taken};

use crate::{NOW, stores, world};

const MONTH: i64 = waymark_core::enquiry::MONTH_SECS;

/// A mail from `from`, with its own words and an attachment.
fn message(id: &str, from: &str, subject: &str, refs: &[&str], body: &str) -> Incoming {
    let mut m = crate::mailbox::message(id, from, subject, refs);
    if let Parsed::Message { enquiry, .. } = &mut m.parsed {
        enquiry.contact_name = "Jordan Unique".into();
        enquiry.body = body.into();
        enquiry.attachments.push(waymark_store::NewFile {
            title: "Email attachment: plan.pdf".into(),
            name: "plan.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: format!("%PDF-1.7 plan of {id}").into_bytes(),
        });
    }
    m
}

fn ack(id: &str) -> impl Fn(&NewEnquiry) -> Mail {
    let id = id.to_string();
    move |e: &NewEnquiry| Mail {
        kind: "enquiry_acknowledgement".into(),
        to: e.contact_email.clone(),
        subject: "We have your request".into(),
        body: format!("Thanks, {}", e.contact_name),
        thread: Some(MailThread {
            message_id: format!("ack-{id}@dta.gov.au"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn retention_removes_old_closed_enquiries_and_nothing_else() {
    for store in stores("retention").await {
        // Attachments' bytes in a files directory, as several instances
        // keep them.
        let dir = std::env::temp_dir().join(format!(
            "waymark-retention-{:?}-{}",
            store.backend(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = store.with_files_dir(&dir).unwrap();
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        // A webhook for every event: its deliveries carry what enquiries said.
        crate::webhook_for_everything(s, &admin).await;
        let long_ago = Timestamp(NOW.0 - 30 * MONTH);
        // Four enquiries by mail, thirty months ago: one closed then (it
        // goes), one converted, one left open, and one closed just now.
        let mut ids = Vec::new();
        for (n, who) in ["gone", "converted", "open", "recent"].iter().enumerate() {
            let m = message(
                &format!("req-{who}@records.gov.au"),
                &format!("{who}-person@records.gov.au"),
                &format!("Help {who}"),
                &[],
                &format!("Words only {who} wrote"),
            );
            let taken = s
                .take_mail(&m, Some(&ack(who)), Timestamp(long_ago.0 + n as i64))
                .await
                .unwrap();
            let Taken::Enquiry { enquiry } = taken else {
                panic!("{taken:?}")
            };
            ids.push(enquiry);
        }
        let (gone, converted, open, recent) = (ids[0], ids[1], ids[2], ids[3]);
        // The doomed one has a conversation: a reply with an attachment,
        // and the programme's answer.
        let reply = message(
            "re-gone@records.gov.au",
            "gone-person@records.gov.au",
            "Re: We have your request",
            &["ack-gone@dta.gov.au"],
            "A reply only gone wrote",
        );
        assert!(matches!(
            s.take_mail(&reply, None, long_ago).await.unwrap(),
            Taken::Conversation { .. }
        ));
        s.reply_to_enquiry(
            &admin,
            gone,
            &"Our answer to gone-person".into(),
            "programme@dta.gov.au",
            "DTA",
            long_ago,
        )
        .await
        .unwrap();
        let close = |reason: &str| waymark_store::EnquiryCommand::Close {
            reason: reason.into(),
        };
        s.triage(&w.staff, gone, &close("Not for us"), long_ago)
            .await
            .unwrap();
        s.triage(&w.staff, recent, &close("Not yet"), NOW)
            .await
            .unwrap();
        let e = w.start().await;
        s.triage(
            &w.staff,
            converted,
            &waymark_store::EnquiryCommand::Attach { engagement: e.id },
            long_ago,
        )
        .await
        .unwrap();
        let before = serde_json::to_string(&s.export().await.unwrap()).unwrap();
        assert!(before.contains("gone-person@records.gov.au"));
        let on_disk = |dir: &std::path::Path| -> Vec<Vec<u8>> {
            let mut all = Vec::new();
            for sub in std::fs::read_dir(dir).unwrap() {
                for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
                    all.push(std::fs::read(f.unwrap().path()).unwrap());
                }
            }
            all
        };
        let holds = |files: &[Vec<u8>], text: &str| {
            files
                .iter()
                .any(|f| String::from_utf8_lossy(f).contains(text))
        };
        assert!(holds(&on_disk(&dir), "plan of req-gone@records.gov.au"));
        let deliveries = |s: &waymark_store::Store| {
            let pool = s.pool().clone();
            async move {
                sqlx::query("SELECT payload FROM webhook_deliveries")
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        assert!(
            deliveries(s).await.contains("Not for us"),
            "the close reason is sent"
        );
        assert_eq!(s.due_for_removal(NOW).await.unwrap(), 1);

        // Only the programme's admins run it.
        for refused in [&w.staff, &w.member] {
            assert!(matches!(
                s.run_retention(Some(refused), NOW).await,
                Err(StoreError::Domain(_))
            ));
        }
        let run = s.run_retention(Some(&admin), NOW).await.unwrap();
        assert_eq!(
            (run.removed, run.months, run.run_by),
            (1, 24, Some(admin.person.0))
        );
        assert_eq!(run.cutoff, NOW.0 - 24 * MONTH);
        let removals = s.retention_removals(&admin, run.id).await.unwrap();
        assert_eq!(removals.len(), 1);
        let r = &removals[0];
        assert_eq!(r.enquiry_id, gone);
        assert_eq!(r.received_at, long_ago.0);
        assert!(r.messages >= 2, "{r:?}");
        assert_eq!(r.files, 2, "{r:?}");

        // Nothing of it is left anywhere the export reaches.
        let after = serde_json::to_string(&s.export().await.unwrap()).unwrap();
        for trace in [
            "gone-person@records.gov.au",
            "Words only gone wrote",
            "A reply only gone wrote",
            "Our answer to gone-person",
            "Not for us",
            "Help gone",
        ] {
            assert!(before.contains(trace), "{trace} was never there");
            assert!(!after.contains(trace), "{trace} is still held");
        }
        // Nor on disk, nor in webhook deliveries; the others' stay.
        let files = on_disk(&dir);
        assert!(!holds(&files, "plan of req-gone@records.gov.au"));
        assert!(!holds(&files, "plan of re-gone@records.gov.au"));
        assert!(holds(&files, "plan of req-open@records.gov.au"));
        // A place queued for deletion that a kept file names again (the
        // same bytes uploaded since) is left alone.
        let kept: String =
            sqlx::query("SELECT location FROM files WHERE location IS NOT NULL LIMIT 1")
                .fetch_one(s.pool())
                .await
                .unwrap()
                .get(0);
        sqlx::query("INSERT INTO retention_files (location) VALUES ($1)")
            .bind(&kept)
            .execute(s.pool())
            .await
            .unwrap();
        s.run_retention(None, NOW).await.unwrap();
        assert!(dir.join(&kept).exists(), "a kept file's bytes were deleted");
        assert_eq!(on_disk(&dir).len(), files.len());
        let sent = deliveries(s).await;
        assert!(
            !sent.contains("Not for us"),
            "a delivery keeps the close reason"
        );
        assert!(sent.contains("Not yet"), "other enquiries' deliveries stay");
        // The mailbox keeps the Message-ID, so the mail is never taken again.
        assert!(after.contains("req-gone@records.gov.au"));
        let again = message(
            "req-gone@records.gov.au",
            "gone-person@records.gov.au",
            "Help gone",
            &[],
            "x",
        );
        assert_eq!(
            s.take_mail(&again, None, NOW).await.unwrap(),
            Taken::Duplicate
        );
        // The others stay, whole, and every chain still verifies.
        for id in [converted, open, recent] {
            assert!(s.enquiry(&w.staff, id).await.is_ok(), "{id}");
        }
        assert!(matches!(
            s.enquiry(&w.staff, gone).await,
            Err(StoreError::Domain(DomainError::NotFound)) | Err(StoreError::Missing { .. })
        ));
        let v = s.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        assert_eq!(v.enquiries, 3);
        // Search no longer finds it.
        let q = waymark_core::search::Query::parse("Words only gone wrote");
        let found = s.search(Some(&admin), &q, None, 1).await.unwrap();
        assert!(!format!("{found:?}").contains("Help gone"), "{found:?}");
        let q = waymark_core::search::Query::parse("Words only open wrote");
        let found = s.search(Some(&admin), &q, None, 1).await.unwrap();
        assert!(
            format!("{found:?}").contains("Help open"),
            "the search works: {found:?}"
        );

        // Running again removes nothing; each run is recorded.
        let second = s.run_retention(None, NOW).await.unwrap();
        assert_eq!((second.removed, second.run_by), (0, None));
        assert_eq!(s.retention_runs(&admin, 10).await.unwrap().len(), 3);
        assert!(s.retention_runs(&w.member, 10).await.is_err());

        // The period: the default, then the admins' own; a shorter one
        // takes the enquiry closed "just now" once that much has passed.
        assert_eq!(s.retention().await.unwrap().months, 24);
        assert!(s.set_retention(&w.staff, 1, NOW).await.is_err());
        let set = s.set_retention(&admin, 1, NOW).await.unwrap();
        assert_eq!((set.months, set.set_by), (1, Some(admin.person.0)));
        let later = Timestamp(NOW.0 + 2 * MONTH);
        assert_eq!(s.due_for_removal(later).await.unwrap(), 1);
        assert_eq!(s.run_retention(None, later).await.unwrap().removed, 1);
        assert!(s.enquiry(&w.staff, recent).await.is_err());
        assert!(
            s.enquiry(&w.staff, open).await.is_ok(),
            "open enquiries wait"
        );
        assert!(s.verify().await.unwrap().intact());

        // Two runs at once (two servers): each enquiry is removed, and
        // recorded, once.
        for n in 0..6 {
            let m = message(
                &format!("req-race{n}@records.gov.au"),
                "race@records.gov.au",
                "Race",
                &[],
                "race",
            );
            let Taken::Enquiry { enquiry } = s.take_mail(&m, None, long_ago).await.unwrap() else {
                panic!()
            };
            s.triage(&w.staff, enquiry, &close("race"), long_ago)
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(s.run_retention(None, later), s.run_retention(None, later));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.removed + b.removed, 6, "{a:?} {b:?}");
        let recorded: i64 =
            sqlx::query("SELECT COUNT(*) FROM retention_removals WHERE run_id IN ($1, $2)")
                .bind(a.id)
                .bind(b.id)
                .fetch_one(s.pool())
                .await
                .unwrap()
                .get(0);
        assert_eq!(recorded, 6);
        assert!(s.verify().await.unwrap().intact());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
