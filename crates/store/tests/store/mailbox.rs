//! Mail taken from the mailbox, on every backend: each message once, where
//! it belongs (a new enquiry, a conversation, a workshop answer, a record),
//! the programme's answers with thread headers, and conversations bound
//! into the enquiry's chain.

use waymark_core::mailbox::{Answer, CalendarReply};
use waymark_core::*;
use waymark_store::{Incoming, Mail, MailThread, MailboxKey, NewEnquiry, Parsed, Taken};

use crate::{NOW, stores, world};

pub(crate) fn message(id: &str, from: &str, subject: &str, refs: &[&str]) -> Incoming {
    Incoming {
        key: None,
        source: "test".into(),
        message_id: id.into(),
        digest: format!("d-{id}"),
        references: refs.iter().map(|r| r.to_string()).collect(),
        sender: from.into(),
        subject: subject.into(),
        size: 100,
        headers: format!("From: {from}\r\nSubject: {subject}"),
        parsed: Parsed::Message {
            enquiry: NewEnquiry {
                source: "email".into(),
                message_id: Some(id.into()),
                agency_name: "records.gov.au".into(),
                contact_name: "Jordan".into(),
                contact_email: from.into(),
                subject: subject.into(),
                body: format!("Text of {id}"),
                ..Default::default()
            },
            automatic: None,
            calendar: None,
        },
    }
}

fn ack(e: &NewEnquiry) -> Mail {
    Mail {
        kind: "enquiry_acknowledgement".into(),
        to: e.contact_email.clone(),
        subject: "We have your request".into(),
        body: "Thanks".into(),
        thread: Some(MailThread {
            message_id: "ack-1@dta.gov.au".into(),
            ..Default::default()
        }),
        auto_submitted: Some("auto-replied"),
        ..Default::default()
    }
}

