//! One configuration: a TOML file, then the environment, then flags; secrets
//! from files; `waymark config check` naming the line of a mistake.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::operations::{get, spawn_logged};
use super::{stderr, stdout};

/// A directory of its own for each test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("waymark-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `waymark` with no Waymark variables but those given.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waymark"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("WAYMARK_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The line of `config check`'s output that shows a setting.
fn setting<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

#[test]
fn the_file_then_the_environment_then_flags() {
    let dir = scratch("layers");
    let file_db = dir.join("from-file.db");
    let env_db = dir.join("from-env.db");
    let config = dir.join("waymark.toml");
    std::fs::write(
        &config,
        format!(
            "# Waymark\ndatabase_url = \"sqlite://{}\"\nbind = \"127.0.0.1:9191\"\n\
             trusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\"]\nshutdown_grace = 5\nlog = \"warn\"\n",
            file_db.display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();

    // Every command reads the file: this one writes to its database.
    let o = run(
        &dir,
        &[
            "--config",
            c,
            "agency",
            "add",
            "--name",
            "Bureau of Files",
            "--abbreviation",
            "BOF",
            "--portfolio",
            "Finance",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(file_db.exists(), "the file's database was not used");

    let o = run(&dir, &["--config", c, "config", "check"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(setting(&out, "database_url").ends_with("line 2"), "{out}");
    assert!(
        setting(&out, "bind").contains("\"127.0.0.1:9191\""),
        "{out}"
    );
    assert!(
        setting(&out, "trusted_proxies").contains("\"10.0.0.0/8,192.168.1.7\""),
        "{out}"
    );
    assert!(setting(&out, "shutdown_grace").contains("\"5\""), "{out}");
    assert!(setting(&out, "log").contains("\"warn\""), "{out}");
    assert!(
        setting(&out, "mail_from").ends_with("built-in default"),
        "{out}"
    );

    // The environment overrides the file (WAYMARK_CONFIG names it too)…
    let env_url = format!("sqlite://{}", env_db.display());
    let o = run(
        &dir,
        &["config", "check"],
        &[
            ("WAYMARK_CONFIG", c),
            ("WAYMARK_DATABASE_URL", &env_url),
            ("WAYMARK_BIND", "127.0.0.1:9292"),
        ],
    );
    let out = stdout(&o);
    assert!(setting(&out, "database_url").contains(&env_url), "{out}");
    assert!(
        setting(&out, "database_url").ends_with("environment WAYMARK_DATABASE_URL"),
        "{out}"
    );
    assert!(setting(&out, "bind").contains("9292"), "{out}");
    // …and a flag overrides both.
    let o = run(
        &dir,
        &["--database-url", "sqlite://flag.db", "config", "check"],
        &[("WAYMARK_CONFIG", c), ("WAYMARK_DATABASE_URL", &env_url)],
    );
    let out = stdout(&o);
    assert!(
        setting(&out, "database_url").contains("sqlite://flag.db"),
        "{out}"
    );
    assert!(setting(&out, "database_url").ends_with("a flag"), "{out}");
}

#[test]
fn a_mistake_in_the_file_names_its_line() {
    let dir = scratch("mistakes");
    let config = dir.join("waymark.toml");
    let c = config.to_str().unwrap();
    let cases = [
        (
            "bind = \"127.0.0.1:80\"\n\ndatabse_url = \"sqlite://x.db\"\n",
            "line 3: unknown setting `databse_url`",
        ),
        (
            "bind = \"127.0.0.1:80\"\nbind = \"127.0.0.1:81\"\n",
            "line 2",
        ),
        (
            "\nbind = \"nowhere\"\n",
            "line 2: bind: invalid value 'nowhere'",
        ),
        ("outbox_max_age = -3\n", "line 1: outbox_max_age"),
        (
            "trusted_proxies = \"10.0.0.0/33\"\n",
            "line 1: trusted_proxies",
        ),
        ("log_format = \"xml\"\n", "line 1: log_format"),
        ("log = \"[[[\"\n", "line 1: `log` is not a valid log filter"),
        (
            "[serve]\nbind = \"127.0.0.1:80\"\n",
            "line 1: `serve` is a table",
        ),
        (
            "config = \"other.toml\"\n",
            "line 1: unknown setting `config`",
        ),
        ("bind = \n", "line 1"),
        ("smtp_url = \"http://relay\"\n", "line 1: smtp_url"),
        ("database_url = \"mysql://db/w\"\n", "line 1: database_url"),
        ("public_url = \"waymark.example\"\n", "line 1: public_url"),
        ("mail_from = \"not an address\"\n", "line 1: mail_from"),
        ("model = \"/nonexistent/model\"\n", "line 1: model"),
        (
            "metrics_token_file = \"/nonexistent/token\"\n",
            "line 1: metrics_token_file",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&config, text).unwrap();
        for args in [
            &["--config", c, "config", "check"][..],
            &["--config", c, "db", "migrate"][..],
        ] {
            let o = run(&dir, args, &[]);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{text:?} {args:?}: {}",
                stdout(&o)
            );
            let err = stderr(&o);
            assert!(
                err.contains(expected),
                "{text:?}: expected {expected:?} in {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    // Settings that are each fine but cannot work together.
    std::fs::write(
        &config,
        "bind = \"127.0.0.1:9400\"\nmetrics_bind = \"127.0.0.1:9400\"\n",
    )
    .unwrap();
    let o = run(&dir, &["--config", c, "config", "check"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("metrics_bind and bind are the same address"),
        "{}",
        stderr(&o)
    );
    // A file that is not there says so.
    let o = run(
        &dir,
        &["--config", "/nonexistent/waymark.toml", "config", "check"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the configuration file /nonexistent/waymark.toml"),
        "{}",
        stderr(&o)
    );
    // Nothing was created by the refused runs.
    assert!(!dir.join("x.db").exists());
}

#[test]
fn secrets_come_from_files_and_are_never_shown() {
    let dir = scratch("secrets");
    let db_secret = dir.join("db-url");
    std::fs::write(
        &db_secret,
        "postgres://waymark:hunter2-db@db.internal/waymark\n",
    )
    .unwrap();
    let smtp_secret = dir.join("smtp-url");
    std::fs::write(&smtp_secret, "smtps://mailer:hunter2-smtp@relay.internal").unwrap();
    let config = dir.join("waymark.toml");
    std::fs::write(
        &config,
        format!("database_url_file = \"{}\"\n", db_secret.display()),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let smtp = smtp_secret.to_str().unwrap();

    let o = run(
        &dir,
        &["--config", c, "config", "check"],
        &[("WAYMARK_SMTP_URL_FILE", smtp)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("hunter2"), "a secret was shown:\n{out}");
    let db = setting(&out, "database_url");
    assert!(
        db.contains("postgres://waymark:***@db.internal/waymark"),
        "{out}"
    );
    assert!(
        db.contains(&format!("{} (named on {c} line 1)", db_secret.display())),
        "{out}"
    );
    let mail = setting(&out, "smtp_url");
    assert!(mail.contains("smtps://mailer:***@relay.internal"), "{out}");
    assert!(mail.contains("named by WAYMARK_SMTP_URL_FILE"), "{out}");

    // Nor does --help, whether the secret came from a file or the environment.
    for env in [
        &[][..],
        &[("WAYMARK_DATABASE_URL", "postgres://u:hunter2-env@h/db")][..],
    ] {
        let o = run(&dir, &["--config", c, "serve", "--help"], env);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            !stdout(&o).contains("hunter2"),
            "--help shows a secret:\n{}",
            stdout(&o)
        );
    }

    // One setting, two sources at one level: refused rather than guessed.
    let o = run(
        &dir,
        &["config", "check"],
        &[
            ("WAYMARK_SMTP_URL_FILE", smtp),
            ("WAYMARK_SMTP_URL", "smtp://x"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("both WAYMARK_SMTP_URL and WAYMARK_SMTP_URL_FILE are set"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &config,
        format!(
            "database_url = \"sqlite://a.db\"\ndatabase_url_file = \"{}\"\n",
            db_secret.display()
        ),
    )
    .unwrap();
    let o = run(&dir, &["--config", c, "config", "check"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("both `database_url` and `database_url_file` are set"),
        "{}",
        stderr(&o)
    );
    // A missing or empty secret file is an error, not an empty password.
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for path in [empty.to_str().unwrap(), "/nonexistent/secret"] {
        let o = run(
            &dir,
            &["config", "check"],
            &[("WAYMARK_DATABASE_URL_FILE", path)],
        );
        assert_eq!(o.status.code(), Some(2), "{path}");
        assert!(
            stderr(&o).contains("WAYMARK_DATABASE_URL_FILE"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn serve_runs_from_the_file_alone() {
    let dir = scratch("serve");
    let token = dir.join("metrics-token");
    std::fs::write(&token, "config-scrape-token-123456\n").unwrap();
    let db_url = dir.join("db-url");
    std::fs::write(
        &db_url,
        format!("sqlite://{}\n", dir.join("served.db").display()),
    )
    .unwrap();
    let config = dir.join("waymark.toml");
    std::fs::write(
        &config,
        format!(
            "database_url_file = \"{}\"\nbind = \"127.0.0.1:0\"\nmetrics_token_file = \"{}\"\nlog_format = \"json\"\n",
            db_url.display(),
            token.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waymark"));
    cmd.args(["serve"])
        .env("WAYMARK_CONFIG", &config)
        .env_remove("WAYMARK_DATABASE_URL")
        .current_dir(&dir);
    let server = spawn_logged(cmd);
    let (status, _, body) = get(server.port, "/readyz", "");
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = get(
        server.port,
        "/metrics",
        "Authorization: Bearer config-scrape-token-123456\r\n",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        dir.join("served.db").exists(),
        "the secret file's database was not used"
    );
    // log_format = "json": log lines are objects (the reader may lag).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let line = loop {
        let log = server.log();
        if let Some(line) = log.lines().find(|l| l.contains("\"route\":\"/readyz\"")) {
            break line.to_string();
        }
        assert!(
            std::time::Instant::now() < until,
            "no JSON line for /readyz in:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        serde_json::from_str::<serde_json::Value>(&line).is_ok(),
        "{line}"
    );
}
