//! Mail into enquiries: reading `.eml` files, mbox files and Maildir
//! folders, and turning one message into the enquiry it makes. The CLI's
//! `intake import` uses it; a mailbox reader can too.
//!
//! Each message is keyed by its Message-ID (or, without one, by the hash of
//! its bytes), so reading a mailbox again adds nothing.

use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};
use waymark_store::{MAX_FILE_BYTES, NewEnquiry, NewFile, classify, clean_name};

/// One raw message and where it came from, for messages about it.
#[derive(Debug)]
pub struct Source {
    pub label: String,
    pub bytes: Vec<u8>,
}

/// Why a mailbox, or one message in it, could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0} is a folder but not a Maildir (it has no cur or new folder)")]
    NotMaildir(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Message(String),
}

/// Every message in a `.eml` file, an mbox file or a Maildir folder. A
/// message that cannot be read is an `Err` in its place; the rest go on.
pub fn messages(path: &Path) -> Result<Vec<Result<Source, ReadError>>, ReadError> {
    let shown = path.display().to_string();
    let io = |source| ReadError::Io {
        path: shown.clone(),
        source,
    };
    if path.is_dir() {
        if !(path.join("cur").is_dir() || path.join("new").is_dir()) {
            return Err(ReadError::NotMaildir(shown));
        }
        let mut out = Vec::new();
        let folders =
            mail_parser::mailbox::maildir::FolderIterator::new(path, Some(".")).map_err(io)?;
        for folder in folders {
            match folder {
                Ok(messages) => {
                    for m in messages {
                        out.push(match m {
                            Ok(m) => Ok(Source {
                                label: m.path().display().to_string(),
                                bytes: m.unwrap_contents(),
                            }),
                            Err(e) => Err(ReadError::Message(format!(
                                "{shown}: a message could not be read: {e}"
                            ))),
                        });
                    }
                }
                Err(e) => out.push(Err(ReadError::Message(format!(
                    "{shown}: a folder could not be read: {e}"
                )))),
            }
        }
        return Ok(out);
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(b"From ") {
        let reader = std::io::BufReader::new(&bytes[..]);
        Ok(mail_parser::mailbox::mbox::MessageIterator::new(reader)
            .enumerate()
            .map(|(i, m)| match m {
                Ok(m) => Ok(Source {
                    label: format!("{shown}, message {}", i + 1),
                    bytes: m.unwrap_contents(),
                }),
                Err(e) => Err(ReadError::Message(format!(
                    "{shown}, message {}: could not be read: {e}",
                    i + 1
                ))),
            })
            .collect())
    } else {
        Ok(vec![Ok(Source {
            label: shown,
            bytes,
        })])
    }
}

/// Why a message makes no enquiry.
#[derive(Debug, thiserror::Error)]
pub enum NotAnEnquiry {
    #[error("it is not an email message (no headers could be read)")]
    NotMail,
    #[error("it has no From address, so there is no one to reply to")]
    NoFrom,
    #[error("its From header has no email address")]
    NoAddress,
    #[error("its From address cannot be replied to ({0})")]
    BadAddress(String),
}

/// The enquiry a message makes, or why it makes none.
pub fn enquiry(raw: &[u8]) -> Result<NewEnquiry, NotAnEnquiry> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(NotAnEnquiry::NotMail)?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .ok_or(NotAnEnquiry::NoFrom)?;
    let address = from
        .address()
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .ok_or(NotAnEnquiry::NoAddress)?;
    let email = waymark_core::Email::parse(address)
        .map_err(|e| NotAnEnquiry::BadAddress(e.to_string()))?
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
