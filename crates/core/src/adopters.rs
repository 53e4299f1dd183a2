//! The adopter directory: "which agencies are using the blueprint".
//!
//! An agency opts in (its executive sponsor or the programme decides); its
//! entry then says how far it has come, from its engagements' recorded
//! state, never from a typed field: the furthest stage (the highest-numbered
//! stage any of its engagements ever entered) and since when, the stages
//! active now and those completed, and whether it adopts the blueprint on
//! its own (Do it Yourself).

use serde::{Deserialize, Serialize};
use waymark_model::Model;

use crate::{Actor, AgencyId, DomainError, Email, Engagement, Mode, StageStatus, Timestamp};

/// Only the agency's executive sponsor or the programme lists an agency or
/// takes it off.
pub fn may_list(actor: &Actor, agency: AgencyId) -> Result<(), DomainError> {
    if actor.is_programme() || actor.sponsor_of(agency) {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: "list this agency in the directory",
            why: "the agency's executive sponsor or the programme decides",
        })
    }
}

/// What an agency chooses to show beside its entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing {
    /// A public contact address, or empty.
    pub contact: String,
    /// A case study's web address (http or https), or empty.
    pub case_study: String,
}

/// Checks what is typed for a listing, every problem at once.
pub fn listing(contact: &str, case_study: &str) -> Result<Listing, Vec<DomainError>> {
    let mut problems = Vec::new();
    let contact = contact.trim();
    let contact = if contact.is_empty() {
        String::new()
    } else {
        match Email::parse(contact) {
            Ok(e) => e.as_str().to_string(),
            Err(_) => {
                problems.push(DomainError::invalid(
                    "contact",
                    "give an email address people may write to, or leave it empty",
                ));
                String::new()
            }
        }
    };
    let case_study = case_study.trim().to_string();
    let web = case_study.len() <= 1000 && crate::knowledge::web_address(&case_study);
    if !case_study.is_empty() && !web {
        problems.push(DomainError::invalid(
            "case_study",
            "give a web address starting with https://, or leave it empty",
        ));
    }
    if problems.is_empty() {
        Ok(Listing {
            contact,
            case_study,
        })
    } else {
        Err(problems)
    }
}

/// How far an agency has come, from its engagements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Standing {
    /// The highest-numbered stage ever entered: (slug, name).
    pub furthest: Option<(String, String)>,
    /// When it first entered that stage.
    pub since: Option<Timestamp>,
    /// Stages active now, by name, in the model's order.
    pub active: Vec<String>,
    /// Stages completed and not active again, by name.
    pub completed: Vec<String>,
    /// It adopts the blueprint on its own (an engagement in Do it Yourself).
    pub independent: bool,
}

/// An agency's standing across its engagements, by `model`'s stage order.
pub fn standing(engagements: &[Engagement], model: &Model) -> Standing {
    let mut furthest: Option<(u32, &str, &str)> = None;
    let mut since: Option<Timestamp> = None;
    let mut active = Vec::new();
    let mut completed = Vec::new();
    for stage in &model.stages {
        let records: Vec<_> = engagements
            .iter()
            .filter_map(|e| e.stage(&stage.slug))
            .collect();
        let entered: Vec<Timestamp> = records
            .iter()
            .filter(|r| r.cycles > 0)
            .filter_map(|r| r.started_at)
            .collect();
        if !entered.is_empty() && furthest.is_none_or(|(n, _, _)| stage.number > n) {
            furthest = Some((stage.number, &stage.slug, &stage.name));
            since = entered.iter().min().copied();
        }
        if records.iter().any(|r| r.status == StageStatus::Active) {
            active.push(stage.name.clone());
        } else if records.iter().any(|r| r.status == StageStatus::Completed) {
            completed.push(stage.name.clone());
        }
    }
    Standing {
        furthest: furthest.map(|(_, slug, name)| (slug.to_string(), name.to_string())),
        since,
        active,
        completed,
        independent: engagements.iter().any(|e| e.mode == Mode::DoItYourself),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, PersonId};

    fn engagement(events: &[(Event, i64)]) -> Engagement {
        let model = waymark_model::build(waymark_model::bundled()).model;
        let mut e = Engagement::new(crate::EngagementId(1), AgencyId(1));
        e.apply(
            &Event::Started {
                agency: AgencyId(1),
                mode: Mode::DoItWithYou,
                model_hash: "h".into(),
                stages: model.stages.iter().map(|s| s.slug.clone()).collect(),
            },
            PersonId(1),
            Timestamp(1),
        );
        for (ev, at) in events {
            e.apply(ev, PersonId(1), Timestamp(*at));
        }
        e
    }

    #[test]
    fn the_furthest_stage_ever_entered_and_what_is_active() {
        let model = waymark_model::build(waymark_model::bundled()).model;
        let enter = |s: &str| Event::StageEntered {
            stage: s.into(),
            cycle: 1,
        };
        let done = |s: &str| Event::StageCompleted { stage: s.into() };
        let e = engagement(&[
            (enter("engagement"), 10),
            (done("engagement"), 20),
            (enter("discovery"), 20),
            (done("discovery"), 30),
            (enter("deploy"), 30),
        ]);
        let s = standing(&[e], &model);
        assert_eq!(s.furthest, Some(("deploy".into(), "Deploy".into())));
        assert_eq!(s.since, Some(Timestamp(30)));
        assert_eq!(s.active, ["Deploy"]);
        assert_eq!(s.completed, ["Engagement", "Discovery"]);
        assert!(!s.independent);
        let nothing = standing(&[], &model);
        assert_eq!((nothing.furthest, nothing.active.len()), (None, 0));
    }

    #[test]
    fn only_the_sponsor_or_the_programme_lists_and_entries_are_checked() {
        let sponsor = Actor {
            person: PersonId(2),
            roles: vec![crate::Role::AgencyMember {
                agency: AgencyId(1),
                sponsor: true,
            }],
        };
        let member = Actor {
            person: PersonId(3),
            roles: vec![crate::Role::AgencyMember {
                agency: AgencyId(1),
                sponsor: false,
            }],
        };
        assert!(may_list(&sponsor, AgencyId(1)).is_ok());
        assert!(may_list(&sponsor, AgencyId(2)).is_err());
        assert!(may_list(&member, AgencyId(1)).is_err());
        assert!(listing("", "").is_ok());
        assert!(listing("cio@abs.gov.au", "https://abs.gov.au/story").is_ok());
        assert_eq!(
            listing("not mail", "javascript:alert(1)")
                .unwrap_err()
                .len(),
            2
        );
    }
}
