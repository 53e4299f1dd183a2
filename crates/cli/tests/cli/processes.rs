//! Real `waymark serve` processes: two on one PostgreSQL database under
//! concurrent updates, and one killed with SIGKILL in the middle of writes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A `waymark serve` process, killed when dropped.
use super::operations::Logged as Server;

fn serve(url: &str) -> Server {
    super::operations::serve_logged(url, &[], &[])
}

/// One HTTP/1.1 request; the status and body, or `None` if the server is
/// gone (the crash test expects that).
fn try_http(port: u16, method: &str, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split(' ').nth(1).and_then(|c| c.parse().ok())?;
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    try_http(port, method, path, token, body).expect("the server answers")
}

/// Runs `waymark --database-url URL ARGS…`, which must succeed; its output.
pub(crate) fn cli(url: &str, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// An agency, a programme officer with a token, and one engagement.
pub(crate) fn setup(url: &str) -> String {
    cli(url, &["db", "migrate"]);
    cli(
        url,
        &[
            "agency",
            "add",
            "--name",
            "Agency",
            "--abbreviation",
            "AG",
            "--portfolio",
            "P",
        ],
    );
    cli(
        url,
        &[
            "user",
            "add",
            "--name",
            "Sam",
            "--email",
            "sam@ag.gov.au",
            "--role",
            "staff",
        ],
    );
    cli(
        url,
        &[
            "engagement",
            "start",
            "--agency",
            "AG",
            "--as",
            "sam@ag.gov.au",
        ],
    );
    cli(url, &["token", "create", "sam@ag.gov.au"])
}

fn risk_texts(url: &str) -> Vec<String> {
    let shown: serde_json::Value =
        serde_json::from_str(&cli(url, &["engagement", "show", "1"])).unwrap();
    shown["engagement"]["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_servers_on_one_postgres_database_lose_no_update() {
    let Some(url) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(waymark_store::testing::postgres_url("two-servers"))
    else {
        return;
    };
    let token = Arc::new(setup(&url));
    let servers = [serve(&url), serve(&url)];
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let conflicts = Arc::new(AtomicUsize::new(0));
    // Writes that went through although the engagement had moved on since
    // the writer read it (adding a risk conflicts with nothing).
    let raced = Arc::new(AtomicUsize::new(0));
    // Eight writers, four per server, each reading the version and then
    // writing with it: many writes race for the same version.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (port, token, accepted, conflicts, raced) = (
                ports[w % 2],
                Arc::clone(&token),
                Arc::clone(&accepted),
                Arc::clone(&conflicts),
                Arc::clone(&raced),
            );
            std::thread::spawn(move || {
                for i in 0..15 {
                    let (s, body) = http(port, "GET", "/api/v1/engagements/1", &token, "");
                    assert_eq!(s, 200, "{body}");
                    let version = serde_json::from_str::<serde_json::Value>(&body).unwrap()["version"].as_u64().unwrap();
                    let text = format!("w{w}-{i}");
                    let cmd = format!(r#"{{"expected_version":{version},"command":{{"command":"add_risk","text":"{text}","stage":null}}}}"#);
                    match http(port, "POST", "/api/v1/engagements/1/commands", &token, &cmd) {
                        (200, b) => {
                            let now = serde_json::from_str::<serde_json::Value>(&b).unwrap()["version"].as_u64().unwrap();
                            if now > version + 1 {
                                raced.fetch_add(1, Ordering::SeqCst);
                            }
                            accepted.lock().unwrap().push(text)
                        }
                        (409, _) => {
                            conflicts.fetch_add(1, Ordering::SeqCst);
                        }
                        (s, b) => panic!("unexpected {s}: {b}"),
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    drop(servers);
    let mut accepted = accepted.lock().unwrap().clone();
    let mut stored = risk_texts(&url);
    accepted.sort();
    stored.sort();
    assert_eq!(
        stored, accepted,
        "every accepted update is stored, and nothing else"
    );
    assert_eq!(
        accepted.len() + conflicts.load(Ordering::SeqCst),
        8 * 15,
        "every update either succeeded or conflicted"
    );
    assert!(
        !accepted.is_empty() && raced.load(Ordering::SeqCst) + conflicts.load(Ordering::SeqCst) > 0,
        "the writers did race"
    );
    eprintln!(
        "two servers on PostgreSQL: {} updates accepted, {} conflicts",
        accepted.len(),
        conflicts.load(Ordering::SeqCst)
    );
    assert!(cli(&url, &["audit", "verify"]).contains("the trail is intact"));
}

#[test]
fn a_killed_server_keeps_every_acknowledged_write() {
    let url = waymark_store::testing::sqlite_url("crash");
    let token = setup(&url);
    let server = serve(&url);
    let port = server.port;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let ack = Arc::clone(&acknowledged);
    let writer = std::thread::spawn(move || {
        for i in 0.. {
            let text = format!("write-{i}");
            let cmd = format!(
                r#"{{"expected_version":{},"command":{{"command":"add_risk","text":"{text}","stage":null}}}}"#,
                i + 1
            );
            match try_http(port, "POST", "/api/v1/engagements/1/commands", &token, &cmd) {
                Some((200, _)) => {}
                _ => break,
            }
            ack.lock().unwrap().push(text);
        }
    });
    // Let a stream of writes run, then kill the server without warning.
    while acknowledged.lock().unwrap().len() < 40 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(server);
    writer.join().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let stored = risk_texts(&url);
    for text in &acknowledged {
        assert!(stored.contains(text), "acknowledged {text} was lost");
    }
    assert!(
        stored.len() <= acknowledged.len() + 1,
        "at most the one unacknowledged write may have landed"
    );
    eprintln!(
        "killed server: {} writes acknowledged, {} stored",
        acknowledged.len(),
        stored.len()
    );
    assert!(cli(&url, &["audit", "verify"]).contains("the trail is intact"));
}

/// Eight writers on eight engagements keep the writer busy, so on SQLite
/// their commands are committed in shared batches; the server is killed
/// while batches are being written. Every acknowledged write must be there
/// after a restart, and at most one unacknowledged write per writer.
fn killed_during_batches(url: &str) {
    let token = Arc::new(setup(url));
    for _ in 1..8 {
        cli(
            url,
            &[
                "engagement",
                "start",
                "--agency",
                "AG",
                "--as",
                "sam@ag.gov.au",
            ],
        );
    }
    let server = serve(url);
    let port = server.port;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (1..=8)
        .map(|e| {
            let (token, ack, stop) = (Arc::clone(&token), Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                // Each engagement starts at version 1 and only this writer
                // changes it.
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let text = format!("e{e}-write-{i}");
                    let cmd = format!(
                        r#"{{"expected_version":{},"command":{{"command":"add_risk","text":"{text}","stage":null}}}}"#,
                        i + 1
                    );
                    let path = format!("/api/v1/engagements/{e}/commands");
                    match try_http(port, "POST", &path, &token, &cmd) {
                        Some((200, _)) => ack.lock().unwrap().push((e, text)),
                        Some((s, body)) => panic!("engagement {e}: unexpected {s}: {body}"),
                        None => break,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 240 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    drop(server); // SIGKILL, with eight writers mid-stream
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let mut stored_total = 0;
    for e in 1..=8 {
        let shown: serde_json::Value =
            serde_json::from_str(&cli(url, &["engagement", "show", &e.to_string()])).unwrap();
        let stored: Vec<String> = shown["engagement"]["risks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap().to_string())
            .collect();
        let mine: Vec<&String> = acknowledged
            .iter()
            .filter(|(x, _)| *x == e)
            .map(|(_, t)| t)
            .collect();
        for text in &mine {
            assert!(stored.contains(text), "acknowledged {text} was lost");
        }
        assert!(
            stored.len() <= mine.len() + 1,
            "engagement {e}: {} stored, {} acknowledged",
            stored.len(),
            mine.len()
        );
        stored_total += stored.len();
    }
    eprintln!(
        "killed during batches: {} writes acknowledged, {stored_total} stored",
        acknowledged.len()
    );
    assert!(cli(url, &["audit", "verify"]).contains("the trail is intact"));
}

#[test]
fn a_server_killed_while_writing_batches_keeps_every_acknowledged_write() {
    killed_during_batches(&waymark_store::testing::sqlite_url("crash-batches"));
    if let Some(url) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(waymark_store::testing::postgres_url("crash-batches"))
    {
        killed_during_batches(&url);
    }
}
