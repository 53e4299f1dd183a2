//! `waymark serve` as an operator runs it: health and readiness, metrics a
//! Prometheus parser reads, a request id in every log line and no secret in
//! any, SIGTERM that finishes what is in flight, and an older binary that
//! refuses a newer schema.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A server whose standard error is kept.
pub(crate) struct Logged {
    child: Child,
    pub(crate) port: u16,
    log: Arc<Mutex<String>>,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Logged {
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end (after a signal).
    pub(crate) fn wait(&mut self) {
        let _ = self.child.wait();
    }
}

pub(crate) fn serve_logged(url: &str, extra: &[&str], env: &[(&str, &str)]) -> Logged {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waymark"));
    cmd.args(["--database-url", url, "serve", "--bind", "127.0.0.1:0"])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    spawn_logged(cmd)
}

/// Starts a `waymark serve` command and waits until it listens.
pub(crate) fn spawn_logged(mut cmd: Command) -> Logged {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("waymark serve exited before listening")
            .unwrap();
        log.lock().unwrap().push_str(&line);
        log.lock().unwrap().push('\n');
        if let Some(rest) = line
            .split("serving the workspace at http://127.0.0.1:")
            .nth(1)
        {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    let keep = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut l = keep.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    Logged { child, port, log }
}

/// A request; the status, the headers (lower-cased names) and the body.
fn request(port: u16, raw: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

pub(crate) fn get(port: u16, path: &str, headers: &str) -> (u16, String, String) {
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"),
    )
}

fn cli(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_waymark"))
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .unwrap()
}

/// A fresh database on each backend this machine has: SQLite, and
/// PostgreSQL when one answers (else the skip is reported).
fn backends(name: &str) -> Vec<String> {
    let mut urls = vec![waymark_store::testing::sqlite_url(name)];
    let pg = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(waymark_store::testing::postgres_url(name));
    urls.extend(pg);
    urls
}

#[test]
fn health_readiness_metrics_and_request_ids() {
    for url in backends("ops-health") {
        health_readiness_metrics_and_request_ids_on(&url);
    }
}

fn health_readiness_metrics_and_request_ids_on(url: &str) {
    let token_file =
        std::env::temp_dir().join(format!("waymark-metrics-token-{}", std::process::id()));
    std::fs::write(&token_file, "scrape-secret-1234567890\n").unwrap();
    let server = serve_logged(
        url,
        &["--metrics-token-file", token_file.to_str().unwrap()],
        &[],
    );
    let port = server.port;
    let (status, _, body) = get(port, "/healthz", "");
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = get(port, "/readyz", "");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["schema"]["ok"], true);
    // A request id is kept when plausible, made when not, and returned.
    let (_, head, _) = get(port, "/guide/", "X-Request-Id: trace-abc.123\r\n");
    assert!(head.contains("x-request-id: trace-abc.123"), "{head}");
    let (_, head, _) = get(port, "/guide/", "X-Request-Id: <script>\r\n");
    assert!(!head.contains("<script>"), "{head}");
    assert!(head.contains("x-request-id: "), "{head}");
    // A problem body carries it too.
    let (status, _, body) = get(
        port,
        "/api/v1/engagements",
        "X-Request-Id: report-42\r\nAuthorization: Bearer wmk_not_a_token\r\n",
    );
    assert_eq!(status, 401);
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["request_id"], "report-42", "{body}");
    // So does an error page, for a person to quote.
    let (status, _, body) = get(port, "/nowhere", "X-Request-Id: page-77\r\n");
    assert_eq!(status, 404);
    assert!(
        body.contains("quote the reference <code>page-77</code>"),
        "{body}"
    );
    // Metrics need the token on the main listener.
    let (status, _, _) = get(port, "/metrics", "");
    assert_eq!(status, 401);
    let (status, _, _) = get(
        port,
        "/metrics",
        "Authorization: Bearer scrape-secret-123456789\r\n",
    );
    assert_eq!(status, 401);
    let (status, _, metrics) = get(
        port,
        "/metrics",
        "Authorization: Bearer scrape-secret-1234567890\r\n",
    );
    assert_eq!(status, 200, "{metrics}");
    for name in [
        "waymark_http_requests_total{",
        "waymark_http_request_duration_seconds_bucket{",
        "route=\"/healthz\"",
        "waymark_db_pool_connections{state=\"idle\"}",
        "waymark_outbox_unsent_messages ",
        "waymark_rate_limited_total{limit=\"sign_in\"} 0",
        "waymark_sign_in_failures_total{via=\"token\"} 1",
        "waymark_build_info{version=",
    ] {
        assert!(metrics.contains(name), "{name} not in\n{metrics}");
    }
    // The log line of that request carries its id; no path is logged.
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("report-42") && l.contains("status=401")),
        "{log}"
    );
    // Prometheus's own parser reads the exposition.
    if !python_has("prometheus_client") {
        waymark_store::testing::skip(
            "Python's prometheus_client is not installed (pip install prometheus_client), so /metrics was not parsed by it",
        );
        return;
    }
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
             names = sorted(f.name for f in p(sys.stdin.read()))\nprint(' '.join(names))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(metrics.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let names = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    for family in [
        "waymark_http_requests",
        "waymark_http_request_duration_seconds",
        "waymark_build",
    ] {
        assert!(names.split(' ').any(|n| n == family), "{family}: {names}");
    }
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn an_older_binary_refuses_a_newer_schema() {
    for url in backends("ops-newer") {
        an_older_binary_refuses_a_newer_schema_on(&url);
    }
}

fn an_older_binary_refuses_a_newer_schema_on(url: &str) {
    assert!(cli(url, &["db", "migrate"]).status.success());
    // What a newer Waymark leaves behind: a migration this one does not know.
    assert!(mark_newer(url), "could not mark the schema as newer");
    for args in [
        &["db", "migrate"][..],
        &["serve", "--bind", "127.0.0.1:0"][..],
    ] {
        let o = cli(url, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} started: {err}");
        assert!(
            err.contains("newer than this program") && err.contains("99990101000000"),
            "{args:?}: {err}"
        );
    }
}

/// Records a migration from the future, as a newer binary would.
fn mark_newer(url: &str) -> bool {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = waymark_store::Store::open(url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99990101000000, 'from a newer waymark', CURRENT_TIMESTAMP, TRUE, $1, 0)",
        )
        .bind(vec![0u8])
        .execute(store.pool())
        .await
        .is_ok()
    })
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_zero() {
    for url in backends("ops-sigterm") {
        sigterm_finishes_the_request_in_flight_on(&url);
    }
}

