//! Lists are filtered by access in SQL and paged; their summaries are kept
//! beside each record and rebuilt after an import.

use waymark_core::*;
use waymark_store::{ListFilter, Store};

use crate::{NOW, stores, world};

async fn partner(store: &Store) -> Actor {
    let p = store
        .add_person(
            &NewPerson::parse("Pat Partner", "pat@vendor.com.au").unwrap(),
            NOW,
        )
        .await
        .unwrap();
    store
        .add_role(
            p,
            Role::Partner {
                kind: PartnerKind::Strategy,
            },
        )
        .await
        .unwrap();
    store.actor(p).await.unwrap()
}

fn ids(items: &[Summary]) -> Vec<i64> {
    items.iter().map(|s| s.id.0).collect()
}

#[tokio::test]
async fn lists_follow_access_and_pages() {
    for store in stores("listing").await {
        let w = world(store).await;
        let pat = partner(&w.store).await;
        let mut started = Vec::new();
        for _ in 0..5 {
            started.push(w.start().await);
        }
        // Pat is assigned to the second engagement only.
        let second = &started[1];
        w.store
            .execute(
                &w.staff,
                second.id,
                second.version,
                &Command::Assign {
                    person: pat.person,
                    partner: Some(PartnerKind::Strategy),
                },
                NOW,
            )
            .await
            .unwrap();
        let all = ListFilter::default();
        let staff = w.store.engagements(&w.staff, &all).await.unwrap();
        assert_eq!(staff.total, 5);
        let newest_first: Vec<i64> = started.iter().rev().map(|e| e.id.0).collect();
        assert_eq!(ids(&staff.items), newest_first);
        assert_eq!(
            ids(&w.store.engagements(&w.member, &all).await.unwrap().items),
            newest_first
        );
        assert!(
            w.store
                .engagements(&w.other, &all)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let pats = w.store.engagements(&pat, &all).await.unwrap();
        assert_eq!((pats.total, ids(&pats.items)), (1, vec![second.id.0]));
        // The summary is of the record as it is now.
        assert_eq!(pats.items[0].version, second.version + 1);

        // Paging: two at a time, in order, nothing repeated or missed.
        let mut seen = Vec::new();
        for offset in [0, 2, 4] {
            let page = w
                .store
                .engagements(
                    &w.staff,
                    &ListFilter {
                        limit: 2,
                        offset,
                        ..all
                    },
                )
                .await
                .unwrap();
            assert_eq!(page.total, 5);
            seen.extend(ids(&page.items));
        }
        assert_eq!(seen, newest_first);

        // Unassigning takes the partner's access away, in the list too.
        let now = w.store.engagement(&w.staff, second.id).await.unwrap();
        w.store
            .execute(
                &w.staff,
                second.id,
                now.version,
                &Command::Unassign { person: pat.person },
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(w.store.engagements(&pat, &all).await.unwrap().total, 0);

        // The agency filter, for an agency with none.
        let other_agency = w.store.agencies().await.unwrap();
        let oth = other_agency
            .iter()
            .find(|a| a.abbreviation.as_str() == "OTH")
            .unwrap();
        let filtered = ListFilter {
            agency: Some(oth.id),
            ..all
        };
        assert_eq!(
            w.store
                .engagements(&w.staff, &filtered)
                .await
                .unwrap()
                .total,
            0
        );
        let total = async |actor: &Actor, f: &ListFilter| {
            w.store.engagements(actor, f).await.unwrap().total
        };
        assert_eq!(total(&w.member, &filtered).await, 0);
        let own = ListFilter {
            agency: Some(w.agency),
            ..all
        };
        assert_eq!(total(&w.staff, &own).await, 5);
        assert_eq!(total(&w.member, &own).await, 5);
        assert_eq!(total(&w.other, &own).await, 0);
    }
}

#[tokio::test]
async fn agencies_and_people_read_back() {
    for store in stores("directory").await {
        let w = world(store).await;
        let agencies = w.store.agencies().await.unwrap();
        let names: Vec<&str> = agencies.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Digital Transformation Agency", "Other"]);
        assert_eq!(agencies[0].agency_type, Some(AgencyType::Aligned));
        assert_eq!(
            w.store.agency(w.agency).await.unwrap().unwrap(),
            agencies[0]
        );
        assert_eq!(w.store.agency(AgencyId(999)).await.unwrap(), None);

        let people = w.store.people().await.unwrap();
        assert_eq!(people.len(), 3);
        let mia = people
            .iter()
            .find(|p| p.email.as_str() == "mia@dta.gov.au")
            .unwrap();
        assert_eq!(mia.roles, w.member.roles);
        assert_eq!(w.store.person(mia.id).await.unwrap().as_ref(), Some(mia));
        // Who sees whom: the member sees themselves, not the other agency.
        let seen: Vec<&str> = people
            .iter()
            .filter(|p| w.member.sees_person(p))
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(seen, ["Mia Member"]);
        assert_eq!(people.iter().filter(|p| w.staff.sees_person(p)).count(), 3);

        // People by exact role: an agency's members, programme staff; a
        // person with two roles is listed once, with both.
        let names = |ps: Vec<Person>| ps.into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(
            names(w.store.members_of(w.agency).await.unwrap()),
            ["Mia Member"]
        );
        assert_eq!(
            names(
                w.store
                    .people_with_roles(&[Role::ProgrammeStaff])
                    .await
                    .unwrap()
            ),
            ["Sam Staff"]
        );
        let partner = Role::Partner {
            kind: PartnerKind::Strategy,
        };
        w.store.add_role(w.staff.person, partner).await.unwrap();
        let both = w
            .store
            .people_with_roles(&[Role::ProgrammeStaff, partner])
            .await
            .unwrap();
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].roles.len(), 2);
        assert!(w.store.people_with_roles(&[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn import_rebuilds_summaries_and_assignments() {
    let mut from = stores("derived-from").await;
    let to = stores("derived-to").await;
    let w = world(from.remove(0)).await;
    let pat = partner(&w.store).await;
    let e = w.start().await;
    w.store
        .execute(
            &w.staff,
            e.id,
            e.version,
            &Command::Assign {
                person: pat.person,
                partner: Some(PartnerKind::Strategy),
            },
            NOW,
        )
        .await
        .unwrap();
    let x = w.store.export().await.unwrap();
    for target in to {
        target.import(&x).await.unwrap();
        let all = ListFilter::default();
        let before = w.store.engagements(&w.staff, &all).await.unwrap();
        assert_eq!(target.engagements(&w.staff, &all).await.unwrap(), before);
        assert_eq!(target.engagements(&pat, &all).await.unwrap().total, 1);
    }
}

#[tokio::test]
async fn dashboards_count_by_stage_find_overdue_work_and_recent_events() {
    for store in stores("dashboards").await {
        let w = world(store).await;
        let a = w.start().await;
        let b = w.start().await;
        // b enters Discovery long ago (eight weeks and a day before NOW).
        let long_ago = Timestamp(NOW.0 - 57 * 86_400);
        w.store
            .execute(
                &w.staff,
                b.id,
                b.version,
                &Command::StartStage {
                    stage: "discovery".into(),
                },
                long_ago,
            )
            .await
            .unwrap();
        let count =
            async |actor: &Actor, stage: &str| w.store.count_active(actor, stage).await.unwrap();
        assert_eq!(count(&w.staff, "engagement").await, 2);
        assert_eq!(count(&w.staff, "discovery").await, 1);
        assert_eq!(count(&w.staff, "deploy").await, 0);
        assert_eq!(count(&w.member, "engagement").await, 2);
        assert_eq!(count(&w.other, "engagement").await, 0);
        // The programme's counts are kept as stages change; an agency
        // member's are counted directly. Both agree after each change.
        let mut b = w.store.engagement(&w.staff, b.id).await.unwrap();
        for (cmd, engagement, discovery) in [
            (
                Command::CompleteStage {
                    stage: "discovery".into(),
                },
                2,
                0,
            ),
            (
                Command::StartStage {
                    stage: "discovery".into(),
                },
                2,
                1,
            ),
            (
                Command::CompleteStage {
                    stage: "engagement".into(),
                },
                1,
                1,
            ),
            (
                Command::StartStage {
                    stage: "engagement".into(),
                },
                2,
                1,
            ),
        ] {
            b = w
                .store
                .execute(&w.staff, b.id, b.version, &cmd, long_ago)
                .await
                .unwrap();
            for actor in [&w.staff, &w.member] {
                assert_eq!(count(actor, "engagement").await, engagement, "{cmd:?}");
                assert_eq!(count(actor, "discovery").await, discovery, "{cmd:?}");
            }
        }
        // The dashboard's columns give the same counts, whether kept (the
        // programme's, read in one query) or counted (an agency member's).
        let model = waymark_model::build(waymark_model::bundled()).model;
        for actor in [&w.staff, &w.member, &w.other] {
            let dash = w.store.dashboard(actor, &model, NOW).await.unwrap();
            assert_eq!(dash.by_stage.len(), model.stages.len());
            let mut overdue = Vec::new();
            for col in &dash.by_stage {
                assert_eq!(
                    col.active,
                    count(actor, &col.stage).await,
                    "{actor:?} {}",
                    col.stage
                );
                // The one query's lists are each stage's own list.
                let newest = w
                    .store
                    .active_in_stage(actor, &col.stage, None, 5)
                    .await
                    .unwrap();
                assert_eq!(col.newest, newest, "{actor:?} {}", col.stage);
                if let Some(t) = model.stage(&col.stage).and_then(|s| s.timebox) {
                    let before = overrun_if_started_before(t, NOW);
                    for s in w
                        .store
                        .active_in_stage(actor, &col.stage, Some(before), 20)
                        .await
                        .unwrap()
                    {
                        if !overdue.iter().any(|o: &Summary| o.id == s.id) {
                            overdue.push(s);
                        }
                    }
                }
            }
            overdue.truncate(20);
            assert_eq!(dash.overdue, overdue, "{actor:?}");
            let engagement = dash
                .by_stage
                .iter()
                .find(|c| c.stage == "engagement")
                .unwrap();
            let expected = if std::ptr::eq(actor, &w.other) { 0 } else { 2 };
            assert_eq!(engagement.active, expected, "{actor:?}");
        }

        let in_engagement = w
            .store
            .active_in_stage(&w.staff, "engagement", None, 10)
            .await
            .unwrap();
        assert_eq!(in_engagement.len(), 2);
        let cutoff = Timestamp(NOW.0 - 56 * 86_400);
        let overdue = w
            .store
            .active_in_stage(&w.member, "discovery", Some(cutoff), 10)
            .await
            .unwrap();
        assert_eq!(overdue.iter().map(|s| s.id).collect::<Vec<_>>(), [b.id]);
        assert!(
            w.store
                .active_in_stage(&w.staff, "discovery", Some(long_ago), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            w.store
                .active_in_stage(&w.other, "engagement", None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let recent = w.store.recent_events(&w.member, 3).await.unwrap();
        assert_eq!(recent.len(), 3);
        assert!(recent.windows(2).all(|p| p[0].at >= p[1].at));
        assert!(
            recent
                .iter()
                .all(|e| e.engagement == a.id || e.engagement == b.id)
        );
        assert!(w.store.recent_events(&w.other, 3).await.unwrap().is_empty());

        let names = w
            .store
            .person_names(&[w.staff.person, w.member.person, PersonId(999)])
            .await
            .unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(names[&w.member.person], "Mia Member");
        let agencies = w.store.agencies_by_id(&[w.agency, w.agency]).await.unwrap();
        assert_eq!(agencies[&w.agency].abbreviation.as_str(), "DTA");
    }
}

/// The SQL that filters lists by access agrees with the core's rule
/// (`Actor::access`) for every kind of actor: the programme, an agency's
/// member and sponsor, a member of two agencies, a partner assigned to
/// one engagement, a partner assigned to none, and someone with no role.
/// Every list and count is checked against the same set.
#[tokio::test]
async fn every_list_shows_exactly_what_the_core_lets_each_actor_see() {
    for store in stores("listing-access").await {
        let w = world(store).await;
        let pat = partner(&w.store).await;
        // Someone with these roles, as the store reads them back.
        let person = async |name: &str, email: &str, roles: &[Role]| {
            let p = w
                .store
                .add_person_with_roles(&NewPerson::parse(name, email).unwrap(), roles, NOW)
                .await
                .unwrap();
            w.store.actor(p).await.unwrap()
        };
        let idle = person(
            "Ida Idle",
            "ida@vendor.com.au",
            &[Role::Partner {
                kind: PartnerKind::Technology,
            }],
        )
        .await;
        let nobody = person("No Body", "nobody@example.com", &[]).await;
        let both = person(
            "Bo Both",
            "bo@dta.gov.au",
            &[w.agency, w.other_agency].map(|agency| Role::AgencyMember {
                agency,
                sponsor: false,
            }),
        )
        .await;
        let mut all = Vec::new();
        for agency in [w.agency, w.other_agency, w.agency] {
            all.push(
                w.store
                    .start_engagement(&w.staff, agency, Mode::DoItWithYou, &w.model, NOW)
                    .await
                    .unwrap(),
            );
        }
        // Pat is assigned to the other agency's engagement only.
        let theirs = &all[1];
        all[1] = w
            .store
            .execute(
                &w.staff,
                theirs.id,
                theirs.version,
                &Command::Assign {
                    person: pat.person,
                    partner: Some(PartnerKind::Strategy),
                },
                NOW,
            )
            .await
            .unwrap();
        let model = waymark_model::build(waymark_model::bundled()).model;
        let first = model.stages[0].slug.clone();
        for actor in [&w.staff, &w.member, &w.other, &both, &pat, &idle, &nobody] {
            let mut core: Vec<i64> = all
                .iter()
                .filter(|e| actor.access(e) != Access::None)
                .map(|e| e.id.0)
                .collect();
            core.sort_unstable();
            let listing = w
                .store
                .engagements(actor, &ListFilter::default())
                .await
                .unwrap();
            let mut listed = ids(&listing.items);
            listed.sort_unstable();
            assert_eq!(listed, core, "{actor:?}: the list");
            assert_eq!(listing.total, core.len() as u64, "{actor:?}: the total");
            assert_eq!(
                w.store.count_active(actor, &first).await.unwrap(),
                core.len() as u64,
                "{actor:?}: the stage count"
            );
            let mut active = ids(&w
                .store
                .active_in_stage(actor, &first, None, 100)
                .await
                .unwrap());
            active.sort_unstable();
            assert_eq!(active, core, "{actor:?}: the stage's engagements");
            let mut recent: Vec<i64> = w
                .store
                .recent_events(actor, 100)
                .await
                .unwrap()
                .iter()
                .map(|e| e.engagement.0)
                .collect();
            recent.sort_unstable();
            recent.dedup();
            assert_eq!(recent, core, "{actor:?}: recent events");
            // One by one, too: what the list hides, a read refuses.
            for e in &all {
                let read = w.store.engagement(actor, e.id).await;
                assert_eq!(
                    read.is_ok(),
                    core.contains(&e.id.0),
                    "{actor:?}: engagement {}",
                    e.id
                );
            }
        }
    }
}
