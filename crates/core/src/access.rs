//! Who may see and do what. The customer owns its engagement: agency staff
//! see only their own agency; partners only what they are assigned; the DTA
//! programme team sees everything.

use serde::{Deserialize, Serialize};

use crate::engagement::Engagement;
use crate::error::DomainError;
use crate::people::{AgencyId, Person, PersonId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    Strategy,
    Technology,
    ChangeManagement,
}

impl PartnerKind {
    /// "Strategy partner" and so on.
    pub fn label(self) -> &'static str {
        match self {
            PartnerKind::Strategy => "Strategy partner",
            PartnerKind::Technology => "Technology partner",
            PartnerKind::ChangeManagement => "Change management partner",
        }
    }
}

/// One of a person's memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    ProgrammeAdmin,
    ProgrammeStaff,
    AgencyMember { agency: AgencyId, sponsor: bool },
    Partner { kind: PartnerKind },
}

impl Role {
    /// How the directory shows the role.
    pub fn label(&self) -> &'static str {
        match self {
            Role::ProgrammeAdmin => "Programme admin",
            Role::ProgrammeStaff => "Programme staff",
            Role::AgencyMember { sponsor: true, .. } => "Agency member, executive sponsor",
            Role::AgencyMember { .. } => "Agency member",
            Role::Partner { kind } => kind.label(),
        }
    }
}

/// Downloads of personal data an hour, for those limited
/// ([`Actor::personal_data_limit`]).
pub const PERSONAL_DATA_PER_HOUR: u64 = 10;

/// The person giving a command, with all their memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    pub person: PersonId,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn is_programme(&self) -> bool {
        self.roles
            .iter()
            .any(|r| matches!(r, Role::ProgrammeAdmin | Role::ProgrammeStaff))
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::ProgrammeAdmin)
    }

    pub fn member_of(&self, agency: AgencyId) -> bool {
        self.roles
            .iter()
            .any(|r| matches!(r, Role::AgencyMember { agency: a, .. } if *a == agency))
    }

    pub fn sponsor_of(&self, agency: AgencyId) -> bool {
        self.roles
            .iter()
            .any(|r| matches!(r, Role::AgencyMember { agency: a, sponsor: true } if *a == agency))
    }

    pub fn is_partner(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, Role::Partner { .. }))
    }

    /// Admins invite people and change their roles.
    /// Whether this actor may deactivate (or reactivate) `person`: admins
    /// may, but never themselves, so the programme cannot lock itself out
    /// by one mistaken click.
    pub fn may_deactivate(&self, person: crate::PersonId) -> Result<(), DomainError> {
        self.may_manage_people()?;
        if person == self.person {
            return Err(DomainError::Forbidden {
                action: "deactivate yourself",
                why: "another programme admin must do it",
            });
        }
        Ok(())
    }

    /// Whether this actor may remove `person`'s personal data at their
    /// request (Australian Privacy Principle 11.2, or 13 when correcting
    /// is not enough): programme admins, who answer such requests, never
    /// for themselves (another admin checks the request), and never undone.
    pub fn may_remove_personal_data(&self, person: crate::PersonId) -> Result<(), DomainError> {
        self.may_manage_people()?;
        if person == self.person {
            return Err(DomainError::Forbidden {
                action: "remove your own personal data",
                why: "another programme admin must do it",
            });
        }
        Ok(())
    }

    /// Whether this actor may read everything Waymark holds about
    /// `person` (a request under Australian Privacy Principle 12): the
    /// person themself, or a programme admin for them. Asked before the
    /// person is looked up, so the answer says nothing of who exists.
    pub fn may_see_personal_data(&self, person: crate::PersonId) -> Result<(), DomainError> {
        if person == self.person || self.is_admin() {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                action: "see another person's data",
                why: "only the person and the programme's admins download what Waymark holds about someone",
            })
        }
    }

    /// Whether this actor may correct `person`'s name and, if
    /// `email_changes`, their email address (Australian Privacy Principle
    /// 13): anyone their own name; a programme admin anyone's name and
    /// address. A person does not change their own address: it is how they
    /// sign in and how the programme reaches them, so an admin does it for
    /// them. Asked before the person is looked up.
    pub fn may_correct_person(
        &self,
        person: crate::PersonId,
        email_changes: bool,
    ) -> Result<(), DomainError> {
        if self.is_admin() || (person == self.person && !email_changes) {
            Ok(())
        } else if person == self.person {
            Err(DomainError::Forbidden {
                action: "change your own email address",
                why: "ask a programme admin: it is how you sign in",
            })
        } else {
            Err(DomainError::Forbidden {
                action: "correct another person's details",
                why: "only the person (their name) and the programme's admins do that",
            })
        }
    }

    /// How many downloads of personal data this actor makes in an hour:
    /// each reads a good deal, so a few, except for programme admins, who
    /// answer people's requests.
    pub fn personal_data_limit(&self) -> Option<u64> {
        (!self.is_admin()).then_some(PERSONAL_DATA_PER_HOUR)
    }

    pub fn may_manage_people(&self) -> Result<(), DomainError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                action: "manage people",
                why: "only programme admins invite people and change roles",
            })
        }
    }

    /// The programme team registers agencies (often from an enquiry).
    pub fn may_add_agency(&self) -> Result<(), DomainError> {
        if self.is_programme() {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                action: "add an agency",
                why: "the programme team registers agencies",
            })
        }
    }

    /// Admins read the mail outbox (it holds invitation links); to anyone
    /// else it does not exist.
    pub fn may_read_outbox(&self) -> bool {
        self.is_admin()
    }

    /// The programme team keeps the letter templates (others do not see them).
    pub fn may_edit_templates(&self) -> Result<(), DomainError> {
        if self.is_programme() {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                action: "edit_template",
                why: "the programme team keeps the letter templates",
            })
        }
    }

    /// The agencies whose records this actor sees as a member.
    pub fn agencies(&self) -> impl Iterator<Item = AgencyId> + '_ {
        self.roles.iter().filter_map(|r| match r {
            Role::AgencyMember { agency, .. } => Some(*agency),
            _ => None,
        })
    }

    /// Whether the actor may see `person`: the programme sees everyone;
    /// others see themselves and the people of their own agencies.
    pub fn sees_person(&self, person: &Person) -> bool {
        self.is_programme()
            || person.id == self.person
            || person
                .roles
                .iter()
                .any(|r| matches!(r, Role::AgencyMember { agency, .. } if self.member_of(*agency)))
    }

    /// What access the actor has to one engagement.
    pub fn access(&self, e: &Engagement) -> Access {
        if self.is_programme() {
            Access::Programme
        } else if self.member_of(e.agency) {
            Access::Agency {
                sponsor: self.sponsor_of(e.agency) || e.sponsor == Some(self.person),
            }
        } else if self.is_partner() && e.assigned.iter().any(|a| a.person == self.person) {
            Access::Partner
        } else {
            Access::None
        }
    }
}

/// An actor's standing on one engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    None,
    Partner,
    Agency { sponsor: bool },
    Programme,
}
