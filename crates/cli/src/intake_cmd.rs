//! `waymark intake import`: mail into enquiries, through the same code as
//! the IMAP reader (`waymark_web::inbound::take`). A message that cannot be
//! read is kept as a record (with its bytes) and reported, and the rest go
//! on.

use std::path::PathBuf;
use std::process::ExitCode;

use waymark_store::{Parsed, Taken};
use waymark_web::inbound::{messages, read, take};

use crate::db_cmd::{Database, block_on};

pub fn import(db: &Database, paths: &[PathBuf], acknowledge: bool) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = db.open().await?;
        let from = waymark_web::app::PROGRAMME_MAILBOX;
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
                let src = match m {
                    Ok(src) => src,
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e}");
                        continue;
                    }
                };
                let incoming = read(&src.bytes, &src.label, None);
                let what = format!("“{}” from {}", incoming.subject, incoming.sender);
                let unreadable = match &incoming.parsed {
                    Parsed::Unreadable { reason, .. } => Some(reason.clone()),
                    _ => None,
                };
                match take(&store, &incoming, acknowledge, from).await {
                    Ok(Taken::Enquiry { enquiry }) => {
                        added += 1;
                        println!("added enquiry {enquiry}: {what}");
                    }
                    Ok(Taken::Conversation { enquiry, .. }) => {
                        added += 1;
                        println!("added to the conversation of enquiry {enquiry}: {what}");
                    }
                    Ok(Taken::Attendance {
                        engagement,
                        workshop,
                    }) => {
                        added += 1;
                        println!(
                            "recorded an answer to workshop {workshop} of engagement {engagement}: {what}"
                        );
                    }
                    Ok(Taken::Recorded { record, reason }) => match unreadable {
                        Some(_) => {
                            failed += 1;
                            eprintln!(
                                "error: {}: {reason} (kept as mail record {record})",
                                src.label
                            );
                        }
                        None => println!("kept as mail record {record} ({reason}): {what}"),
                    },
                    Ok(Taken::Duplicate) => {
                        known += 1;
                        println!("already imported: {what}");
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {}: {e}", src.label);
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