#[tokio::test]
async fn mail_threads_onto_its_enquiry_once_and_answers_carry_the_thread() {
    for store in stores("mailbox").await {
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        // A new enquiry, acknowledged: the answer names its number and the
        // message it answers, and says a robot sent it.
        let first = message("req-1@records.gov.au", "jordan@records.gov.au", "Help", &[]);
        let taken = s.take_mail(&first, Some(&ack), NOW).await.unwrap();
        let Taken::Enquiry { enquiry: id } = taken else {
            panic!("{taken:?}")
        };
        let out = s.outbox(&admin, 10).await.unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, format!("We have your request [WM-{id}]"));
        assert_eq!(out[0].message_id.as_deref(), Some("ack-1@dta.gov.au"));
        assert_eq!(out[0].in_reply_to.as_deref(), Some("req-1@records.gov.au"));
        assert_eq!(out[0].auto_submitted.as_deref(), Some("auto-replied"));
        // The same message again, by Message-ID or by its mailbox place.
        assert_eq!(
            s.take_mail(&first, Some(&ack), NOW).await.unwrap(),
            Taken::Duplicate
        );

        // The mailbox's UIDVALIDITY changed: the same message at a new
        // place is still the message taken before.
        let mut moved = first.clone();
        moved.key = Some(MailboxKey {
            mailbox: "imap://inbox@host:993/INBOX".into(),
            uidvalidity: 2,
            uid: 1,
        });
        assert_eq!(
            s.take_mail(&moved, Some(&ack), NOW).await.unwrap(),
            Taken::Duplicate
        );

        // A reply to the acknowledgement threads on, with its attachment,
        // and is not thanked.
        let mut reply = message(
            "re-1@records.gov.au",
            "jordan@records.gov.au",
            "Re: We have your request",
            &["ack-1@dta.gov.au"],
        );
        if let Parsed::Message { enquiry, .. } = &mut reply.parsed {
            enquiry.attachments.push(waymark_store::NewFile {
                title: "Email attachment: plan.pdf".into(),
                name: "plan.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7 our plan".to_vec(),
            });
        }
        let taken = s.take_mail(&reply, Some(&ack), NOW).await.unwrap();
        assert!(
            matches!(taken, Taken::Conversation { enquiry, .. } if enquiry == id),
            "{taken:?}"
        );
        assert_eq!(s.outbox(&admin, 10).await.unwrap().len(), 1);
        assert_eq!(s.enquiries(&w.staff, None, 10).await.unwrap().len(), 1);

        // A client that drops the headers: the tag finds the enquiry, but
        // only for its own sender; a stranger copying it starts a new one.
        let tagged = message(
            "re-2@records.gov.au",
            "Jordan@Records.gov.au",
            &format!("Re: Help [WM-{id}]"),
            &[],
        );
        assert!(matches!(
            s.take_mail(&tagged, None, NOW).await.unwrap(),
            Taken::Conversation { .. }
        ));
        let stranger = message(
            "x@evil.example",
            "mallory@evil.example",
            &format!("Re: Help [WM-{id}]"),
            &[],
        );
        let taken = s.take_mail(&stranger, None, NOW).await.unwrap();
        assert!(
            matches!(taken, Taken::Enquiry { enquiry } if enquiry != id),
            "{taken:?}"
        );

        // The programme answers: through the outbox, threaded on the newest
        // message from the sender, the whole thread named.
        let body: Text<20000> = "We can meet on Tuesday.".into();
        s.reply_to_enquiry(&w.staff, id, &body, "pu@dta.gov.au", "\n--\nPU", NOW)
            .await
            .unwrap();
        let out = s.outbox(&admin, 10).await.unwrap();
        let answer = &out[0];
        assert_eq!(answer.recipient, "jordan@records.gov.au");
        assert_eq!(answer.subject, format!("Re: Help [WM-{id}]"));
        assert_eq!(answer.in_reply_to.as_deref(), Some("re-2@records.gov.au"));
        assert_eq!(
            answer.references.as_deref(),
            Some("req-1@records.gov.au re-1@records.gov.au re-2@records.gov.au")
        );
        assert!(answer.auto_submitted.is_none());
        let own_id = answer.message_id.clone().unwrap();
        assert!(own_id.ends_with("@dta.gov.au"), "{own_id}");
        // The sender's answer to it threads on too.
        let back = message(
            "re-3@records.gov.au",
            "jordan@records.gov.au",
            "Re: Re: Help",
            &[&own_id],
        );
        assert!(matches!(
            s.take_mail(&back, None, NOW).await.unwrap(),
            Taken::Conversation { .. }
        ));
        let conversation = s.conversation(&w.staff, id).await.unwrap();
        let directions: Vec<&str> = conversation.iter().map(|m| m.direction.as_str()).collect();
        assert_eq!(directions, ["in", "in", "out", "in"]);
        assert!(conversation[2].body.starts_with("We can meet on Tuesday."));
        assert_eq!(conversation[2].author, Some(w.staff.person));
        assert_eq!(conversation[0].files.len(), 1);
        let (_, bytes) = s.file(&w.staff, conversation[0].files[0].id).await.unwrap();
        assert_eq!(bytes, b"%PDF-1.7 our plan");
        // The enquiry's own attachments are only what opened it.
        let (_, _, own) = s.enquiry(&w.staff, id).await.unwrap();
        assert!(own.is_empty());

        // Only the programme sees or answers a conversation.
        for outsider in [&w.member, &w.other] {
            assert!(s.conversation(outsider, id).await.is_err());
            assert!(
                s.reply_to_enquiry(outsider, id, &body, "pu@dta.gov.au", "", NOW)
                    .await
                    .is_err()
            );
        }
        let empty: Text<20000> = "  ".into();
        assert!(
            s.reply_to_enquiry(&w.staff, id, &empty, "pu@dta.gov.au", "", NOW)
                .await
                .is_err()
        );
        // Search finds words of the conversation.
        let found = s
            .search(
                Some(&w.staff),
                &waymark_core::search::Query::parse("Tuesday"),
                None,
                1,
            )
            .await
            .unwrap();
        assert!(
            found
                .iter()
                .any(|g| g.hits.iter().any(|h| h.reference == id.to_string())),
            "{found:?}"
        );

        // The chain binds every message: a changed one is found.
        assert!(s.verify().await.unwrap().intact());
        // An export carries the conversation and the mailbox's records.
        let x = s.export().await.unwrap();
        let copy = stores("mailbox-copy").await.remove(0);
        copy.import(&x).await.unwrap();
        assert_eq!(copy.export().await.unwrap(), x);
        assert_eq!(copy.conversation(&w.staff, id).await.unwrap(), conversation);
        assert!(copy.verify().await.unwrap().intact());
        sqlx::query(
            "UPDATE enquiry_messages SET body = 'forged' WHERE message_id = 're-1@records.gov.au'",
        )
        .execute(s.pool())
        .await
        .unwrap();
        let v = s.verify().await.unwrap();
        assert!(!v.intact(), "{v:?}");
        assert!(s.enquiry(&w.staff, id).await.is_err());
    }
}

