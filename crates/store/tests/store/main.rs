//! The store's contract, run on every backend: SQLite always; PostgreSQL
//! when `WAYMARK_TEST_POSTGRES` (default postgres://postgres@127.0.0.1:5432/postgres)
//! answers. Each test gets a database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assessment;
mod auth;
mod chain;
mod community;
mod discussion;
mod documents;
mod export;
mod factor;
mod generate;
mod knowledge;
mod lessons;
mod listing;
mod mailbox;
mod migration;
mod passkeys;
mod portfolio;
mod privacy;
mod records;
mod removal;
mod retention;
mod search;
mod surveys;
mod tamper;

use waymark_core::*;
use waymark_store::Store;
pub use waymark_store::testing::stores;

pub const NOW: Timestamp = Timestamp(1_763_800_000);

#[derive(Debug)]
pub struct World {
    pub store: Store,
    pub staff: Actor,
    pub member: Actor,
    pub other: Actor,
    pub agency: AgencyId,
    pub other_agency: AgencyId,
    pub model: String,
}

impl World {
    /// The programme officer as a programme admin (who may reset factors,
    /// deactivate people and remove their personal data).
    pub fn admin(&self) -> Actor {
        Actor {
            person: self.staff.person,
            roles: vec![Role::ProgrammeAdmin],
        }
    }

    /// The programme officer comments `body` on engagement `e` (as it is
    /// now); the engagement after it.
    pub async fn comment(&self, e: &Engagement, body: &str) -> Engagement {
        self.store
            .execute(
                &self.staff,
                e.id,
                e.version,
                &Command::Comment {
                    about: waymark_core::discussion::Anchor::Engagement,
                    body: body.into(),
                },
                NOW,
            )
            .await
            .unwrap()
    }

    /// A new engagement for the agency, started by the programme officer.
    pub async fn start(&self) -> Engagement {
        self.store
            .start_engagement(
                &self.staff,
                self.agency,
                Mode::DoItWithYou,
                &self.model,
                NOW,
            )
            .await
            .unwrap()
    }
}

/// A webhook subscription for every event, made by `admin`: its
/// deliveries carry what the events say.
pub async fn webhook_for_everything(s: &Store, admin: &Actor) {
    s.create_webhook(
        admin,
        &waymark_core::webhook::NewSubscription::parse(
            admin,
            "https://hooks.example.gov.au/all",
            &["*".to_string()],
            "",
            &[],
        )
        .unwrap(),
        NOW,
    )
    .await
    .unwrap();
}

/// A store with an agency, a programme officer, a member and an outsider.
pub async fn world(store: Store) -> World {
    let agency = store
        .add_agency(
            &NewAgency::parse(
                "Digital Transformation Agency",
                "DTA",
                "Finance",
                Some(AgencyType::Aligned),
            )
            .unwrap(),
            NOW,
        )
        .await
        .unwrap();
    let other_agency = store
        .add_agency(
            &NewAgency::parse("Other", "OTH", "Finance", None).unwrap(),
            NOW,
        )
        .await
        .unwrap();
    let actor = async |name: &str, email: &str, role: Role| {
        let p = store
            .add_person(&NewPerson::parse(name, email).unwrap(), NOW)
            .await
            .unwrap();
        store.add_role(p, role).await.unwrap();
        store.actor(p).await.unwrap()
    };
    let staff = actor("Sam Staff", "sam@dta.gov.au", Role::ProgrammeStaff).await;
    let member = actor(
        "Mia Member",
        "mia@dta.gov.au",
        Role::AgencyMember {
            agency,
            sponsor: true,
        },
    )
    .await;
    let other = actor(
        "Olly Other",
        "olly@oth.gov.au",
        Role::AgencyMember {
            agency: other_agency,
            sponsor: true,
        },
    )
    .await;
    let model = store
        .pin_model(&waymark_model::bundled(), NOW)
        .await
        .unwrap();
    World {
        store,
        staff,
        member,
        other,
        agency,
        other_agency,
        model,
    }
}
