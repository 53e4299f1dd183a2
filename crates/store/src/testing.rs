//! Test support (feature `test-support`): a fresh store on every backend
//! this machine has. SQLite always; PostgreSQL when `WAYMARK_TEST_POSTGRES`
//! (default postgres://postgres@127.0.0.1:5432/postgres) answers, with a new
//! database per call. A missing PostgreSQL is a skip, reported on stderr and
//! in `$WAYMARK_SKIPS_FILE`; with `WAYMARK_REQUIRE_ALL=1` it is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

use crate::Store;

static N: AtomicUsize = AtomicUsize::new(0);
static CLEANED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn skip(reason: &str) {
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
    let mut out = vec![Store::open(&sqlite_url(name)).await.unwrap()];
    if let Some(url) = postgres_url(name).await {
        out.push(Store::open(&url).await.unwrap());
    }
    out
}

/// A URL for a new SQLite file in a fresh temporary folder.
pub fn sqlite_url(name: &str) -> String {
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("waymark-store-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("test.db").display())
}

/// A URL for a new, empty PostgreSQL database, or `None` (after reporting
/// the skip) when no server answers.
pub async fn postgres_url(name: &str) -> Option<String> {
    let n = N.fetch_add(1, Ordering::SeqCst);
    let admin_url = std::env::var("WAYMARK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    sqlx::any::install_default_drivers();
    let mut admin = match sqlx::AnyConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            skip(&format!(
                "tests on PostgreSQL ({name}): cannot reach {admin_url} ({e})"
            ));
            return None;
        }
    };
    if !CLEANED.swap(true, Ordering::SeqCst) {
        // Databases left by earlier runs.
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
    Some(format!("{base}/{db}"))
}

/// Who gives a command in [`journey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A programme officer.
    Staff,
    /// An agency member who is not the sponsor.
    Member,
    /// The agency's executive sponsor.
    Sponsor,
}

/// One engagement from start to completion on the bundled model, as the
/// records issue describes it: the Engagement steps, the discovery
/// decision, Discovery with one step skipped (raising its risks), a Deploy
/// cycle repeated, Transition, Adoption and Evaluation, and completion.
/// Each entry is who gives the command and the command as the API takes it;
/// the API and CLI tests both drive it, on every backend.
pub fn journey() -> Vec<(Who, serde_json::Value)> {
    use serde_json::json;
    let step = |stage: &str, step: u32| json!({"command": "set_step", "stage": stage, "step": step, "status": {"status": "done"}});
    let exit = |stage: &str, option: usize, funded_by: &str| {
        json!({"command": "decide", "stage": stage, "at": {"kind": "exit"}, "option": option,
               "rationale": format!("Next after {stage}."), "funded_by": funded_by, "note": null})
    };
    let mut j = Vec::new();
    for n in 1..=3 {
        j.push((Who::Member, step("engagement", n)));
    }
    j.push((
        Who::Sponsor,
        json!({"command": "decide", "stage": "engagement", "at": {"kind": "point", "index": 0},
               "option": 0, "rationale": "We need to understand our readiness first.",
               "funded_by": "dta", "note": "Agreed at the initial workshop."}),
    ));
    j.push((
        Who::Staff,
        json!({"command": "complete_stage", "stage": "engagement"}),
    ));
    j.push((Who::Staff, json!({"command": "plan_discovery", "weeks": 6})));
    for n in [1, 2, 3, 4, 6] {
        j.push((Who::Member, step("discovery", n)));
    }
    j.push((
        Who::Member,
        json!({"command": "skip_step", "stage": "discovery", "step": 5,
               "reason": "Security was assessed against the blueprint last quarter."}),
    ));
    j.push((Who::Sponsor, exit("discovery", 1, "co_funded"))); // Deploy
    for n in 1..=2 {
        j.push((Who::Member, step("deploy", n)));
    }
    j.push((Who::Sponsor, exit("deploy", 1, "agency"))); // Deploy again
    for n in 1..=2 {
        j.push((Who::Member, step("deploy", n)));
    }
    j.push((Who::Sponsor, exit("deploy", 0, "co_funded"))); // Transition
    for n in 1..=6 {
        j.push((Who::Member, step("transition", n)));
    }
    j.push((Who::Staff, exit("transition", 2, "dta"))); // Adoption and Evaluation
    for n in 1..=2 {
        j.push((Who::Member, step("adoption-evaluation", n)));
    }
    j.push((
        Who::Member,
        json!({"command": "check_success", "stage": "adoption-evaluation", "criterion": 0,
               "evidence": "Posted twice in the community portal this quarter."}),
    ));
    j.push((
        Who::Staff,
        json!({"command": "complete_stage", "stage": "adoption-evaluation"}),
    ));
    j
}

/// Checks an engagement that ran the whole [`journey`]; `e` is its state as
/// JSON (what the API and `engagement show` print).
pub fn assert_journey_done(e: &serde_json::Value) {
    let stage = |slug: &str| {
        e["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == slug)
            .unwrap_or_else(|| panic!("no stage {slug} in {e}"))
            .clone()
    };
    for slug in [
        "engagement",
        "discovery",
        "deploy",
        "transition",
        "adoption-evaluation",
    ] {
        assert_eq!(stage(slug)["status"], "completed", "{slug}: {e}");
    }
    assert_eq!(stage("deploy")["cycles"], 2);
    assert_eq!(e["version"], journey().len() + 1);
    let decisions: Vec<&str> = e["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["funded_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        ["dta", "co_funded", "agency", "co_funded", "dta"]
    );
    let risks = e["risks"].as_array().unwrap();
    assert!(!risks.is_empty(), "the skip raised no risk");
    assert!(
        risks
            .iter()
            .all(|r| r["source"]["source"] == "skipped" && r["source"]["step"] == 5)
    );
    assert_eq!(e["success"][0]["stage"], "adoption-evaluation");
    assert_eq!(e["discovery_weeks"], 6);
}

/// A TCP port on loopback that was free a moment ago, for a peer a test
/// starts (a mail server, a metrics listener).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}