fn sigterm_finishes_the_request_in_flight_on(url: &str) {
    let server = serve_logged(url, &[], &[]);
    let port = server.port;
    // A request whose body is still arriving when SIGTERM comes.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = "name=Sam&email=sam%40example.gov.au&agency=Agency&message=Hello";
    write!(
        s,
        "POST /request-support HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    // New connections are no longer taken.
    let refused = TcpStream::connect(("127.0.0.1", port)).is_err();
    s.write_all(&body.as_bytes()[10..]).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("the request in flight was not reset");
    let status: u16 = out.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(status < 500, "{out}");
    let mut server = server;
    let code = wait_exit(&mut server.child, Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", server.log());
    assert!(refused, "a new connection was accepted after SIGTERM");
    assert!(server.log().contains("stopping"), "{}", server.log());
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let until = std::time::Instant::now() + within;
    while std::time::Instant::now() < until {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A PostgreSQL cluster of the test's own, on its own port, so that it can
/// be stopped and started without touching the shared server.
struct Cluster {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn pg(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let tool = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        cmd.args(args).output().unwrap()
    }

    fn ctl(&self, action: &str) {
        let data = self.data.to_str().unwrap();
        let opts = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        // With -l the server's output goes to a file: otherwise it would
        // hold this process's pipe open and `output()` would never return.
        let log = format!("{data}/server.log");
        let o = self.pg(
            "pg_ctl",
            &[
                "-D", data, "-l", &log, "-o", &opts, "-w", "-m", "fast", action,
            ],
        );
        assert!(
            o.status.success(),
            "pg_ctl {action}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Starts one, or says why it cannot.
    fn start() -> Result<Cluster, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "PostgreSQL's server programs are not installed".to_string())?
            .filter_map(Result::ok)
            .map(|d| d.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .ok_or("initdb is not installed")?;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        // initdb refuses root: as root, the cluster belongs to `postgres`.
        let as_postgres = root;
        let data = std::env::temp_dir().join(format!("waymark-ready-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres", data.to_str().unwrap()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("cannot give the cluster's folder to the postgres user".into());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster {
            bin,
            data,
            port,
            as_postgres,
        };
        let o = c.pg(
            "initdb",
            &[
                "-D",
                c.data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        if !o.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        c.ctl("start");
        Ok(c)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        let _ = self.pg("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn ready(port: u16) -> (u16, serde_json::Value) {
    let (status, _, body) = get(port, "/readyz", "");
    (status, serde_json::from_str(&body).unwrap_or_default())
}

#[test]
fn readiness_follows_postgresql_going_away_and_coming_back() {
    let cluster = match Cluster::start() {
        Ok(c) => c,
        Err(why) => {
            waymark_store::testing::skip(&format!(
                "{why}, so readiness against a stopped PostgreSQL was not tested"
            ));
            return;
        }
    };
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let server = serve_logged(&url, &[], &[]);
    let (status, body) = ready(server.port);
    assert_eq!(status, 200, "{body}");
    cluster.ctl("stop");
    let (status, body) = ready(server.port);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"]["ok"], false, "{body}");
    // The process is still alive while its database is away.
    assert_eq!(get(server.port, "/healthz", "").0, 200);
    cluster.ctl("start");
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = ready(server.port);
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "still not ready 30 s after PostgreSQL came back: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `curl` from a source address of our choosing (two "clients" on
/// loopback); the status and the response's headers.
fn curl(from: &str, args: &[&str]) -> (u16, String) {
    let o = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-w",
            "%{http_code}",
            "--interface",
            from,
        ])
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let status = out[out.len().saturating_sub(3)..].parse().unwrap_or(0);
    (status, out)
}

#[test]
fn two_instances_behind_nginx_share_sessions_and_limit_each_client() {
    let (Ok(_), Ok(_)) = (
        Command::new("nginx").arg("-v").output(),
        Command::new("curl").arg("--version").output(),
    ) else {
        waymark_store::testing::skip(
            "nginx or curl is not installed (apt-get install nginx curl), so the load-balancer test did not run",
        );
        return;
    };
    let Some(url) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(waymark_store::testing::postgres_url("behind-nginx"))
    else {
        return;
    };
    assert!(cli(&url, &["db", "migrate"]).status.success());
    let mut add = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args([
            "--database-url",
            &url,
            "user",
            "add",
            "--name",
            "Lee",
            "--email",
            "lee@dta.gov.au",
        ])
        .args(["--role", "staff", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long passphrase for lee\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    // nginx reaches the instances from 127.0.0.2, the one trusted proxy.
    let trust = ["--trusted-proxies", "127.0.0.2"];
    let a = serve_logged(&url, &trust, &[]);
    let b = serve_logged(&url, &trust, &[]);
    let dir = std::env::temp_dir().join(format!("waymark-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\nevents {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
         upstream waymark {{ server 127.0.0.1:{}; server 127.0.0.1:{}; }}\n\
         server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   proxy_pass http://waymark;\n\
         proxy_bind 127.0.0.2;\n   proxy_set_header Host $http_host;\n\
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n  }}\n }}\n}}\n",
        a.port, b.port
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut nginx = Command::new("nginx")
        .args([
            "-p",
            &d.to_string(),
            "-c",
            &format!("{d}/nginx.conf"),
            "-g",
            // One process, so killing it leaves no worker behind (a worker
            // left running held the test runner's output open).
            "daemon off; master_process off;",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while curl("127.0.0.3", &[&format!("{base}/healthz")]).0 != 200 {
        assert!(std::time::Instant::now() < until, "nginx did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Sign in through the balancer; the session works on either instance.
    let (status, head) = curl(
        "127.0.0.3",
        &[
            "--data-urlencode",
            "email=lee@dta.gov.au",
            "--data-urlencode",
            "password=a long passphrase for lee",
            &format!("{base}/login"),
        ],
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.to_lowercase()
                .starts_with("set-cookie: waymark_session=")
                .then(|| {
                    l["set-cookie: ".len()..]
                        .split(';')
                        .next()
                        .unwrap()
                        .to_string()
                })
        })
        .expect("a session cookie");
    for i in 0..6 {
        let (status, head) = curl(
            "127.0.0.3",
            &[
                "-H",
                &format!("Cookie: {cookie}"),
                "-H",
                &format!("X-Request-Id: lb-{i}"),
                &format!("{base}/engagements"),
            ],
        );
        assert_eq!(status, 200, "request {i} was not signed in: {head}");
    }
    std::thread::sleep(Duration::from_millis(200));
    for (name, server) in [("first", &a), ("second", &b)] {
        assert!(
            server.log().contains("id=lb-"),
            "the {name} instance served none of the signed-in requests"
        );
    }
    // One client guessing a password is stopped; another is not.
    let guess = |from: &str| {
        curl(
            from,
            &[
                "--data-urlencode",
                "email=lee@dta.gov.au",
                "--data-urlencode",
                "password=wrong guess",
                &format!("{base}/login"),
            ],
        )
        .0
    };
    let statuses: Vec<u16> = (0..6).map(|_| guess("127.0.0.3")).collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses[..5].iter().all(|s| *s != 429), "{statuses:?}");
    assert_ne!(
        guess("127.0.0.4"),
        429,
        "the limit applied to the balancer, not the client"
    );
    // A client that forges X-Forwarded-For gains nothing: nginx appends
    // the address it saw, and that is the one believed.
    let (status, _) = curl(
        "127.0.0.3",
        &[
            "-H",
            "X-Forwarded-For: 198.51.100.7",
            "--data-urlencode",
            "email=lee@dta.gov.au",
            "--data-urlencode",
            "password=wrong guess",
            &format!("{base}/login"),
        ],
    );
    assert_eq!(status, 429, "a forged X-Forwarded-For escaped the limit");
    let _ = nginx.kill();
    let _ = nginx.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The runbook's PostgreSQL backup: `pg_dump` of a live database, restored
/// with `pg_restore` into an empty one, holds every record, and its audit
/// chain still verifies.
#[test]
fn a_pg_dump_restores_into_an_empty_database() {
    if Command::new("pg_dump").arg("--version").output().is_err()
        || Command::new("pg_restore")
            .arg("--version")
            .output()
            .is_err()
    {
        waymark_store::testing::skip(
            "pg_dump or pg_restore is not installed (apt-get install postgresql-client), so the backup runbook was not tested",
        );
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(live) = rt.block_on(waymark_store::testing::postgres_url("pg-dump")) else {
        return;
    };
    let Some(restored) = rt.block_on(waymark_store::testing::postgres_url("pg-restore")) else {
        return;
    };
    let o = cli(
        &live,
        &[
            "dev",
            "seed",
            "--agencies",
            "6",
            "--engagements",
            "30",
            "--events",
            "600",
            "--articles",
            "12",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = std::env::temp_dir().join(format!("waymark-{}.dump", std::process::id()));
    let o = Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&dump)
        .arg(&live)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname", &restored])
        .arg(&dump)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dump);
    assert!(
        o.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The restored database is current, whole and its chain verifies.
    let o = cli(&restored, &["db", "migrate"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(&restored, &["audit", "verify"]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let export = |url: &str| {
        let o = cli(url, &["export"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (before, after) = (export(&live), export(&restored));
    assert!(
        before["engagements"]
            .as_array()
            .is_some_and(|e| e.len() == 30),
        "{}",
        before["engagements"]
    );
    assert_eq!(
        before, after,
        "the restored database differs from the live one"
    );
}

/// The runbook's rotation of an API token: list, revoke, and the running
/// server refuses it on the next request; another person's id does nothing.
#[test]
fn a_revoked_api_token_is_refused_at_once() {
    for url in backends("ops-revoke") {
        a_revoked_api_token_is_refused_at_once_on(&url);
    }
}

fn a_revoked_api_token_is_refused_at_once_on(url: &str) {
    for (name, email) in [("Tai", "tai@dta.gov.au"), ("Uma", "uma@dta.gov.au")] {
        let o = cli(
            url,
            &[
                "user", "add", "--name", name, "--email", email, "--role", "staff",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let made = |email: &str, name: &str| {
        let o = cli(url, &["token", "create", email, "--name", name]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let token = made("tai@dta.gov.au", "power-bi");
    let other = made("uma@dta.gov.au", "jira");
    let server = serve_logged(url, &[], &[]);
    let api = |t: &str| {
        get(
            server.port,
            "/api/v1/engagements",
            &format!("Authorization: Bearer {t}\r\n"),
        )
        .0
    };
    assert_eq!(api(&token), 200);
    let o = cli(url, &["token", "list", "tai@dta.gov.au"]);
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        !listed.contains(&token),
        "a token was shown again: {listed}"
    );
    let line = listed
        .lines()
        .find(|l| l.ends_with("power-bi"))
        .expect(&listed);
    let id = line.split_whitespace().next().unwrap();
    // Uma cannot end Tai's token by its id, and bad ids are refused plainly.
    for (email, id) in [
        ("uma@dta.gov.au", id),
        ("tai@dta.gov.au", "zz"),
        ("tai@dta.gov.au", "'; DROP TABLE tokens; --"),
    ] {
        let o = cli(url, &["token", "revoke", email, id]);
        assert_eq!(o.status.code(), Some(2), "{email} {id}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("has no token with the id"));
    }
    assert_eq!(api(&token), 200);
    let o = cli(url, &["token", "revoke", "tai@dta.gov.au", id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(api(&token), 401, "a revoked token still works");
    assert_eq!(api(&other), 200, "another person's token was ended");
    let o = cli(url, &["token", "list", "tai@dta.gov.au"]);
    assert!(String::from_utf8_lossy(&o.stdout).trim().is_empty());
}

/// Commands that read records never make a database: a mistyped URL is an
/// error, not an empty database that verifies as intact. Backups and
/// exports are readable by their owner alone, and never overwrite.
#[test]
fn reading_commands_need_a_database_and_backups_are_private() {
    let dir = std::env::temp_dir().join(format!("waymark-ops-existing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let typo = format!("sqlite://{}", dir.join("typo.db").display());
    for args in [
        &["audit", "verify"][..],
        &["export"][..],
        &["engagement", "list"][..],
        &["token", "list", "a@b.gov.au"][..],
    ] {
        let o = cli(&typo, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("there is no Waymark database at"));
        assert!(!dir.join("typo.db").exists(), "{args:?} made a database");
    }
    let url = format!("sqlite://{}", dir.join("real.db").display());
    assert!(cli(&url, &["db", "migrate"]).status.success());
    let backup = dir.join("backup.db");
    let o = cli(&url, &["backup", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(
        &url,
        &["export", "--out", dir.join("export.json").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    use std::os::unix::fs::PermissionsExt;
    for file in ["backup.db", "export.json"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
    }
    // The backup is whole: it verifies on its own.
    let o = cli(
        &format!("sqlite://{}", backup.display()),
        &["audit", "verify"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(&url, &["backup", backup.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists: choose a new file"));
    // PostgreSQL: an empty database is refused the same way, and left empty.
    let Some(empty) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(waymark_store::testing::postgres_url("ops-existing"))
    else {
        return;
    };
    let o = cli(&empty, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("there is no Waymark database at"));
    let o = cli(&empty, &["audit", "verify"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("there is no Waymark database at"),
        "the first refusal migrated it"
    );
}
