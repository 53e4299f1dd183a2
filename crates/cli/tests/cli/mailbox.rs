//! The programme's mailbox against a real dovecot (Debian's dovecot-imapd,
//! started on loopback by `scripts/dovecot`, which needs root): messages
//! APPENDed while `waymark serve` is killed and restarted, dovecot restarted
//! during IDLE, two instances on one PostgreSQL sharing the lease, and bad,
//! huge and automatic messages. Where dovecot is missing the tests say so
//! and skip (a failure under WAYMARK_REQUIRE_ALL).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::operations::{Logged, serve_logged};
use super::processes::cli;
use waymark_store::testing::free_port;

const PASSWORD: &str = "imap-test-password";

/// A private dovecot, stopped and removed when dropped.
struct Dovecot {
    dir: PathBuf,
    port: u16,
    /// IMAP over TLS, when started with it.
    tls_port: Option<u16>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dovecot")
}

impl Dovecot {
    fn start(name: &str) -> Option<Dovecot> {
        Dovecot::start_with(name, false)
    }

    /// With TLS too: a private CA (`ca()`), a certificate for localhost.
    fn start_with(name: &str, tls: bool) -> Option<Dovecot> {
        let why = if Command::new("dovecot").arg("--version").output().is_err() {
            Some("dovecot is not installed (as root: apt-get install dovecot-imapd)")
        } else if !Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
        {
            Some("dovecot's master must start as root")
        } else {
            None
        };
        if let Some(why) = why {
            waymark_store::testing::skip(&format!("IMAP intake tests against dovecot: {why}"));
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("waymark-dovecot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let tls_port = tls.then(free_port);
        let o = Command::new(script())
            .args(["start", dir.to_str().unwrap(), &port.to_string(), PASSWORD])
            .args(tls_port.map(|p| p.to_string()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(Dovecot {
            dir,
            port,
            tls_port,
        })
    }

    fn ca(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    fn restart(&self) {
        let o = Command::new(script())
            .args(["restart", self.dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    fn url(&self) -> String {
        format!("imap://inbox@127.0.0.1:{}/INBOX?tls=none", self.port)
    }

    fn client(&self) -> Imap {
        client(self.port).unwrap()
    }

    fn deliver(&self, raw: &[u8]) {
        deliver(self.port, raw);
    }

    /// How many messages a folder holds (0 when it does not exist).
    fn count(&self, folder: &str) -> usize {
        let mut c = self.client();
        let lines = c.try_run(&format!("STATUS {folder} (MESSAGES)"));
        lines
            .iter()
            .find_map(|l| l.split("MESSAGES ").nth(1))
            .and_then(|n| n.trim_end_matches([')', '\r', '\n']).parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", self.dir.to_str().unwrap()])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client(port: u16) -> std::io::Result<Imap> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut c = Imap {
        read: BufReader::new(s.try_clone()?),
        write: s,
        tag: 0,
    };
    let mut greeting = String::new();
    c.read.read_line(&mut greeting)?;
    c.run(&format!("LOGIN inbox {PASSWORD}"));
    Ok(c)
}

/// APPENDs a message to INBOX, as a mail server delivers it: retried
/// while dovecot restarts, as a mail server retries.
fn deliver(port: u16, raw: &[u8]) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let tried = std::panic::catch_unwind(|| {
            let mut c = client(port).map_err(|e| e.to_string())?;
            c.append("INBOX", raw);
            Ok::<(), String>(())
        });
        match tried {
            Ok(Ok(())) => return,
            _ if Instant::now() < end => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("cannot deliver to dovecot: {other:?}"),
        }
    }
}

/// Just enough IMAP to deliver and count.
struct Imap {
    read: BufReader<TcpStream>,
    write: TcpStream,
    tag: u32,
}

impl Imap {
    fn try_run(&mut self, command: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.write, "{tag} {command}\r\n").unwrap();
        self.until(&tag)
    }

    fn run(&mut self, command: &str) -> Vec<String> {
        let lines = self.try_run(command);
        let last = lines.last().unwrap();
        assert!(last.contains(" OK"), "{command}: {lines:?}");
        lines
    }

    fn until(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.read.read_line(&mut line).unwrap() == 0 {
                panic!("dovecot closed the connection: {lines:?}");
            }
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    fn append(&mut self, folder: &str, raw: &[u8]) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.write, "{tag} APPEND {folder} {{{}+}}\r\n", raw.len()).unwrap();
        self.write.write_all(raw).unwrap();
        self.write.write_all(b"\r\n").unwrap();
        let lines = self.until(&tag);
        assert!(lines.last().unwrap().contains(" OK"), "{lines:?}");
    }
}

fn serve(url: &str, d: &Dovecot) -> Logged {
    serve_logged(
        url,
        &[
            "--imap-url",
            &d.url(),
            "--imap-lease",
            "3",
            "--imap-poll",
            "1",
        ],
        &[("WAYMARK_IMAP_PASSWORD", PASSWORD)],
    )
}

fn kill(server: &mut Logged) {
    // SIGKILL: no chance to release the lease or finish a write.
    let _ = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status();
    server.wait();
}

/// Waits until `done` holds, or fails with what was seen.
fn eventually(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} did not happen within {seconds} s");
}

fn plain(n: usize, refs: Option<usize>) -> Vec<u8> {
    let thread = refs.map_or(String::new(), |r| {
        format!("In-Reply-To: <m{r}@agency{r}.gov.au>\r\n")
    });
    let from = refs.unwrap_or(n);
    format!(
        "From: Person {from} <person{from}@agency{from}.gov.au>\r\nTo: protectedutility@dta.gov.au\r\nSubject: Message {n}\r\nMessage-ID: <m{n}@agency{from}.gov.au>\r\n{thread}Content-Type: text/plain; charset=utf-8\r\n\r\nThis is message {n}.\r\n"
    )
    .into_bytes()
}

async fn count(store: &waymark_store::Store, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// 50 messages (40 new, 10 replies to earlier ones) delivered while the
/// servers are SIGKILLed and restarted and dovecot restarts under IDLE:
/// afterwards each is an enquiry or a conversation message exactly once,
/// each new enquiry was acknowledged once, and all 50 are in the done folder.
async fn through_kills(url: &str, d: &Dovecot, instances: usize) {
    cli(url, &["db", "migrate"]);
    let mut servers: Vec<Logged> = (0..instances).map(|_| serve(url, d)).collect();
    let port = d.port;
    let delivering = std::thread::spawn(move || {
        for n in 1..=50 {
            let refs = (n % 5 == 0).then(|| n - 3);
            deliver(port, &plain(n, refs));
            std::thread::sleep(Duration::from_millis(60));
        }
    });
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(200 + seed % 700));
        let i = round % servers.len();
        kill(&mut servers[i]);
        if round == 1 {
            // Dovecot goes away under the others' IDLE, and comes back.
            d.restart();
        }
        servers[i] = serve(url, d);
    }
    delivering.join().unwrap();
    eventually("every message moved to the done folder", 90, || {
        d.count("INBOX") == 0 && d.count("Waymark") == 50
    });
    let store = waymark_store::Store::open(url).await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM inbound_mail").await, 50);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM enquiries").await, 40);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM enquiry_messages").await,
        10
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(DISTINCT message_id) FROM inbound_mail"
        )
        .await,
        50
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'enquiry_acknowledgement'"
        )
        .await,
        40,
        "each new enquiry acknowledged exactly once"
    );
    // Each reply is on the conversation of the enquiry it answered.
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM enquiry_messages m JOIN enquiries e ON e.id = m.enquiry_id WHERE e.contact_email = m.sender"
        )
        .await,
        10
    );
    assert!(store.verify().await.unwrap().intact());
    let logs: String = servers.iter().map(Logged::log).collect();
    assert!(logs.contains("imap:"), "{logs}");
}

