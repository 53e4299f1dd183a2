//! The store's contract, run on every backend: SQLite always; PostgreSQL
//! when `WAYMARK_TEST_POSTGRES` (default postgres://postgres@127.0.0.1:5432/postgres)
//! answers. Each test gets a database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chain;
mod export;
mod records;

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;
use waymark_core::*;
use waymark_store::Store;

static N: AtomicUsize = AtomicUsize::new(0);

pub const NOW: Timestamp = Timestamp(1_763_800_000);

fn skip(reason: &str) {
    if std::env::var("WAYMARK_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{reason}, and WAYMARK_REQUIRE_ALL=1 forbids skipping it");
    }
    eprintln!("SKIPPED: {reason}");
    if let Ok(path) = std::env::var("WAYMARK_SKIPS_FILE") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(f, "{reason}");
        }
    }
}

/// A fresh store on each available backend.
pub async fn stores(name: &str) -> Vec<Store> {
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("waymark-store-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = vec![
        Store::open(&format!("sqlite://{}", dir.join("test.db").display()))
            .await
            .unwrap(),
    ];

    let admin_url = std::env::var("WAYMARK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    sqlx::any::install_default_drivers();
    match sqlx::AnyConnection::connect(&admin_url).await {
        Ok(mut admin) => {
            if n == 0 {
                // Databases left by earlier runs of this suite.
                let old: Vec<String> = sqlx::query_scalar(
                    "SELECT datname::text FROM pg_database WHERE datname LIKE 'waymark_test_%'",
                )
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
                let mine = format!("waymark_test_{}_", std::process::id());
                for db in old.iter().filter(|d| !d.starts_with(&mine)) {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            }
            let db = format!("waymark_test_{}_{n}", std::process::id());
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
                .execute(&mut admin)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut admin)
                .await
                .unwrap();
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            out.push(Store::open(&format!("{base}/{db}")).await.unwrap());
        }
        Err(e) => skip(&format!(
            "store tests on PostgreSQL: cannot reach {admin_url} ({e})"
        )),
    }
    out
}

#[derive(Debug)]
pub struct World {
    pub store: Store,
    pub staff: Actor,
    pub member: Actor,
    pub other: Actor,
    pub agency: AgencyId,
    pub model: String,
}

impl World {
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
        model,
    }
}
