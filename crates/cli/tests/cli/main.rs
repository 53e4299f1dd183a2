//! The `waymark` binary, run as a user would run it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

mod config;
mod intake;
mod journey;
mod mailbox;
mod operations;
mod processes;
use std::process::{Command, Output};

fn waymark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(args)
        .env_remove("WAYMARK_MODEL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .display()
        .to_string()
}

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .display()
        .to_string()
}

fn seeds() -> String {
    repo("crates/model/tests/fixtures/seeds")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bundled_model_lints_clean_from_any_directory() {
    let o = waymark(&["model", "lint"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).trim(), "lint: no findings in 8 pages");
}

#[test]
fn seeds_fail_lint_with_their_defects() {
    let o = waymark(&["model", "lint", &seeds()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("error[link-empty]: the link “Letter of Intent” has no target"),
        "{out}"
    );
    assert!(out.contains("001_149ec0c6737c7f1c.txt:22:28"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("lint: 7 errors and 22 warnings in 3 pages"),
        "{out}"
    );
}

/// A reader that stops early (`| head -1`) still gets the lint's verdict in
/// the exit code, in both formats, and no error message.
#[test]
fn lint_keeps_its_exit_code_when_the_reader_stops_early() {
    let dir = std::env::temp_dir().join(format!("waymark-lint-pipe-{}", std::process::id()));
    let made = waymark(&[
        "dev",
        "corpus",
        "--pages",
        "400",
        "--shape",
        "flat",
        "--out",
        &dir.display().to_string(),
    ]);
    assert!(made.status.success());
    // One error among thousands of warnings.
    std::fs::write(dir.join("zz-bad.md"), "---\ntitle: Z\n---\n[x]()\n").unwrap();
    for format in ["human", "json"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
            .args([
                "model",
                "lint",
                "--format",
                format,
                &dir.display().to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line, then go away.
        let mut first = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut first,
        )
        .unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lint_json_lists_findings_with_positions() {
    let o = waymark(&["model", "lint", "--format", "json", &seeds()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 29);
    let keys: Vec<_> = all[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 6);
    // The documented key order, as printed.
    let text = stdout(&o);
    let first = &text[..text.find('}').unwrap()];
    let at: Vec<usize> = [
        "\"path\"",
        "\"line\"",
        "\"column\"",
        "\"severity\"",
        "\"code\"",
        "\"message\"",
    ]
    .iter()
    .map(|k| first.find(k).unwrap())
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{first}");
    assert!(all.iter().any(|f| {
        f["code"] == "duplicate-text"
            && f["line"] == 20
            && f["severity"] == "warning"
            && f["path"]
                .as_str()
                .unwrap()
                .ends_with("000_c5445e08139d21c5.txt")
    }));
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let page = fixture("invalid/warning-only.md");
    let o = waymark(&["model", "lint", &page]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("warning[item-no-body]"));
    let o = waymark(&["model", "lint", "--deny", "warnings", &page]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn invalid_yaml_and_bad_encoding_are_findings_not_crashes() {
    let o = waymark(&["model", "lint", &fixture("invalid")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("error[yaml-invalid]: the front matter is not valid YAML"),
        "{out}"
    );
    assert!(out.contains("yaml.md:5:"), "{out}");
    assert!(out.contains("error[not-utf8]"), "{out}");
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let o = waymark(&["model", "lint", "/nonexistent/waymark-pages"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "error: /nonexistent/waymark-pages: no such file or directory"
    );
    let o = waymark(&["model", "lint", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let empty = tempdir("empty");
    let o = waymark(&["model", "show", &empty.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no pages here"), "{}", stderr(&o));
}

/// A file named twice, directly or through its folder, is one page: it
/// does not conflict with itself.
#[test]
fn a_file_named_twice_is_read_once() {
    let dir = tempdir("twice");
    std::fs::write(dir.join("a.md"), "---\ntitle: A\n---\nText.\n").unwrap();
    let d = dir.display().to_string();
    let a = dir.join("a.md").display().to_string();
    let dotted = format!("{d}/./a.md");
    let o = waymark(&["model", "lint", &a, &dotted, &d]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o).trim(), "lint: no findings in 1 page");
    // Through `..`, a link to the file, a link to the folder, and a link
    // inside the folder back to itself (which must not loop).
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/b.md"), "---\ntitle: B\n---\nText.\n").unwrap();
    let up = format!("{d}/sub/../a.md");
    #[cfg(unix)]
    {
        let outside = tempdir("twice-links");
        std::os::unix::fs::symlink(dir.join("a.md"), outside.join("link.md")).unwrap();
        std::os::unix::fs::symlink(&dir, outside.join("folder")).unwrap();
        std::os::unix::fs::symlink(".", dir.join("sub/again")).unwrap();
        let link = outside.join("link.md").display().to_string();
        let folder = outside.join("folder").display().to_string();
        let o = waymark(&["model", "lint", &up, &link, &d, &folder]);
        assert_eq!(stdout(&o).trim(), "lint: no findings in 2 pages");
    }
    let o = waymark(&["model", "lint", &up, &d]);
    assert_eq!(stdout(&o).trim(), "lint: no findings in 2 pages");
    // Two files of the same name in different folders stay two pages (whose
    // names conflict, as they should).
    std::fs::write(dir.join("sub/a.md"), "---\ntitle: Sub A\n---\nText.\n").unwrap();
    let o = waymark(&["model", "lint", &d]);
    let out = stdout(&o);
    assert!(out.trim().ends_with("lint: 1 error in 3 pages"), "{out}");
    assert!(out.contains("sub/a.md:1:1"), "{out}");
}

#[test]
fn show_text_outlines_the_bundled_model() {
    let o = waymark(&["model", "show"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let order: Vec<_> = out.lines().filter(|l| l.starts_with("Stage ")).collect();
    assert_eq!(order.len(), 5, "{out}");
    assert!(order[0].starts_with("Stage 1: Engagement"));
    assert!(order[4].starts_with("Stage 5: Adoption and Evaluation"));
    assert!(out.contains("  Decision: Undertake discovery?"));
    assert!(out.contains("(enters Discovery)"));
}

#[test]
fn show_json_on_seeds_and_bundled() {
    for args in [
        vec!["model", "show", "--format", "json"],
        vec!["model", "show", "--format", "json", &seeds()],
    ] {
        let o = waymark(&args.iter().map(|s| s.as_ref()).collect::<Vec<&str>>());
        assert_eq!(o.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["stages"].as_array().unwrap().len(), 5);
        assert_eq!(
            v["stages"][0]["decisions"][0]["question"],
            "Undertake discovery?"
        );
        assert_eq!(
            v["stages"][0]["decisions"][0]["options"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        for p in v["pages"].as_array().unwrap() {
            for key in ["path", "title", "layout", "timeline", "sections"] {
                assert!(p.get(key).is_some(), "{key} in {p}");
            }
            for t in p["timeline"].as_array().unwrap() {
                let kind = t["kind"].as_str().unwrap();
                assert!(["step", "decision", "next_steps", "stage", "other"].contains(&kind));
            }
        }
    }
}

#[test]
fn model_flag_and_env_override_the_bundled_model() {
    let o = waymark(&["--model", &seeds(), "model", "show"]);
    assert!(
        stdout(&o).contains("(seeds/000_c5445e08139d21c5.txt)")
            || stdout(&o).contains("000_c5445e08139d21c5.txt)")
    );
    let o = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["model", "lint"])
        .env("WAYMARK_MODEL", seeds())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("waymark-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn generated_corpus_is_deterministic_and_clean() {
    let a = tempdir("corpus-a");
    let b = tempdir("corpus-b");
    for d in [&a, &b] {
        let o = waymark(&[
            "dev",
            "corpus",
            "--pages",
            "50",
            "--seed",
            "3",
            "--out",
            &d.display().to_string(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 50);
    for n in names {
        assert_eq!(
            std::fs::read(a.join(&n)).unwrap(),
            std::fs::read(b.join(&n)).unwrap()
        );
    }
    let o = waymark(&[
        "model",
        "lint",
        "--deny",
        "warnings",
        &a.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = waymark(&[
        "model",
        "show",
        "--format",
        "json",
        &a.display().to_string(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stages"].as_array().unwrap().len(), 5);
    assert!(
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["page"].is_null())
    );
}

#[test]
fn site_build_writes_the_bundled_site_and_reports_bad_paths() {
    let out = tempdir("site");
    let none = format!("sqlite://{}/none.db", out.display());
    let o = waymark(&[
        "site",
        "build",
        "--database-url",
        &none,
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Without a database the export is the model's pages alone, and says so.
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "note: no database at {none}, so the site has the model's pages only (no articles or blueprint releases)\nwrote 22 files to {}",
            out.display()
        )
    );
    assert!(
        !out.join("none.db").exists(),
        "an export creates no database"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("<h1>Protected Utility engagement model</h1>"));
    assert!(out.join("assets/site.css").is_file());

    let seeds_out = tempdir("site-seeds");
    let o = waymark(&[
        "site",
        "build",
        "--out",
        &seeds_out.display().to_string(),
        &seeds(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(seeds_out.join("deploy.html").is_file());

    let bad = tempdir("site-bad");
    let o = waymark(&[
        "site",
        "build",
        "--out",
        &bad.display().to_string(),
        &fixture("invalid"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 file(s) could not be read as pages"),
        "{}",
        stderr(&o)
    );

    let o = waymark(&[
        "site",
        "build",
        "--database-url",
        &none,
        "--out",
        "/proc/waymark-cannot-write-here",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("error: /proc/waymark-cannot-write-here")),
        "{}",
        stderr(&o)
    );
}

fn db(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("w.db").display())
}

fn ok(args: &[&str]) -> String {
    let o = waymark(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn records_from_the_command_line_and_a_tampered_trail() {
    let dir = tempdir("records");
    let url = db(&dir);
    let u = url.as_str();
    ok(&["--database-url", u, "db", "migrate"]);
    assert_eq!(
        ok(&[
            "--database-url",
            u,
            "agency",
            "add",
            "--name",
            "Digital Transformation Agency",
            "--abbreviation",
            "dta",
            "--portfolio",
            "Finance"
        ])
        .trim(),
        "1"
    );
    let o = waymark(&[
        "--database-url",
        u,
        "agency",
        "add",
        "--name",
        "Again",
        "--abbreviation",
        "DTA",
        "--portfolio",
        "Finance",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "error: abbreviation: DTA is already taken"
    );
    ok(&[
        "--database-url",
        u,
        "user",
        "add",
        "--name",
        "Sam",
        "--email",
        "Sam@DTA.gov.au",
        "--role",
        "staff",
    ]);
    let o = waymark(&[
        "--database-url",
        u,
        "user",
        "add",
        "--name",
        "Mia",
        "--email",
        "mia@dta.gov.au",
        "--role",
        "member",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("need --agency"), "{}", stderr(&o));
    let o = waymark(&[
        "--database-url",
        u,
        "engagement",
        "start",
        "--agency",
        "DTA",
        "--as",
        "nobody@dta.gov.au",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("nobody has the email nobody@dta.gov.au"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        ok(&[
            "--database-url",
            u,
            "engagement",
            "start",
            "--agency",
            "dta",
            "--as",
            "sam@dta.gov.au"
        ])
        .trim(),
        "1"
    );
    assert!(ok(&["--database-url", u, "engagement", "list"]).contains("engagement (cycle 1)"));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["--database-url", u, "engagement", "show", "1"])).unwrap();
    assert_eq!(shown["engagement"]["stages"][0]["status"], "active");
    assert_eq!(shown["history"][0]["command"], "start");
    let o = waymark(&["--database-url", u, "engagement", "show", "7"]);
    assert_eq!(
        (o.status.code(), stderr(&o).trim()),
        (
            Some(2),
            "error: there is no engagement 7 (or you may not see it)"
        )
    );
    assert!(ok(&["--database-url", u, "audit", "verify"]).contains("the trail is intact"));

    // Change one stored event behind Waymark's back.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = waymark_store::Store::open(u).await.unwrap();
        sqlx::query("UPDATE events SET at = at + 1 WHERE seq = 2")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
    });
    let o = waymark(&["--database-url", u, "audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("engagement 1, event 2: its content does not match its hash"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_database_urls_are_plain_errors() {
    let o = waymark(&["--database-url", "mysql://x/y", "engagement", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: invalid value 'mysql://x/y' for '--database-url <URL>': give sqlite://FILE or postgres://"),
        "{}",
        stderr(&o)
    );
    let o = waymark(&[
        "--database-url",
        "sqlite:///nonexistent-dir/w.db",
        "db",
        "migrate",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: cannot open the database sqlite:///nonexistent-dir/w.db"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn export_import_and_backup_from_the_command_line() {
    let dir = tempdir("export");
    let a = db(&dir);
    processes::setup(&a);
    let file = dir.join("export.json");
    ok(&[
        "--database-url",
        &a,
        "export",
        "--out",
        &file.display().to_string(),
    ]);
    let b = format!("sqlite://{}", dir.join("copy.db").display());
    let o = waymark(&["--database-url", &b, "import", &file.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the audit trail verifies"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        ok(&["--database-url", &a, "export"]),
        ok(&["--database-url", &b, "export"])
    );
    let o = waymark(&["--database-url", &b, "import", &file.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("import only into an empty database"),
        "{}",
        stderr(&o)
    );
    let backup = dir.join("backup.db");
    ok(&[
        "--database-url",
        &a,
        "backup",
        &backup.display().to_string(),
    ]);
    let c = format!("sqlite://{}", backup.display());
    assert!(ok(&["--database-url", &c, "audit", "verify"]).contains("the trail is intact"));
    let o = waymark(&[
        "--database-url",
        &a,
        "import",
        &dir.join("missing.json").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Articles kept as files in the content folder's `_articles/` are pages of
/// the exported site (and of its stages' lists); a file that does not read
/// is left out with a note saying why.
#[test]
fn articles_in_the_content_folder_are_on_the_site() {
    let dir = tempdir("content-articles");
    let content = dir.join("content");
    std::fs::create_dir_all(content.join("_articles")).unwrap();
    for f in std::fs::read_dir(repo("content/model")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, content.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        content.join("_articles/licensing-first.md"),
        "---\ntitle: Licensing first\nsummary: Buy before you build.\ntags: [deploy]\nreview_by: 2027-01-01\n---\nBuy **E5**. See [Deploy](deploy.md).\n",
    )
    .unwrap();
    std::fs::write(
        content.join("_articles/broken.md"),
        "---\ntitle: \n---\nNo title.\n",
    )
    .unwrap();
    let out = dir.join("out");
    let none = format!("sqlite://{}/none.db", dir.display());
    let o = waymark(&[
        "--model",
        &content.display().to_string(),
        "--database-url",
        &none,
        "site",
        "build",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("broken.md: title: is required"),
        "{}",
        stderr(&o)
    );
    let article = std::fs::read_to_string(out.join("article-licensing-first.html")).unwrap();
    assert!(article.contains("<strong>E5</strong>"));
    let deploy = std::fs::read_to_string(out.join("deploy.html")).unwrap();
    assert!(deploy.contains("article-licensing-first.html"));
    assert!(!out.join("article-broken.html").exists());
    // Lint does not take the articles for pages, and checks them as articles.
    let o = waymark(&["model", "lint", &content.display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("error[article-invalid]"), "{out}");
    assert!(out.contains("broken.md"), "{out}");
    assert!(
        !out.contains("licensing-first.md"),
        "a good article has no findings: {out}"
    );
}

/// `waymark search reindex` rebuilds the whole index from the records and
/// the model, and says how much it indexed.
#[test]
fn search_reindex_rebuilds_from_the_records_and_the_model() {
    let dir = tempdir("reindex");
    let url = db(&dir);
    let u = url.as_str();
    ok(&[
        "--database-url",
        u,
        "agency",
        "add",
        "--name",
        "Bureau of Things",
        "--abbreviation",
        "BOT",
        "--portfolio",
        "Industry",
    ]);
    let o = waymark(&["--database-url", u, "search", "reindex"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // One agency, and the bundled model's pages.
    let pages = waymark_model::bundled().len();
    assert_eq!(
        stderr(&o).trim(),
        format!("search index rebuilt: 1 record(s) and {pages} guide page(s)")
    );
    let o = waymark(&[
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
        "search",
        "reindex",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unreachable database is an error: {}",
        stderr(&o)
    );
}

#[test]
fn model_diff_compares_two_page_sets_and_says_when_one_will_not_load() {
    let framework = format!("{}/../../content/framework", env!("CARGO_MANIFEST_DIR"));
    // The same: exit 0.
    let o = waymark(&["model", "diff", "bundled", "bundled"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("the same stages"));
    // Different: exit 1, as diff does, text and JSON.
    let o = waymark(&["model", "diff", "bundled", &framework]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("~ renamed  engagement “Engagement” → connect-align “Connect and Align”"),
        "{text}"
    );
    assert!(
        text.contains("> moved    transition 5 “Security assessment”"),
        "{text}"
    );
    let o = waymark(&["model", "diff", "bundled", &framework, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stages"].as_array().unwrap().len(), 5);
    // A set that does not exist, or has no stages: exit 2 and why.
    let o = waymark(&["model", "diff", "bundled", "/no/such/folder"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the new page set (/no/such/folder) does not load"),
        "{}",
        stderr(&o)
    );
    let empty = tempdir("diff-empty");
    std::fs::write(
        empty.join("note.md"),
        "---\ntitle: A note\n---\n\nJust a note.\n",
    )
    .unwrap();
    let o = waymark(&["model", "diff", &empty.display().to_string(), "bundled"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no stages, so there is nothing to compare"),
        "{}",
        stderr(&o)
    );
}