#[tokio::test]
async fn mail_is_taken_once_through_kills_and_a_dovecot_restart_on_sqlite() {
    let Some(d) = Dovecot::start("sqlite") else {
        return;
    };
    let url = waymark_store::testing::sqlite_url("imap-kills");
    through_kills(&url, &d, 1).await;
}

#[tokio::test]
async fn two_instances_on_postgresql_share_the_mailbox_by_lease() {
    let Some(url) = waymark_store::testing::postgres_url("imap-lease").await else {
        return;
    };
    let Some(d) = Dovecot::start("postgres") else {
        return;
    };
    through_kills(&url, &d, 2).await;
    let store = waymark_store::Store::open(&url).await.unwrap();
    // One lease row, held by one of them.
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM mailbox_leases").await,
        1
    );
}

#[tokio::test]
async fn bad_huge_and_automatic_mail_is_kept_and_nothing_loops() {
    let Some(d) = Dovecot::start("bad") else {
        return;
    };
    let url = waymark_store::testing::sqlite_url("imap-bad");
    cli(&url, &["db", "migrate"]);
    let server = serve(&url, &d);
    let bad: [&[u8]; 3] = [
        b"From: a@b.gov.au\r\nSubject: Broken\r\nMessage-ID: <broken@b.gov.au>\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n",
        b"From: a@b.gov.au\r\nSubject: Latin\r\nMessage-ID: <latin@b.gov.au>\r\nContent-Type: text/plain\r\n\r\ncaf\xe9\r\n",
        b"Subject: Nobody\r\nMessage-ID: <nobody@b.gov.au>\r\n\r\nWho sent this?\r\n",
    ];
    for m in bad {
        d.deliver(m);
    }
    // Over 25 MB: kept as its headers.
    let mut huge = b"From: big@b.gov.au\r\nSubject: Huge\r\nMessage-ID: <huge@b.gov.au>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".to_vec();
    let line = [b'x'; 998];
    while huge.len() < 26 * 1024 * 1024 {
        huge.extend_from_slice(&line);
        huge.extend_from_slice(b"\r\n");
    }
    d.deliver(&huge);
    d.deliver(b"From: Jo <jo@records.gov.au>\r\nSubject: Help please\r\nMessage-ID: <help@records.gov.au>\r\n\r\nWe would like support.\r\n");
    eventually("the good message after the bad ones taken", 60, || {
        d.count("INBOX") == 0 && d.count("Waymark") == 5
    });
    let store = waymark_store::Store::open(&url).await.unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM inbound_mail WHERE outcome = 'unreadable'"
        )
        .await,
        3
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inbound_mail WHERE outcome = 'too_large' AND headers LIKE '%Subject: Huge%'").await,
        1
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM enquiries").await, 1);
    // The acknowledgement, and an out-of-office answer to it: kept, never
    // answered, so the exchange stops.
    let ack_id: String = {
        use sqlx::Row;
        sqlx::query("SELECT message_id FROM outbox WHERE kind = 'enquiry_acknowledgement'")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    };
    d.deliver(format!("From: jo@records.gov.au\r\nSubject: Automatic reply: We have received your request\r\nMessage-ID: <ooo@records.gov.au>\r\nIn-Reply-To: <{ack_id}>\r\nAuto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n\r\nI am away until Monday.\r\n").as_bytes());
    eventually("the auto-reply taken", 30, || d.count("Waymark") == 6);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inbound_mail WHERE outcome = 'automatic' AND enquiry_id IS NOT NULL").await,
        1
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM outbox").await,
        1,
        "nothing answered the robot"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM enquiries").await, 1);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM enquiry_messages").await,
        0
    );
    drop(server);
}

