//! Agencies' self-assessments: the agency's own chain, its type kept with
//! it, and the engagements re-tailored in the same transaction.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use waymark_core::assessment::AgencyEvent;
use waymark_core::*;
use waymark_model::{Model, Questionnaire};
use waymark_store::StoreError;

use crate::{NOW, stores, world};

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| waymark_model::build(waymark_model::bundled()).model)
}

fn questionnaire() -> &'static Questionnaire {
    model().questionnaire().unwrap()
}

/// Every question answered `low` (0) or `high` (2), complexity first.
fn answers(needs: usize, barriers: usize) -> BTreeMap<String, usize> {
    questionnaire()
        .questions()
        .enumerate()
        .map(|(i, q)| (q.key.clone(), if i < 6 { needs } else { barriers }))
        .collect()
}

fn tailored(events: &[waymark_store::StoredEvent]) -> Vec<Option<AgencyType>> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Tailored { agency_type, .. } => Some(*agency_type),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_assessment_sets_the_type_and_retailors_every_engagement_once() {
    for store in stores("assess").await {
        let w = world(store).await;
        // The world's agency was added as Aligned: its engagements start so.
        let a = w.start().await;
        let b = w.start().await;
        assert_eq!(a.agency_type, Some(AgencyType::Aligned));
        let r = w
            .store
            .assess_agency(
                &w.member,
                w.agency,
                Some(questionnaire()),
                &answers(0, 0),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(r.seq, 2);
        assert_eq!(r.event.agency_type(), AgencyType::Lean);
        let agency = w.store.agency(w.agency).await.unwrap().unwrap();
        assert_eq!(agency.agency_type, Some(AgencyType::Lean));
        for id in [a.id, b.id] {
            let e = w.store.engagement(&w.staff, id).await.unwrap();
            assert_eq!(e.agency_type, Some(AgencyType::Lean));
            let h = w.store.history(&w.staff, id).await.unwrap();
            assert_eq!(
                tailored(&h),
                [Some(AgencyType::Aligned), Some(AgencyType::Lean)]
            );
            assert_eq!(h.last().unwrap().command, "tailor");
        }
        // The same result again (other answers, still both factors low)
        // changes no engagement.
        let version = w.store.engagement(&w.staff, a.id).await.unwrap().version;
        let mut same = answers(1, 0);
        same.insert("ways-of-working".into(), 0);
        w.store
            .assess_agency(&w.member, w.agency, Some(questionnaire()), &same, NOW)
            .await
            .unwrap();
        assert_eq!(
            w.store.engagement(&w.staff, a.id).await.unwrap().version,
            version
        );
        // The programme sets a type over it, with its reason.
        let reason: Line<500> = "Their legislation is unusual".to_string().into();
        w.store
            .set_agency_type(&w.staff, w.agency, AgencyType::Complex, &reason, NOW)
            .await
            .unwrap();
        let e = w.store.engagement(&w.staff, a.id).await.unwrap();
        assert_eq!(e.agency_type, Some(AgencyType::Complex));
        let history = w.store.agency_history(&w.member, w.agency).await.unwrap();
        let kinds: Vec<&str> = history.iter().map(|r| r.event.name()).collect();
        assert_eq!(
            kinds,
            ["set_agency_type", "assess", "assess", "set_agency_type"]
        );
        assert_eq!(history[0].actor, PersonId(0));
        match &history[1].event {
            AgencyEvent::Assessed {
                questionnaire: v,
                answers,
                ..
            } => {
                assert_eq!(v, &questionnaire().version);
                assert_eq!(answers.len(), 8);
            }
            other => panic!("{other:?}"),
        }
        // A new engagement starts as the agency now is.
        assert_eq!(w.start().await.agency_type, Some(AgencyType::Complex));
        let v = w.store.verify().await.unwrap();
        assert!(v.intact(), "{v:?}");
        assert_eq!((v.agencies, v.agency_events), (2, 4));
    }
}

#[tokio::test]
async fn refused_assessments_write_nothing() {
    for store in stores("assess-refused").await {
        let w = world(store).await;
        let e = w.start().await;
        let before = w
            .store
            .agency_history(&w.staff, w.agency)
            .await
            .unwrap()
            .len();
        // Someone from another agency: refused, and as if it did not exist
        // for the history.
        let err = w
            .store
            .assess_agency(
                &w.other,
                w.agency,
                Some(questionnaire()),
                &answers(0, 0),
                NOW,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::Forbidden { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("sponsor"), "{err}");
        assert!(matches!(
            w.store.agency_history(&w.other, w.agency).await,
            Err(StoreError::Domain(DomainError::NotFound))
        ));
        // Incomplete answers name the question.
        let mut short = answers(0, 0);
        short.remove("resources");
        let err = w
            .store
            .assess_agency(&w.member, w.agency, Some(questionnaire()), &short, NOW)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("resources"), "{err}");
        // An agency that does not exist.
        let err = w
            .store
            .assess_agency(
                &w.staff,
                AgencyId(999),
                Some(questionnaire()),
                &answers(0, 0),
                NOW,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Missing { what: "agency", .. }),
            "{err}"
        );
        // Only the programme sets a type.
        let reason: Line<500> = "because".to_string().into();
        assert!(
            w.store
                .set_agency_type(&w.member, w.agency, AgencyType::Lean, &reason, NOW)
                .await
                .is_err()
        );
        assert_eq!(
            w.store
                .agency_history(&w.staff, w.agency)
                .await
                .unwrap()
                .len(),
            before
        );
        assert_eq!(
            w.store
                .engagement(&w.staff, e.id)
                .await
                .unwrap()
                .agency_type,
            Some(AgencyType::Aligned)
        );
    }
}

#[tokio::test]
async fn tampering_with_an_agency_chain_or_its_type_is_caught() {
    for store in stores("assess-tamper").await {
        let w = world(store).await;
        w.store
            .assess_agency(
                &w.member,
                w.agency,
                Some(questionnaire()),
                &answers(2, 2),
                NOW,
            )
            .await
            .unwrap();
        assert!(w.store.verify().await.unwrap().intact());
        // The type changed behind the chain's back.
        sqlx::query("UPDATE agencies SET agency_type = '\"lean\"' WHERE id = $1")
            .bind(w.agency.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.broken_agencies.len(), 1, "{v:?}");
        assert!(v.broken_agencies[0].reason.contains("Complex"), "{v:?}");
        // An answer rewritten.
        sqlx::query("UPDATE agencies SET agency_type = '\"complex\"' WHERE id = $1")
            .bind(w.agency.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        assert!(w.store.verify().await.unwrap().intact());
        sqlx::query(
            "UPDATE agency_events SET payload = REPLACE(payload, '\"answer\":2', '\"answer\":0') WHERE agency_id = $1 AND seq = 2",
        )
        .bind(w.agency.0)
        .execute(w.store.pool())
        .await
        .unwrap();
        let v = w.store.verify().await.unwrap();
        assert_eq!(v.broken_agencies.len(), 1, "{v:?}");
        assert_eq!(v.broken_agencies[0].seq, 2);
        // A removed event.
        sqlx::query("DELETE FROM agency_events WHERE agency_id = $1 AND seq = 2")
            .bind(w.agency.0)
            .execute(w.store.pool())
            .await
            .unwrap();
        let v = w.store.verify().await.unwrap();
        assert!(v.broken_agencies[0].reason.contains("remain"), "{v:?}");
    }
}
