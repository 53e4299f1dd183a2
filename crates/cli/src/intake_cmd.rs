//! `waymark intake import`: mail into enquiries (`waymark_web::inbound`
//! reads the messages). A message that cannot be read is reported, and the
//! rest go on.

use std::path::PathBuf;
use std::process::ExitCode;

use waymark_store::{ImportOutcome, Store, now};
use waymark_web::inbound::{enquiry, messages};

use crate::db_cmd::{Database, block_on};

async fn import_one(
    store: &Store,
    raw: &[u8],
    acknowledge: bool,
) -> Result<(ImportOutcome, String), String> {
    let e = enquiry(raw).map_err(|e| e.to_string())?;
    let ack = acknowledge.then(|| {
        waymark_web::mail::enquiry_received(&e.contact_email, &e.contact_name, &e.agency_name)
    });
    let outcome = store
        .add_enquiry(&e, ack.as_ref(), now())
        .await
        .map_err(|err| err.to_string())?;
    Ok((outcome, format!("“{}” from {}", e.subject, e.contact_email)))
}

pub fn import(db: &Database, paths: &[PathBuf], acknowledge: bool) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open().await?;
        let (mut added, mut known, mut failed) = (0, 0, 0);
        for path in paths {
            let list = match messages(path) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    failed += 1;
                    continue;
                }
            };
            for m in list {
                let result = match &m {
                    Ok(src) => import_one(&store, &src.bytes, acknowledge)
                        .await
                        .map_err(|e| format!("{}: {e}", src.label)),
                    Err(e) => Err(e.to_string()),
                };
                match result {
                    Ok((ImportOutcome::Added(id), what)) => {
                        added += 1;
                        println!("added enquiry {id}: {what}");
                    }
                    Ok((ImportOutcome::Duplicate(id), what)) => {
                        known += 1;
                        println!("already imported as enquiry {id}: {what}");
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e}");
                    }
                }
            }
        }
        println!("intake: {added} added, {known} already imported, {failed} could not be read");
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