#[tokio::test]
async fn robots_records_and_workshop_answers_make_no_enquiry() {
    for store in stores("mailbox-robots").await {
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        // An auto-reply: kept as a record, never answered.
        let mut auto = message(
            "ooo@records.gov.au",
            "jordan@records.gov.au",
            "Out of office",
            &[],
        );
        if let Parsed::Message { automatic, .. } = &mut auto.parsed {
            *automatic = Some("an auto-reply (X-Autoreply)");
        }
        let taken = s.take_mail(&auto, Some(&ack), NOW).await.unwrap();
        assert!(matches!(taken, Taken::Recorded { .. }), "{taken:?}");
        assert!(s.outbox(&admin, 10).await.unwrap().is_empty());
        assert!(s.enquiries(&w.staff, None, 10).await.unwrap().is_empty());

        // Unreadable and too large: records that wait for the programme,
        // each taken once by its mailbox place.
        let key = |uid| MailboxKey {
            mailbox: "imap://inbox@host:993/INBOX".into(),
            uidvalidity: 7,
            uid,
        };
        let mut bad = message("sha256:abc", "", "", &[]);
        bad.key = Some(key(1));
        bad.parsed = Parsed::Unreadable {
            reason: "its MIME structure is broken".into(),
            raw: b"Subject: x\r\nContent-Type: multipart/mixed\r\n\r\n".to_vec(),
        };
        let mut big = message("big@records.gov.au", "jordan@records.gov.au", "Huge", &[]);
        big.key = Some(key(2));
        big.size = 30 * 1024 * 1024;
        big.parsed = Parsed::TooLarge;
        for m in [&bad, &big] {
            assert!(matches!(
                s.take_mail(m, Some(&ack), NOW).await.unwrap(),
                Taken::Recorded { .. }
            ));
            assert!(s.mail_taken(m.key.as_ref().unwrap()).await.unwrap());
            assert_eq!(s.take_mail(m, None, NOW).await.unwrap(), Taken::Duplicate);
        }
        assert_eq!(s.mail_waiting(&w.staff).await.unwrap(), 2);
        assert_eq!(s.mail_waiting(&w.member).await.unwrap(), 0);
        let waiting = s.inbound_mail(&w.staff, true, 10).await.unwrap();
        assert!(waiting[0].reason.contains("30 MB"), "{}", waiting[0].reason);
        let file = waiting[1]
            .file
            .expect("the unreadable message's bytes are kept");
        let (_, bytes) = s.file(&w.staff, file).await.unwrap();
        assert!(bytes.starts_with(b"Subject: x"));
        assert!(s.inbound_mail(&w.member, false, 10).await.is_err());
        s.review_inbound(&w.staff, waiting[0].id, NOW)
            .await
            .unwrap();
        assert!(
            s.review_inbound(&w.staff, waiting[0].id, NOW)
                .await
                .is_err()
        );
        assert_eq!(s.mail_waiting(&w.staff).await.unwrap(), 1);

        // A workshop answer: recorded on the engagement's chain, once.
        let e = w.start().await;
        let plan = WorkshopPlan {
            retro: false,
            title: "Initial workshop".into(),
            date: "2026-12-01".into(),
            time: "10:00".into(),
            timezone: "Australia/Canberra".into(),
            minutes: 90,
            location: Some("Canberra".into()),
            link: None,
            agenda: "Sponsorship".into(),
            attendees: vec![Attendee {
                email: "jordan@records.gov.au".into(),
                name: None,
                person: None,
            }],
        };
        let e = s
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::ScheduleWorkshop { id: None, plan },
                NOW,
            )
            .await
            .unwrap();
        let answer = |id: &str, uid: String, who: &str, a: Answer| {
            let mut m = message(id, who, "Accepted: Initial workshop", &[]);
            if let Parsed::Message { calendar, .. } = &mut m.parsed {
                *calendar = Some(CalendarReply {
                    uid,
                    attendee: who.into(),
                    answer: a,
                });
            }
            m
        };
        let uid = format!("workshop-{}-1@waymark.example", e.id.0);
        let yes = answer(
            "cal-1@records.gov.au",
            uid.clone(),
            "jordan@records.gov.au",
            Answer::Accepted,
        );
        assert_eq!(
            s.take_mail(&yes, Some(&ack), NOW).await.unwrap(),
            Taken::Attendance {
                engagement: e.id.0,
                workshop: 1
            }
        );
        let after = s.engagement(&w.staff, e.id).await.unwrap();
        assert_eq!(
            after.workshops[0].answer_of("Jordan@records.gov.au"),
            Some(Answer::Accepted)
        );
        assert_eq!(after.version, e.version + 1);
        // Someone answering for an invited attendee: a record only.
        let mut forged = answer(
            "cal-5@x",
            uid.clone(),
            "jordan@records.gov.au",
            Answer::Declined,
        );
        forged.sender = "mallory@evil.example".into();
        let taken = s.take_mail(&forged, Some(&ack), NOW).await.unwrap();
        assert!(
            matches!(&taken, Taken::Recorded { reason, .. } if reason.contains("not that attendee")),
            "{taken:?}"
        );
        // Someone not invited, and a workshop that does not exist: records.
        let stranger = answer(
            "cal-2@x",
            uid.clone(),
            "mallory@evil.example",
            Answer::Declined,
        );
        let ghost = answer(
            "cal-3@x",
            format!("workshop-{}-9@w", e.id.0),
            "jordan@records.gov.au",
            Answer::Declined,
        );
        let other = answer(
            "cal-4@x",
            "meeting-1@elsewhere".into(),
            "jordan@records.gov.au",
            Answer::Declined,
        );
        for m in [&stranger, &ghost, &other] {
            let taken = s.take_mail(m, Some(&ack), NOW).await.unwrap();
            assert!(matches!(taken, Taken::Recorded { .. }), "{taken:?}");
        }
        let unchanged = s.engagement(&w.staff, e.id).await.unwrap();
        assert_eq!(unchanged.version, after.version);
        // No acknowledgement went to any of them.
        assert!(s.outbox(&admin, 10).await.unwrap().is_empty());
        assert!(s.enquiries(&w.staff, None, 10).await.unwrap().is_empty());
        assert!(s.verify().await.unwrap().intact());
    }
}

