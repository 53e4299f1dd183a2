//! `waymark intake import`: mail into enquiries. Reads `.eml` files, mbox
//! files and Maildir folders with mail-parser; each message becomes an
//! enquiry keyed by its Message-ID, so importing a mailbox again adds
//! nothing. A message that cannot be read is reported, and the rest go on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};
use waymark_store::{
    ImportOutcome, MAX_FILE_BYTES, NewEnquiry, NewFile, Store, classify, clean_name, now,
};

use crate::db_cmd::{block_on, open};

/// Where one message came from, for messages about it.
struct Source {
    label: String,
    bytes: Vec<u8>,
}

fn messages(path: &Path) -> anyhow::Result<Vec<Result<Source, String>>> {
    let shown = path.display().to_string();
    if path.is_dir() {
        if !(path.join("cur").is_dir() || path.join("new").is_dir()) {
            anyhow::bail!("{shown} is a folder but not a Maildir (it has no cur or new folder)");
        }
        let mut out = Vec::new();
        let folders = mail_parser::mailbox::maildir::FolderIterator::new(path, Some("."))
            .with_context(|| format!("cannot read the Maildir {shown}"))?;
        for folder in folders {
            match folder {
                Ok(messages) => {
                    for m in messages {
                        out.push(match m {
                            Ok(m) => Ok(Source {
                                label: m.path().display().to_string(),
                                bytes: m.unwrap_contents(),
                            }),
                            Err(e) => Err(format!("{shown}: a message could not be read: {e}")),
                        });
                    }
                }
                Err(e) => out.push(Err(format!("{shown}: a folder could not be read: {e}"))),
            }
        }
        return Ok(out);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    if bytes.starts_with(b"From ") {
        let reader = std::io::BufReader::new(&bytes[..]);
        Ok(mail_parser::mailbox::mbox::MessageIterator::new(reader)
            .enumerate()
            .map(|(i, m)| match m {
                Ok(m) => Ok(Source {
                    label: format!("{shown}, message {}", i + 1),
                    bytes: m.unwrap_contents(),
                }),
                Err(e) => Err(format!(
                    "{shown}, message {}: could not be read: {e}",
                    i + 1
                )),
            })
            .collect())
    } else {
        Ok(vec![Ok(Source {
            label: shown,
            bytes,
        })])
    }
}

/// The enquiry a message makes, or why it makes none.
fn enquiry(raw: &[u8]) -> Result<NewEnquiry, String> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or("it is not an email message (no headers could be read)")?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .ok_or("it has no From address, so there is no one to reply to")?;
    let address = from
        .address()
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .ok_or("its From header has no email address")?;
    let email = waymark_core::Email::parse(address)
        .map_err(|e| format!("its From address cannot be replied to ({e})"))?
        .as_str()
        .to_string();
    // Headers are kept as one clean line each: a decoded CR LF or a
    // direction override in a name never reaches a page or a mail.
    let name = from
        .name()
        .map(waymark_core::one_line)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.clone());
    // A message without a Message-ID is keyed by its exact bytes instead.
    let message_id = match msg.message_id() {
        Some(id) if !waymark_core::one_line(id).is_empty() => waymark_core::one_line(id),
        _ => format!("sha256:{:x}", Sha256::digest(raw)),
    };
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d).to_string();
    let mut body: String = waymark_core::clean_lines(&msg.body_text(0).unwrap_or_default())
        .chars()
        .take(100_000)
        .collect();
    let mut attachments = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let name = clean_name(
            part.attachment_name()
                .unwrap_or(&format!("attachment-{}", i + 1)),
        );
        let bytes = part.contents().to_vec();
        if bytes.len() > MAX_FILE_BYTES {
            body.push_str(&format!(
                "\n\n[The attachment “{name}” ({} MB) was too large to keep.]",
                bytes.len() / (1024 * 1024)
            ));
            continue;
        }
        if bytes.is_empty() {
            continue;
        }
        // Types we can check are kept as what they are; anything else is
        // kept too, but only ever served as a download.
        let content_type = classify(&name, &bytes).unwrap_or("application/octet-stream");
        attachments.push(NewFile {
            title: format!("Email attachment: {name}"),
            name,
            content_type: content_type.to_string(),
            bytes,
        });
    }
    Ok(NewEnquiry {
        source: "email".into(),
        message_id: Some(message_id),
        agency_name: domain,
        contact_name: name.chars().take(200).collect(),
        contact_email: email,
        contact_role: String::new(),
        subject: Some(waymark_core::one_line(msg.subject().unwrap_or_default()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "(no subject)".into())
            .chars()
            .take(300)
            .collect(),
        body,
        timeframe: String::new(),
        preference: String::new(),
        attachments,
    })
}

async fn import_one(
    store: &Store,
    raw: &[u8],
    acknowledge: bool,
) -> Result<(ImportOutcome, String), String> {
    let e = enquiry(raw)?;
    let ack = acknowledge.then(|| {
        waymark_web::mail::enquiry_received(&e.contact_email, &e.contact_name, &e.agency_name)
    });
    let outcome = store
        .add_enquiry(&e, ack.as_ref(), now())
        .await
        .map_err(|err| err.to_string())?;
    Ok((outcome, format!("“{}” from {}", e.subject, e.contact_email)))
}

pub fn import(url: &str, paths: &[PathBuf], acknowledge: bool) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = open(url).await?;
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
                    Err(e) => Err(e.clone()),
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
