//! Letters, workshops and mail through the workspace, checked with real
//! tools: poppler's `pdftotext`/`pdfinfo` read the PDF, Python's `icalendar`
//! parses the invitations, and Python's `aiosmtpd` is the SMTP server mail
//! is delivered to. Where a tool is missing the test says so and skips
//! (a failure under WAYMARK_REQUIRE_ALL=1, as in CI).

use std::process::{Command as Process, Stdio};

use sha2::{Digest, Sha256};
use waymark_store::testing::{free_port, skip};

use super::*;

fn tool(name: &str, check: &[&str]) -> bool {
    Process::new(name)
        .args(check)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn person(w: &World, email: &str) -> PersonId {
    w.store
        .person_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
}

async fn post(app: &Router, c: &Client, path: &str, form: &[(&str, &str)]) -> Reply {
    let mut all = vec![("csrf", c.csrf.as_str())];
    all.extend_from_slice(form);
    send(app, c, Method::POST, path, &all).await
}

#[tokio::test]
async fn the_letter_of_intent_is_typeset_versioned_and_signed() {
    if !tool("pdftotext", &["-v"]) || !tool("pdfinfo", &["-v"]) {
        skip(
            "letter PDF test: pdftotext/pdfinfo are not installed (apt-get install poppler-utils)",
        );
        return;
    }
    for store in stores("letters-web").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 30]).await;
        let staff = w.client(&app, Who::Staff).await;
        let sponsor = w.client(&app, Who::Sponsor).await;
        let member = w.client(&app, Who::Member).await;
        let e = format!("/engagements/{}", w.engagement);
        let letter = format!("{e}/letters/letter-of-intent");

        // Before the decision, there is nothing to formalise.
        let early = post(
            &app,
            &staff,
            &letter,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            early.body.contains("cannot be written yet"),
            "{}",
            early.body
        );

        let decide = async |rationale: &'static str| {
            let r = post(
                &app,
                &staff,
                &e,
                &[
                    ("version", &w.version().await),
                    ("form", "decide"),
                    ("command", "decide"),
                    ("stage", "engagement"),
                    ("at", "0"),
                    ("option", "0"),
                    ("rationale", rationale),
                    ("funded_by", "dta"),
                ],
            )
            .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        };
        decide("The agency needs a business case before it commits.").await;
        let eve = person(&w, "eve@bot.gov.au").await;
        let r = post(
            &app,
            &staff,
            &e,
            &[
                ("version", &w.version().await),
                ("form", "sponsor"),
                ("command", "set_sponsor"),
                ("person", &eve.to_string()),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

        let r = post(
            &app,
            &staff,
            &letter,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // The agency cannot issue letters.
        let r = post(
            &app,
            &member,
            &letter,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        let pdf1 = send(
            &app,
            &sponsor,
            Method::GET,
            &format!("{letter}/v1.pdf"),
            &[],
        )
        .await;
        assert_eq!(pdf1.status, StatusCode::OK);
        assert!(pdf1.raw.starts_with(b"%PDF-"));
        let dir = std::env::temp_dir().join(format!(
            "waymark-letter-{}-{}",
            std::process::id(),
            w.engagement
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("v1.pdf");
        std::fs::write(&file, &pdf1.raw).unwrap();
        let text = Process::new("pdftotext")
            .arg(&file)
            .arg("-")
            .output()
            .unwrap();
        let text = words(&String::from_utf8_lossy(&text.stdout));
        for fact in [
            "Letter of Intent",
            "Bureau of Things",
            "Dear Person,",
            "The agency needs a business case before it commits.",
            "Discovery of 4 to 8 weeks",
            "funded by the DTA",
        ] {
            assert!(text.contains(fact), "the PDF lacks “{fact}”: {text}");
        }
        let info = Process::new("pdfinfo").arg(&file).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout).to_string();
        assert!(info.contains("Tagged:          yes"), "{info}");
        assert!(info.contains("Title:           Letter of Intent"), "{info}");

        // The sponsor signs the exact bytes they can download.
        let page = send(&app, &sponsor, Method::GET, &letter, &[]).await;
        let sha1 = format!("{:x}", Sha256::digest(&pdf1.raw));
        assert!(
            page.body.contains(&sha1),
            "the page shows the hash being signed"
        );
        let r = post(
            &app,
            &member,
            &letter,
            &[
                ("version", &w.version().await),
                ("action", "sign"),
                ("sha256", &sha1),
            ],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "only the sponsor or the programme signs"
        );
        // The sponsor reads first: without the "I have read this letter"
        // box nothing is signed, and the page says why, beside the box.
        let r = post(
            &app,
            &sponsor,
            &letter,
            &[
                ("version", &w.version().await),
                ("action", "sign"),
                ("sha256", &sha1),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#agree\""), "{}", r.body);
        assert!(r.body.contains("agree to it on behalf of"), "{}", r.body);
        let r = post(
            &app,
            &sponsor,
            &letter,
            &[
                ("version", &w.version().await),
                ("action", "sign"),
                ("sha256", &sha1),
                ("agree", "yes"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let staff_actor = w
            .store
            .actor(person(&w, "sam@dta.gov.au").await)
            .await
            .unwrap();
        let state = w
            .store
            .engagement(&staff_actor, w.engagement)
            .await
            .unwrap();
        assert_eq!(state.signoffs.len(), 1);
        assert_eq!(
            (state.signoffs[0].sha256.as_str(), state.signoffs[0].by),
            (sha1.as_str(), eve)
        );
        let history = w.store.history(&staff_actor, w.engagement).await.unwrap();
        assert!(
            history
                .iter()
                .any(|h| matches!(&h.event, Event::SignedOff { sha256, .. } if *sha256 == sha1))
        );

        // Nothing changed: no new version.
        let r = post(
            &app,
            &staff,
            &letter,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

        // A new rationale changes the letter: version 2, and the sign-off of
        // version 1 is superseded; version 1 stays, byte for byte.
        decide("A business case, and a security review first.").await;
        let page = send(&app, &staff, Method::GET, &letter, &[]).await;
        assert!(
            page.body
                .contains("The engagement has changed since version 1"),
            "{}",
            page.body
        );
        let r = post(
            &app,
            &staff,
            &letter,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let state = w
            .store
            .engagement(&staff_actor, w.engagement)
            .await
            .unwrap();
        assert!(state.signoffs[0].superseded);
        let again = send(
            &app,
            &sponsor,
            Method::GET,
            &format!("{letter}/v1.pdf"),
            &[],
        )
        .await;
        assert_eq!(again.raw, pdf1.raw);
        let stale = post(
            &app,
            &sponsor,
            &letter,
            &[
                ("version", &w.version().await),
                ("action", "sign"),
                ("sha256", &sha1),
                ("agree", "yes"),
            ],
        )
        .await;
        assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            stale.body.contains("not the latest version"),
            "{}",
            stale.body
        );
        let page = send(&app, &sponsor, Method::GET, &letter, &[]).await;
        assert!(page.body.contains("superseded"), "{}", page.body);
        // The sponsor was asked to sign each version.
        let admin = w
            .store
            .actor(person(&w, "ada@dta.gov.au").await)
            .await
            .unwrap();
        let asks = w.store.outbox(&admin, 50).await.unwrap();
        assert_eq!(
            asks.iter()
                .filter(|m| m.kind == "sign_off_request" && m.recipient == "eve@bot.gov.au")
                .count(),
            2
        );
        // The closure letter comes at the end of Transition, through the
        // programme's own template, which is checked before it is saved.
        let closure = format!("{e}/letters/closure-letter");
        let early = post(
            &app,
            &staff,
            &closure,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            early.body.contains("comes at the end of Transition"),
            "{}",
            early.body
        );
        let bad = post(
            &app,
            &staff,
            "/letter-templates/closure-letter",
            &[("body", "Dear {{ agency.nmae }}")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("could not be filled in"), "{}", bad.body);
        let custom = "# Closure letter\n\nDear {{ sponsor.name }}, engagement {{ engagement.id }} with {{ agency.name }} closes here.\n\n{% for s in stages %}- {{ s.name }}: {{ s.status }}\n{% endfor %}";
        let r = post(
            &app,
            &staff,
            "/letter-templates/closure-letter",
            &[("body", custom)],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        for cmd in [
            Command::StartStage {
                stage: "transition".into(),
            },
            Command::Decide {
                stage: "transition".into(),
                at: DecisionAt::Exit,
                option: 0,
                rationale: "Readiness is good; adoption next.".into(),
                funded_by: Funder::CoFunded,
                note: None,
            },
        ] {
            let v = w
                .store
                .engagement(&staff_actor, w.engagement)
                .await
                .unwrap()
                .version;
            w.store
                .execute(&staff_actor, w.engagement, v, &cmd, NOW)
                .await
                .unwrap();
        }
        let r = post(
            &app,
            &staff,
            &closure,
            &[("version", &w.version().await), ("action", "issue")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let pdf = send(
            &app,
            &sponsor,
            Method::GET,
            &format!("{closure}/v1.pdf"),
            &[],
        )
        .await;
        let file = dir.join("closure.pdf");
        std::fs::write(&file, &pdf.raw).unwrap();
        let text = Process::new("pdftotext")
            .arg(&file)
            .arg("-")
            .output()
            .unwrap();
        let text = words(&String::from_utf8_lossy(&text.stdout));
        assert!(
            text.contains(&format!(
                "Dear Person, engagement {} with Bureau of Things closes here.",
                w.engagement
            )),
            "{text}"
        );
        assert!(text.contains("Transition: under way"), "{text}");

        assert!(w.store.verify().await.unwrap().intact());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Parses `.ics` text with Python's icalendar; prints METHOD, UID,
/// SEQUENCE, DTSTART (UTC) and the attendees, one per line.
fn parse_ics(text: &str) -> String {
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
print("METHOD", cal.get("method"))
for ev in cal.walk("VEVENT"):
    print("UID", ev.get("uid"))
    print("SEQUENCE", ev.get("sequence"))
    print("DTSTART", ev.decoded("dtstart").isoformat())
    print("STATUS", ev.get("status"))
    att = ev.get("attendee") or []
    att = att if isinstance(att, list) else [att]
    print("ATTENDEES", " ".join(sorted(str(a) for a in att)))
"#;
    crate::python(script, text)
}

#[tokio::test]
async fn workshop_invitations_parse_and_reach_an_smtp_sink() {
    if !crate::python_has("icalendar, aiosmtpd") {
        skip(
            "workshop invitation test: Python's icalendar and aiosmtpd are not installed (python3 -m pip install icalendar aiosmtpd)",
        );
        return;
    }
    for store in stores("workshops-web").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 31]).await;
        let staff = w.client(&app, Who::Staff).await;
        let e = format!("/engagements/{}", w.engagement);
        let eve = person(&w, "eve@bot.gov.au").await.to_string();
        let plan = async |time: &'static str, v: String, action: &'static str| {
            post(
                &app,
                &staff,
                &format!("{e}/workshops"),
                &[
                    ("version", &v),
                    ("action", action),
                    ("id", "1"),
                    ("title", "Initial workshop"),
                    ("date", "2026-12-01"),
                    ("time", time),
                    ("timezone", "Australia/Canberra"),
                    ("minutes", "90"),
                    ("location", "Canberra"),
                    ("link", "https://meet.example.gov.au/x"),
                    ("agenda", "Sponsorship, strategy, need, budget, governance"),
                    ("people", &eve),
                    ("emails", "cio@bot.gov.au"),
                ],
            )
            .await
        };
        // A bad time is refused beside its field, and nothing is sent.
        let bad = plan("25:00", w.version().await, "schedule").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains("is not a time like 09:30"),
            "{}",
            bad.body
        );

        let r = plan("10:00", w.version().await, "schedule").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let ics = send(
            &app,
            &staff,
            Method::GET,
            &format!("{e}/workshops/1.ics"),
            &[],
        )
        .await;
        assert_eq!(ics.status, StatusCode::OK);
        let first = parse_ics(&ics.body);
        let uid = format!("UID workshop-{}-1@waymark.test", w.engagement);
        assert!(
            first.contains("METHOD REQUEST") && first.contains(&uid),
            "{first}"
        );
        assert!(first.contains("SEQUENCE 0"), "{first}");
        assert!(
            first.contains("DTSTART 2026-11-30T23:00:00+00:00"),
            "{first}"
        );
        assert!(
            first.contains("mailto:cio@bot.gov.au") && first.contains("mailto:eve@bot.gov.au"),
            "{first}"
        );

        let r = plan("14:30", w.version().await, "change").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let second = parse_ics(
            &send(
                &app,
                &staff,
                Method::GET,
                &format!("{e}/workshops/1.ics"),
                &[],
            )
            .await
            .body,
        );
        assert!(
            second.contains(&uid) && second.contains("SEQUENCE 1"),
            "{second}"
        );
        assert!(
            second.contains("DTSTART 2026-12-01T03:30:00+00:00"),
            "{second}"
        );

        // Notes under the model's five headings.
        let r = post(
            &app,
            &staff,
            &format!("{e}/workshops"),
            &[
                ("version", &w.version().await),
                ("action", "notes"),
                ("id", "1"),
                ("budget", "ICT capital budget, FY27"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = send(&app, &staff, Method::GET, &format!("{e}/workshops"), &[]).await;
        assert!(page.body.contains("ICT capital budget, FY27") && page.body.contains("Governance"));

        // Two invitations and two updates wait in the outbox. The first
        // delivery attempt finds no server: nothing is lost, it is retried.
        let admin = w
            .store
            .actor(person(&w, "ada@dta.gov.au").await)
            .await
            .unwrap();
        assert_eq!(w.store.outbox(&admin, 50).await.unwrap().len(), 4);
        let closed = free_port();
        let down = waymark_web::mail::Sender::new(
            &format!("smtp://127.0.0.1:{closed}"),
            "protectedutility@dta.gov.au",
        )
        .unwrap();
        assert_eq!(down.send_due(&w.store).await.unwrap(), (0, 4));
        let waiting = w.store.outbox(&admin, 50).await.unwrap();
        assert!(
            waiting
                .iter()
                .all(|m| m.sent_at.is_none() && m.attempts == 1 && m.last_error.is_some())
        );
        assert!(
            down.send_due(&w.store).await.unwrap() == (0, 0),
            "not due again until the backoff passes"
        );
        sqlx::query("UPDATE outbox SET next_attempt_at = 0")
            .execute(w.store.pool())
            .await
            .unwrap();

        // A real SMTP server on loopback: aiosmtpd, keeping what it receives
        // in a Maildir.
        let sink = crate::Sink::start().await;
        let up =
            waymark_web::mail::Sender::new(&sink.url(), "protectedutility@dta.gov.au").unwrap();
        let delivered = up.send_due(&w.store).await;
        let got = sink.read(
            r#"
import sys, mailbox, icalendar
for m in mailbox.Maildir(sys.argv[1], create=False):
    for part in m.walk():
        if part.get_content_type() == "text/calendar":
            cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
            ev = cal.walk("VEVENT")[0]
            print(m["To"], "|", m["Subject"], "|", part.get_param("method"), cal.get("method"), ev.get("sequence"), ev.get("uid"))
"#,
        );
        drop(sink);
        assert_eq!(delivered.unwrap(), (4, 0));
        assert_eq!(got.lines().count(), 4, "{got}");
        let uid_only = uid.trim_start_matches("UID ");
        assert!(got.contains(&format!("cio@bot.gov.au | Invitation: Initial workshop (Bureau of Things) | REQUEST REQUEST 0 {uid_only}")), "{got}");
        assert!(got.contains(&format!("eve@bot.gov.au | Updated: Initial workshop (Bureau of Things) | REQUEST REQUEST 1 {uid_only}")), "{got}");
        assert!(
            w.store
                .outbox(&admin, 50)
                .await
                .unwrap()
                .iter()
                .all(|m| m.sent_at.is_some())
        );

        // Cancelling sends METHOD:CANCEL with the same UID.
        let r = post(
            &app,
            &staff,
            &format!("{e}/workshops"),
            &[
                ("version", &w.version().await),
                ("action", "cancel"),
                ("id", "1"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let cancelled = parse_ics(
            &send(
                &app,
                &staff,
                Method::GET,
                &format!("{e}/workshops/1.ics"),
                &[],
            )
            .await
            .body,
        );
        assert!(
            cancelled.contains("METHOD CANCEL")
                && cancelled.contains("STATUS CANCELLED")
                && cancelled.contains("SEQUENCE 2"),
            "{cancelled}"
        );
        let queued = w.store.outbox(&admin, 50).await.unwrap();
        assert_eq!(
            queued
                .iter()
                .filter(|m| m.subject.starts_with("Cancelled:"))
                .count(),
            2
        );
        assert!(
            queued.iter().any(|m| m.attachment_type.as_deref()
                == Some("text/calendar; method=CANCEL; charset=utf-8"))
        );
    }
}

/// Posts a multipart upload of `bytes` named `name`.
async fn upload(
    app: &Router,
    c: &Client,
    path: &str,
    version: &str,
    name: &str,
    bytes: &[u8],
) -> Reply {
    upload_titled(app, c, path, version, b"Business case", name, bytes).await
}

/// An upload whose title field is `title`, byte for byte.
async fn upload_titled(
    app: &Router,
    c: &Client,
    path: &str,
    version: &str,
    title: &[u8],
    name: &str,
    bytes: &[u8],
) -> Reply {
    let mut body = Vec::new();
    for (k, v) in [
        ("csrf", c.csrf.as_bytes()),
        ("version", version.as_bytes()),
        ("title", title),
    ] {
        body.extend(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n").as_bytes(),
        );
        body.extend(v);
        body.extend(b"\r\n");
    }
    body.extend(format!("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend(bytes);
    body.extend(b"\r\n--XyZ--\r\n");
    let req = Request::post(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::COOKIE, c.cookie.clone().unwrap_or_default())
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
        .body(Body::from(body))
        .unwrap();
    answer(app, req).await
}

#[tokio::test]
async fn uploads_are_checked_and_come_back_byte_for_byte() {
    for store in stores("uploads-web").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 32]).await;
        let member = w.client(&app, Who::Member).await;
        let other = w.client(&app, Who::OtherAgency).await;
        let path = format!("/engagements/{}/documents", w.engagement);
        // Bytes that are not what the name says, and types not accepted.
        let r = upload(
            &app,
            &member,
            &path,
            &w.version().await,
            "case.pdf",
            b"MZ\x90\x00 not a pdf",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("does not contain what its name says"),
            "{}",
            r.body
        );
        let r = upload(&app, &member, &path, &w.version().await, "tool.exe", b"MZ").await;
        assert!(r.body.contains("is not a type we accept"), "{}", r.body);
        // Over the limit: refused with the limit named, nothing kept.
        let big = vec![b'a'; waymark_store::MAX_FILE_BYTES + 10];
        let r = upload(&app, &member, &path, &w.version().await, "big.txt", &big).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("the limit is 20 MB"), "{}", r.body);
        // Past what the form may carry at all: the same limit, in our words.
        let bigger = vec![b'a'; waymark_store::MAX_FILE_BYTES + 128 * 1024];
        let r = upload(&app, &member, &path, &w.version().await, "big.txt", &bigger).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("a file of up to 20 MB"), "{}", r.body);
        assert!(!r.body.contains("length limit"), "in our words: {}", r.body);
        // A title that is not UTF-8 is refused, not kept with U+FFFD.
        let version = w.version().await;
        let r = upload_titled(&app, &member, &path, &version, b"caf\xe9", "a.txt", b"a").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("the form’s “title” is not UTF-8 text"),
            "{}",
            r.body
        );
        assert_eq!(w.version().await, version, "nothing was saved");
        // A real PDF, every byte value in it, back exactly.
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend((0..=255u8).cycle().take(300_000));
        let r = upload(
            &app,
            &member,
            &path,
            &w.version().await,
            "../../Business case.pdf",
            &pdf,
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let staff = w
            .store
            .actor(person(&w, "sam@dta.gov.au").await)
            .await
            .unwrap();
        let e = w.store.engagement(&staff, w.engagement).await.unwrap();
        assert_eq!(e.documents.len(), 1);
        assert_eq!(e.documents[0].name, "Business case.pdf", "no path survives");
        let got = send(
            &app,
            &member,
            Method::GET,
            &format!("/files/{}", e.documents[0].file),
            &[],
        )
        .await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.raw, pdf);
        assert_eq!(
            format!("{:x}", Sha256::digest(&got.raw)),
            e.documents[0].sha256
        );
        let denied = send(
            &app,
            &other,
            Method::GET,
            &format!("/files/{}", e.documents[0].file),
            &[],
        )
        .await;
        assert_eq!(denied.status, StatusCode::NOT_FOUND);
        // Delivery exports: CSV with formulas defused.
        let r = post(
            &app,
            &member,
            &format!("/engagements/{}/delivery", w.engagement),
            &[
                ("version", &w.version().await),
                ("artefact", "feature"),
                ("id", "new"),
                ("capability", "=HYPERLINK(\"http://evil\")"),
                ("status", "done"),
                ("sprint", ""),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let csv = send(
            &app,
            &member,
            Method::GET,
            &format!("/engagements/{}/delivery/features.csv", w.engagement),
            &[],
        )
        .await;
        assert!(csv.body.contains("'=HYPERLINK"), "{}", csv.body);
        let md = send(
            &app,
            &member,
            Method::GET,
            &format!("/engagements/{}/delivery/delivery.md", w.engagement),
            &[],
        )
        .await;
        assert!(
            md.body.contains("| =HYPERLINK(\"http://evil\") | Done |"),
            "{}",
            md.body
        );
    }
}

#[tokio::test]
async fn the_public_form_validates_traps_bots_and_limits_each_address() {
    for store in stores("request-support").await {
        let w = world(store).await;
        let app = router(&w.store, [127, 0, 0, 33]).await;
        let anyone = Client::default();
        let staff = w
            .store
            .actor(person(&w, "sam@dta.gov.au").await)
            .await
            .unwrap();
        let count = async || w.store.enquiries(&staff, None, 100).await.unwrap().len();

        let page = send(&app, &anyone, Method::GET, "/request-support", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        // Every problem at once, each linked to its field; what was typed stays.
        let r = send(
            &app,
            &anyone,
            Method::POST,
            "/request-support",
            &[("name", "Alex <b>"), ("email", "not-an-email")],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        for anchor in [
            "#agency",
            "#email",
            "#role",
            "#need",
            "#preference-with_you",
        ] {
            assert!(
                r.body.contains(&format!("href=\"{anchor}\"")),
                "{anchor}: {}",
                r.body
            );
        }
        assert!(r.body.contains("value=\"Alex &lt;b&gt;\""), "{}", r.body);
        assert_eq!(count().await, 0);
        // A line break in a one-line field (a header someone hopes to
        // smuggle into a mail) is refused beside its field.
        let r = send(
            &app,
            &anyone,
            Method::POST,
            "/request-support",
            &[
                ("agency", "Bureau\r\nSubject: pwned"),
                ("name", "Alex\r\nBcc: evil@x.example"),
                ("email", "alex@example.gov.au"),
                ("role", "CIO"),
                ("need", "Line one\r\nLine two"),
                ("preference", "with_you"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("href=\"#agency\"") && r.body.contains("href=\"#name\""),
            "{}",
            r.body
        );
        assert!(
            !r.body.contains("href=\"#need\""),
            "a paragraph keeps its lines: {}",
            r.body
        );
        assert!(r.body.contains("must be one line"), "{}", r.body);
        assert_eq!(count().await, 0);

        // The honeypot: a bot is thanked and nothing is kept.
        let good = [
            ("agency", "Bureau of Examples"),
            ("name", "Alex"),
            ("email", "alex@example.gov.au"),
            ("role", "CIO"),
            ("need", "A secure desktop"),
            ("preference", "unsure"),
        ];
        let mut bot = good.to_vec();
        bot.push(("website", "http://spam.example"));
        let r = send(&app, &anyone, Method::POST, "/request-support", &bot).await;
        assert_eq!(
            (r.status, r.location.as_str()),
            (StatusCode::SEE_OTHER, "/request-support/sent")
        );
        assert_eq!(count().await, 0);

        // Five real requests an hour from one address; the sixth waits.
        for n in 1..=5 {
            let r = send(&app, &anyone, Method::POST, "/request-support", &good).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "request {n}: {}", r.body);
        }
        let r = send(&app, &anyone, Method::POST, "/request-support", &good).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.retry_after.as_deref(), Some("3600"));
        assert_eq!(count().await, 5);
        // Another address is not affected.
        let elsewhere = router(&w.store, [127, 0, 0, 34]).await;
        let r = send(&elsewhere, &anyone, Method::POST, "/request-support", &good).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        // Each sender is thanked by email.
        let admin = w
            .store
            .actor(person(&w, "ada@dta.gov.au").await)
            .await
            .unwrap();
        let mail = w.store.outbox(&admin, 50).await.unwrap();
        assert_eq!(
            mail.iter()
                .filter(|m| m.kind == "enquiry_acknowledgement")
                .count(),
            6
        );
    }
}
