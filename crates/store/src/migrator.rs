//! The schema's migrations, carried in the binary: the SQL files of
//! `migrations/sqlite` and `migrations/postgres`, listed by `build.rs` and
//! read by sqlx's migrator with the same versions, descriptions and
//! checksums its `migrate!` macro would give (a database migrated by an
//! older build is recognised as the same).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::Backend;

mod files {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// One backend's migration files, as (file name, SQL).
#[derive(Debug, Clone, Copy)]
struct Embedded(&'static [(&'static str, &'static str)]);

impl Embedded {
    fn of(backend: Backend) -> Self {
        Embedded(match backend {
            Backend::Sqlite => files::SQLITE,
            Backend::Postgres => files::POSTGRES,
        })
    }

    /// Each file as sqlx reads a migrations folder: `<version>_<words>.sql`,
    /// the words (underscores as spaces) its description, opting out of a
    /// transaction when it starts with `-- no-transaction`; in the order
    /// of their versions.
    fn migrations(self) -> Vec<Migration> {
        let mut all: Vec<Migration> = self
            .0
            .iter()
            .filter_map(|(file, sql)| {
                let (version, rest) = file.split_once('_')?;
                let version: i64 = version.parse().ok()?;
                let kind = MigrationType::from_filename(rest);
                let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
                Some(Migration::new(
                    version,
                    Cow::Owned(description),
                    kind,
                    Cow::Borrowed(*sql),
                    sql.starts_with("-- no-transaction"),
                ))
            })
            .collect();
        all.sort_by_key(|m| m.version);
        all
    }
}

type Resolved = Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Resolved> + Send + 'static>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

/// The migrator for `backend`, with every migration this binary carries.
pub(crate) async fn migrator(backend: Backend) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded::of(backend)).await
}

/// The newest migration this binary carries.
pub(crate) fn newest(backend: Backend) -> i64 {
    Embedded::of(backend)
        .0
        .iter()
        .filter_map(|(file, _)| file.split_once('_')?.0.parse().ok())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx itself reads from the folder, against what the binary carries:
    /// the same files, versions, descriptions, checksums and transaction flags.
    #[tokio::test]
    async fn the_embedded_migrations_are_the_folders_as_sqlx_reads_them() {
        for (backend, folder) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(folder);
            let from_folder = MigrationSource::resolve(dir.as_path()).await.unwrap();
            let carried = Embedded::of(backend).migrations();
            assert!(
                carried.len() >= 44,
                "{folder}: {} migrations",
                carried.len()
            );
            assert_eq!(carried.len(), from_folder.len(), "{folder}");
            for (ours, theirs) in carried.iter().zip(&from_folder) {
                assert_eq!(ours.version, theirs.version);
                assert_eq!(ours.description, theirs.description);
                assert_eq!(ours.checksum, theirs.checksum, "{folder} {}", ours.version);
                assert_eq!(ours.no_tx, theirs.no_tx);
                assert_eq!(ours.migration_type, theirs.migration_type);
            }
            assert_eq!(newest(backend), from_folder.last().unwrap().version);
        }
    }
}