#[tokio::test]
async fn tls_needs_a_trusted_certificate_and_a_failing_mailbox_shows_why() {
    let Some(d) = Dovecot::start_with("tls", true) else {
        return;
    };
    let url = waymark_store::testing::sqlite_url("imap-tls");
    cli(&url, &["db", "migrate"]);
    d.deliver(b"From: jo@records.gov.au\r\nSubject: Over TLS\r\nMessage-ID: <tls-1@records.gov.au>\r\n\r\nHello\r\n");
    let imaps = format!("imaps://inbox@localhost:{}/INBOX", d.tls_port.unwrap());
    let metrics_port = free_port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let serve_tls = |extra: &[&str]| {
        let mut args = vec![
            "--imap-url",
            imaps.as_str(),
            "--imap-lease",
            "3",
            "--metrics-bind",
            metrics_bind.as_str(),
        ];
        args.extend_from_slice(extra);
        serve_logged(&url, &args, &[("WAYMARK_IMAP_PASSWORD", PASSWORD)])
    };
    let metrics = || {
        let mut s = TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut s, &mut text).unwrap();
        text
    };
    // The certificate is signed by a CA nobody trusts: nothing is taken,
    // the log says why, and so does the status the page and API show.
    let mut untrusted = serve_tls(&[]);
    eventually("the TLS failure logged", 20, || {
        untrusted.log().contains("TLS with localhost failed")
    });
    let store = waymark_store::Store::open(&url).await.unwrap();
    let admin = waymark_core::Actor {
        person: waymark_core::PersonId(1),
        roles: vec![waymark_core::Role::ProgrammeAdmin],
    };
    let status = store.mailboxes(&admin).await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].state, "failing");
    assert!(status[0].detail.contains("TLS"), "{}", status[0].detail);
    assert!(status[0].failures >= 1);
    assert_eq!(d.count("INBOX"), 1);
    let m = metrics();
    assert!(
        m.lines()
            .any(|l| l.starts_with("waymark_mailbox_failures ") && !l.ends_with(" 0")),
        "{m}"
    );
    kill(&mut untrusted);
    // Trusting the programme's own CA, it reads over TLS.
    let ca = d.ca();
    let trusted = serve_tls(&["--imap-ca-file", &ca]);
    eventually("the message taken over TLS", 30, || d.count("Waymark") == 1);
    let m = metrics();
    assert!(
        m.contains("waymark_mail_taken_total{outcome=\"enquiry\"} 1"),
        "{m}"
    );
    assert!(m.contains("waymark_mailbox_failures 0"), "{m}");
    drop(trusted);
    // STARTTLS on the plain port (loopback, so allowed) with the same CA.
    d.deliver(b"From: jo@records.gov.au\r\nSubject: Over STARTTLS\r\nMessage-ID: <tls-2@records.gov.au>\r\n\r\nHello again\r\n");
    let starttls = format!("imap://inbox@localhost:{}/INBOX", d.port);
    let _s = serve_logged(
        &url,
        &[
            "--imap-url",
            &starttls,
            "--imap-lease",
            "3",
            "--imap-ca-file",
            &ca,
        ],
        &[("WAYMARK_IMAP_PASSWORD", PASSWORD)],
    );
    eventually("the message taken over STARTTLS", 30, || {
        d.count("Waymark") == 2
    });
    assert_eq!(count(&store, "SELECT COUNT(*) FROM enquiries").await, 2);
}

