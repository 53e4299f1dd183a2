//! A whole engagement driven from the command line, on every backend.

use waymark_store::testing::{Who, assert_journey_done, journey, postgres_url, sqlite_url};

use crate::{ok, stderr, waymark};

fn drive(url: &str) {
    let u = url;
    let with = |extra: &[&str]| {
        let mut a = vec!["--database-url", u];
        a.extend_from_slice(extra);
        ok(&a)
    };
    with(&[
        "agency",
        "add",
        "--name",
        "Bureau of Things",
        "--abbreviation",
        "BOT",
        "--portfolio",
        "Industry",
    ]);
    with(&[
        "user",
        "add",
        "--name",
        "Sam Staff",
        "--email",
        "sam@dta.gov.au",
        "--role",
        "staff",
    ]);
    for (name, email, role) in [
        ("Mia Member", "mia@bot.gov.au", "member"),
        ("Eve Executive", "eve@bot.gov.au", "sponsor"),
    ] {
        with(&[
            "user", "add", "--name", name, "--email", email, "--role", role, "--agency", "BOT",
        ]);
    }
    let id = with(&[
        "engagement",
        "start",
        "--agency",
        "BOT",
        "--as",
        "sam@dta.gov.au",
    ]);
    let id = id.trim();
    for (n, (who, cmd)) in journey().into_iter().enumerate() {
        let email = match who {
            Who::Staff => "sam@dta.gov.au",
            Who::Member => "mia@bot.gov.au",
            Who::Sponsor => "eve@bot.gov.au",
        };
        let version = (n + 1).to_string();
        let cmd = cmd.to_string();
        with(&[
            "engagement",
            "run",
            id,
            "--as",
            email,
            "--expected-version",
            &version,
            &cmd,
        ]);
    }
    let shown: serde_json::Value =
        serde_json::from_str(&with(&["engagement", "show", id])).unwrap();
    assert_journey_done(&shown["engagement"]);
    assert!(with(&["audit", "verify"]).contains("the trail is intact"));

    // A stale version and an unknown command fail plainly and change nothing.
    let o = waymark(&[
        "--database-url",
        u,
        "engagement",
        "run",
        id,
        "--as",
        "mia@bot.gov.au",
        "--expected-version",
        "1",
        // Step 1 changed since version 1: a real conflict.
        r#"{"command":"set_step","stage":"engagement","step":1,"status":{"status":"todo"}}"#,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("changed since you loaded it"),
        "{}",
        stderr(&o)
    );
    let o = waymark(&[
        "--database-url",
        u,
        "engagement",
        "run",
        id,
        "--as",
        "mia@bot.gov.au",
        r#"{"command":"fly"}"#,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the command is not one Waymark knows"),
        "{}",
        stderr(&o)
    );
    let after: serde_json::Value =
        serde_json::from_str(&with(&["engagement", "show", id])).unwrap();
    assert_eq!(
        after["engagement"]["version"],
        shown["engagement"]["version"]
    );
}

#[test]
fn a_whole_engagement_from_the_command_line() {
    drive(&sqlite_url("cli-journey"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    if let Some(url) = rt.block_on(postgres_url("cli-journey")) {
        drive(&url);
    }
}
