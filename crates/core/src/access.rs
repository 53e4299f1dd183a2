//! Who may see and do what. The customer owns its engagement: agency staff
//! see only their own agency; partners only what they are assigned; the DTA
//! programme team sees everything.

use serde::{Deserialize, Serialize};

use crate::engagement::Engagement;
use crate::people::{AgencyId, PersonId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    Strategy,
    Technology,
    ChangeManagement,
}

/// One of a person's memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    ProgrammeAdmin,
    ProgrammeStaff,
    AgencyMember { agency: AgencyId, sponsor: bool },
    Partner { kind: PartnerKind },
}

/// The person giving a command, with all their memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
