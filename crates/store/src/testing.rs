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
