//! An engagement's discussion on every backend: comments in the chain, read
//! only by those who may read the engagement; mentions left in the comment's
//! transaction and delivered once each, judged when they go out.

use waymark_core::discussion::Anchor;
use waymark_core::*;
use waymark_store::{Mail, StoreError};

use crate::*;

fn say(about: Anchor, body: &str) -> Command {
    Command::Comment {
        about,
        body: body.into(),
    }
}

fn mail(m: &waymark_store::PendingMention, w: &waymark_store::MentionMail) -> Mail {
    Mail {
        kind: "mention".into(),
        to: m.email.clone(),
        subject: format!("{} mentioned you", m.actor_name),
        body: format!("{}|{}|{}|{}", w.agency, w.about, w.anchor, w.body),
        ..Default::default()
    }
}

async fn mentions_mailed(s: &waymark_store::Store) -> Vec<(String, String)> {
    let staff = Actor {
        person: PersonId(0),
        roles: vec![Role::ProgrammeAdmin],
    };
    let mut out: Vec<(String, String)> = s
        .outbox(&staff, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "mention")
        .map(|m| (m.recipient, m.body))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn comments_are_read_only_where_the_engagement_is_and_mentions_are_judged_when_sent() {
    for s in stores("discussion").await {
        let w = world(s).await;
        let s = &w.store;
        let person = async |name: &str, email: &str, role: Role| {
            let p = s
                .add_person(&NewPerson::parse(name, email).unwrap(), NOW)
                .await
                .unwrap();
            s.add_role(p, role).await.unwrap();
            s.actor(p).await.unwrap()
        };
        let pat = person(
            "Pat Partner",
            "pat@vendor.example.com",
            Role::Partner {
                kind: PartnerKind::Technology,
            },
        )
        .await;
        let una = person(
            "Una Unassigned",
            "una@vendor.example.com",
            Role::Partner {
                kind: PartnerKind::Strategy,
            },
        )
        .await;
        let dee = person(
            "Dee Daily",
            "dee@dta.gov.au",
            Role::AgencyMember {
                agency: w.agency,
                sponsor: false,
            },
        )
        .await;
        s.set_settings(
            dee.person,
            &Settings {
                time_zone: "Australia/Sydney".into(),
                notify: Notify::Daily,
            },
        )
        .await
        .unwrap();
        let e = w.start().await;
        let e = s
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::Assign {
                    person: pat.person,
                    partner: Some(PartnerKind::Technology),
                },
                NOW,
            )
            .await
            .unwrap();
        let step = Anchor::Step {
            stage: "engagement".into(),
            step: 1,
        };
        // A comment from a page older than the assignment is still taken:
        // talk changes nothing a form edits.
        let e = s
            .execute(
                &w.member,
                e.id,
                e.version - 1,
                &say(
                    step.clone(),
                    "@Sam Staff, @Pat Partner and @Dee Daily: who runs the kick-off? \
                     (Not @Olly Other or @Una Unassigned.)",
                ),
                Timestamp(NOW.0 + 10),
            )
            .await
            .unwrap();
        assert_eq!(e.comments.len(), 1);
        let mut mentioned = e.comments[0].mentions.clone();
        mentioned.sort();
        let mut want = vec![w.staff.person, pat.person, dee.person];
        want.sort();
        assert_eq!(mentioned, want, "only people who take part");

        // Read by those who may read the engagement, and nobody else, who
        // cannot tell it exists.
        for outsider in [&w.other, &una] {
            assert!(matches!(
                s.discussion(outsider, e.id).await,
                Err(StoreError::Domain(DomainError::NotFound))
            ));
            assert!(matches!(
                s.participants(outsider, e.id).await,
                Err(StoreError::Domain(DomainError::NotFound))
            ));
            assert!(matches!(
                s.execute(
                    outsider,
                    e.id,
                    e.version,
                    &say(Anchor::Engagement, "hi"),
                    NOW
                )
                .await,
                Err(StoreError::Domain(DomainError::NotFound))
            ));
        }
        let (_, read) = s.discussion(&pat, e.id).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].anchor, step);
        assert!(read[0].body.contains("who runs the kick-off?"));
        let names: Vec<String> = s
            .participants(&w.member, e.id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert!(names.contains(&"Pat Partner".to_string()), "{names:?}");
        assert!(names.contains(&"Sam Staff".to_string()), "{names:?}");
        assert!(
            !names
                .iter()
                .any(|n| n == "Olly Other" || n == "Una Unassigned"),
            "{names:?}"
        );

        // Pat is unassigned before the mail goes: Pat hears nothing, now or
        // in a digest. Sam (each event) gets a mail; Dee (daily) none now.
        let e = s
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::Unassign { person: pat.person },
                NOW,
            )
            .await
            .unwrap();
        let pending = s.pending_mentions(10).await.unwrap();
        assert_eq!(pending.len(), 3);
        let later = Timestamp(NOW.0 + 20);
        let mut sent = 0;
        for m in &pending {
            sent += s.deliver_mention(m, later, mail).await.unwrap().unwrap();
            // Each once, whatever the servers.
            assert_eq!(s.deliver_mention(m, later, mail).await.unwrap(), None);
        }
        assert_eq!(sent, 1);
        let mailed = mentions_mailed(s).await;
        assert_eq!(mailed.len(), 1, "{mailed:?}");
        assert_eq!(mailed[0].0, "sam@dta.gov.au");
        assert!(
            mailed[0]
                .1
                .starts_with("Digital Transformation Agency|Engagement, step 1"),
            "{}",
            mailed[0].1
        );
        assert!(mailed[0].1.contains("|step:engagement:1|"));
        let digest = |p: PersonId| s.mentions_since(p, NOW, Timestamp(NOW.0 + 100));
        assert_eq!(digest(dee.person).await.unwrap().len(), 1);
        assert_eq!(
            digest(dee.person).await.unwrap()[0].anchor,
            "step:engagement:1"
        );
        assert!(digest(pat.person).await.unwrap().is_empty());

        // A comment hidden before its mention goes out is not mailed, nor
        // listed in a digest; its words stay for the programme and author.
        let e = s
            .execute(
                &w.member,
                e.id,
                e.version,
                &say(Anchor::Engagement, "Psst @Sam Staff and @Dee Daily"),
                Timestamp(NOW.0 + 30),
            )
            .await
            .unwrap();
        let e = s
            .execute(
                &w.staff,
                e.id,
                e.version,
                &Command::HideComment {
                    id: 2,
                    reason: "Not for here".into(),
                },
                Timestamp(NOW.0 + 31),
            )
            .await
            .unwrap();
        for m in s.pending_mentions(10).await.unwrap() {
            assert_eq!(s.deliver_mention(&m, later, mail).await.unwrap(), Some(0));
        }
        assert_eq!(mentions_mailed(s).await.len(), 1);
        assert_eq!(digest(dee.person).await.unwrap().len(), 1, "only the first");
        let (_, as_dee) = s.discussion(&dee, e.id).await.unwrap();
        assert_eq!(as_dee[1].body, "");
        let (_, as_author) = s.discussion(&w.member, e.id).await.unwrap();
        assert_eq!(as_author[1].hidden.as_deref(), Some("Not for here"));
        assert!(as_author[1].body.starts_with("Psst"));

        // Every comment, edit and hiding is in the chain, which holds.
        let v = s.verify().await.unwrap();
        assert!(v.broken.is_empty(), "{:?}", v.broken);
        let kinds: Vec<&str> = s
            .history(&w.staff, e.id)
            .await
            .unwrap()
            .iter()
            .map(|ev| ev.event.kind())
            .filter(|k| k.starts_with("comment"))
            .collect();
        assert_eq!(kinds, ["commented", "commented", "comment_hidden"]);
        // Dee reads the history without the hidden comment's words, whom
        // they named, or why it was hidden, nor a hash to guess them by.
        let as_dee = s.history(&dee, e.id).await.unwrap();
        let hidden: Vec<_> = as_dee
            .iter()
            .filter(|ev| {
                matches!(
                    &ev.event,
                    Event::Commented { id: 2, .. } | Event::CommentHidden { .. }
                )
            })
            .collect();
        assert_eq!(hidden.len(), 2);
        for ev in hidden {
            assert!(ev.hash.is_empty());
            let text = serde_json::to_string(&ev.event).unwrap();
            assert!(
                !text.contains("Psst") && !text.contains("Not for here"),
                "{text}"
            );
        }
        assert!(as_dee.iter().filter(|ev| !ev.hash.is_empty()).count() > 3);
    }
}