#[tokio::test]
async fn what_an_attacker_found_in_the_mailbox_is_closed() {
    for store in stores("mailbox-attacks").await {
        let w = world(store).await;
        let s = &w.store;
        let admin = w.admin();
        let first = message("first-1@agency.gov.au", "sam@agency.gov.au", "Help", &[]);
        let Taken::Enquiry { enquiry: id } = s.take_mail(&first, Some(&ack), NOW).await.unwrap()
        else {
            panic!()
        };
        // A stranger who knows Sam's Message-ID does not join Sam's
        // conversation (and so cannot put ids into answers to Sam); a
        // colleague at Sam's agency does.
        let mallory = message(
            "m1@evil.example",
            "mallory@evil.example",
            "Re: Help",
            &["first-1@agency.gov.au"],
        );
        let taken = s.take_mail(&mallory, None, NOW).await.unwrap();
        assert!(
            matches!(taken, Taken::Enquiry { enquiry } if enquiry != id),
            "{taken:?}"
        );
        let colleague = message(
            "c1@agency.gov.au",
            "cio@agency.gov.au",
            "Re: Help",
            &["first-1@agency.gov.au"],
        );
        let taken = s.take_mail(&colleague, None, NOW).await.unwrap();
        assert!(
            matches!(taken, Taken::Conversation { enquiry, .. } if enquiry == id),
            "{taken:?}"
        );

        // A different message reusing Sam's Message-ID is kept, not lost.
        let forged = message(
            "first-1@agency.gov.au",
            "y@other.gov.au",
            "Something else",
            &[],
        );
        let taken = s.take_mail(&forged, None, NOW).await.unwrap();
        assert!(
            matches!(taken, Taken::Enquiry { enquiry } if enquiry != id),
            "{taken:?}"
        );
        // The very same message again is still a duplicate.
        assert_eq!(
            s.take_mail(&first, None, NOW).await.unwrap(),
            Taken::Duplicate
        );

        // A robot answering every acknowledgement with a new message gets
        // three a day, then none.
        for n in 0..5 {
            let m = message(
                &format!("loop-{n}@bot.example"),
                "bot@bot.example",
                "Thanks!",
                &[],
            );
            s.take_mail(&m, Some(&ack), NOW).await.unwrap();
        }
        let to_bot = s
            .outbox(&admin, 50)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.recipient == "bot@bot.example")
            .count();
        assert_eq!(to_bot, 3);

        // The server refuses a message for good: it is not tried again and
        // is no backlog.
        let due = s.claim_mail(Timestamp(NOW.0 + 1), 50).await.unwrap();
        let refused = due[0].id;
        s.mail_refused(refused, "550 no such user", NOW)
            .await
            .unwrap();
        let again = s.claim_mail(Timestamp(NOW.0 + 100_000), 50).await.unwrap();
        assert!(again.iter().all(|m| m.id != refused));
        let health = s.health().await.unwrap();
        assert_eq!(health.outbox_unsent as usize, again.len());
    }
}