#[test]
fn bad_mailbox_settings_refuse_to_start_with_a_reason() {
    let url = waymark_store::testing::sqlite_url("imap-settings");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_waymark"));
        c.args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
            .args(args);
        c.env_remove("WAYMARK_IMAP_PASSWORD");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(!o.status.success(), "{args:?} started");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let pw = [("WAYMARK_IMAP_PASSWORD", "pw")];
    for (args, env, says) in [
        (
            &["--imap-url", "imaps://u:pw@host/INBOX"][..],
            &pw[..],
            "password",
        ),
        (
            &["--imap-url", "imap://u@mail.example.gov.au/INBOX?tls=none"],
            &pw,
            "unencrypted",
        ),
        (
            &["--imap-url", "imaps://u@host/INBOX"],
            &[],
            "WAYMARK_IMAP_PASSWORD",
        ),
        (
            &[
                "--imap-url",
                "imaps://u@host/INBOX",
                "--imap-folder",
                "inbox",
            ],
            &pw,
            "mailbox being read",
        ),
        (
            &["--imap-url", "imaps://u@host/INBOX?x=1"],
            &pw,
            "unknown setting",
        ),
        (
            &[
                "--imap-url",
                "imaps://u@host/INBOX",
                "--imap-ca-file",
                "/nonexistent.pem",
            ],
            &pw,
            "/nonexistent.pem",
        ),
        (
            &["--imap-password-file", "/etc/hostname"],
            &[],
            "imap_url is not",
        ),
    ] {
        let err = run(args, env);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_cannot_give_does_not_stop_the_ones_after_it() {
    let Some(d) = Dovecot::start("stuck") else {
        return;
    };
    let url = waymark_store::testing::sqlite_url("imap-stuck");
    cli(&url, &["db", "migrate"]);
    d.deliver(b"From: a@records.gov.au\r\nSubject: Damaged\r\nMessage-ID: <q0@records.gov.au>\r\n\r\nfirst\r\n");
    // The first message's file becomes unreadable to dovecot.
    let new = d.dir.join("home/inbox/Maildir/new");
    let damaged: Vec<_> = std::fs::read_dir(&new)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(damaged.len(), 1);
    Command::new("chmod")
        .arg("000")
        .arg(&damaged[0])
        .status()
        .unwrap();
    d.deliver(b"From: b@records.gov.au\r\nSubject: Fine\r\nMessage-ID: <q1@records.gov.au>\r\n\r\nsecond\r\n");
    let server = serve(&url, &d);
    eventually("the later message taken past the damaged one", 60, || {
        d.count("Waymark") == 1
    });
    let store = waymark_store::Store::open(&url).await.unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM enquiries WHERE message_id = 'q1@records.gov.au'"
        )
        .await,
        1
    );
    let admin = waymark_core::Actor {
        person: waymark_core::PersonId(1),
        roles: vec![waymark_core::Role::ProgrammeAdmin],
    };
    eventually("the status naming the message left behind", 30, || {
        let rt = tokio::runtime::Handle::current();
        let status = tokio::task::block_in_place(|| rt.block_on(store.mailboxes(&admin))).unwrap();
        status
            .first()
            .is_some_and(|s| s.detail.contains("would not give"))
    });
    // Readable again (dovecot has moved it to cur/ meanwhile, and may move
    // it as we go: until no file is unreadable), it is taken after a restart.
    let maildir = d.dir.join("home/inbox/Maildir");
    eventually("the damaged message readable again", 10, || {
        let _ = Command::new("find")
            .arg(&maildir)
            .args([
                "-type", "f", "-perm", "000", "-exec", "chmod", "644", "{}", "+",
            ])
            .status();
        Command::new("find")
            .arg(&maildir)
            .args(["-type", "f", "-perm", "000"])
            .output()
            .unwrap()
            .stdout
            .is_empty()
    });
    drop(server);
    let again = serve(&url, &d);
    let end = Instant::now() + Duration::from_secs(60);
    while !(d.count("INBOX") == 0 && d.count("Waymark") == 2) {
        assert!(
            Instant::now() < end,
            "the repaired message was not taken: {}",
            again.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_mailbox_that_does_not_exist_is_retried_ever_more_slowly() {
    let Some(d) = Dovecot::start("nope") else {
        return;
    };
    let url = waymark_store::testing::sqlite_url("imap-nope");
    cli(&url, &["db", "migrate"]);
    let nope = format!("imap://inbox@127.0.0.1:{}/Nope?tls=none", d.port);
    let server = serve_logged(
        &url,
        &["--imap-url", &nope, "--imap-lease", "3"],
        &[("WAYMARK_IMAP_PASSWORD", PASSWORD)],
    );
    // Signing in works and SELECT fails every time: the waits must grow
    // (1, 2, 4 … s), not start again at 1 s after each sign-in.
    eventually("a third failure in a row", 30, || {
        server.log().contains("(3 in a row)")
    });
    std::thread::sleep(Duration::from_secs(4));
    let log = server.log();
    let tries = log.matches("failed (").count();
    assert!(tries <= 5, "{tries} attempts in about 11 s: {log}");
}
