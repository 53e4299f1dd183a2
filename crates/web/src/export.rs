//! Delivery artefacts as CSV (for spreadsheets) and markdown (for
//! documents). CSV cells that a spreadsheet would run as a formula are
//! prefixed with an apostrophe (OWASP's advice on CSV injection).

use waymark_core::Delivery;

/// A cell a spreadsheet will show as text, never run. A plain negative
/// number (`-12.5`) runs nothing and stays a number.
pub fn cell(text: &str) -> String {
    let plain_number = text.strip_prefix('-').is_some_and(|rest| {
        let (int, frac) = rest.split_once('.').unwrap_or((rest, "0"));
        !int.is_empty()
            && !frac.is_empty()
            && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    });
    if plain_number {
        return text.to_string();
    }
    match text.chars().next() {
        // A pipe starts the old DDE form (`|calc`) in some spreadsheets.
        Some('=' | '+' | '-' | '@' | '|' | '\t' | '\r' | '\n') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn csv(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r.iter().map(|c| cell(c)))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// A table with its header row, as a page shows it beside its chart.
pub fn table_csv(header: &[String], rows: Vec<Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    csv(&header, rows)
}

/// A survey's results: each question's counts, each free-text answer with
/// how many gave it, and how many left the question empty.
pub fn survey_csv(r: &waymark_core::survey::Results) -> Result<Vec<u8>, csv::Error> {
    csv(
        &["question", "text", "answer", "count"],
        waymark_core::survey::rows(r)
            .into_iter()
            .map(Vec::from)
            .collect(),
    )
}

/// The benefits register: a row for each benefit's baseline, each reading
/// (corrections too, in the order recorded) and its target, with the
/// benefit's status on `today`. Values are plain decimals, with the unit in
/// its own column, so a spreadsheet can sum them.
pub fn benefits_csv(e: &waymark_core::Engagement, today: &str) -> Result<Vec<u8>, csv::Error> {
    let mut rows = Vec::new();
    for (i, b) in e.benefits.iter().enumerate() {
        let status = waymark_core::benefit::assess(b, today).status.label();
        let row = |kind: &str, date: &str, value: String, note: &str, recorded: String| {
            vec![
                (i + 1).to_string(),
                b.text.clone(),
                b.plan.unit.clone().unwrap_or_default(),
                status.to_string(),
                kind.to_string(),
                date.to_string(),
                value,
                note.to_string(),
                recorded,
            ]
        };
        if let Some(p) = &b.plan.baseline {
            rows.push(row(
                "baseline",
                &p.date,
                p.value.to_string(),
                "",
                String::new(),
            ));
        }
        for r in &b.readings {
            let at = chrono::DateTime::from_timestamp(r.at.0, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            rows.push(row(
                "reading",
                &r.date,
                r.value.to_string(),
                r.note.as_deref().unwrap_or(""),
                at,
            ));
        }
        if let Some(p) = &b.plan.target {
            rows.push(row(
                "target",
                &p.date,
                p.value.to_string(),
                "",
                String::new(),
            ));
        }
        if b.plan.baseline.is_none() && b.readings.is_empty() && b.plan.target.is_none() {
            rows.push(row("", "", String::new(), "", String::new()));
        }
    }
    csv(
        &[
            "benefit",
            "text",
            "unit",
            "status",
            "kind",
            "date",
            "value",
            "note",
            "recorded_at",
        ],
        rows,
    )
}

pub fn sprints_csv(d: &Delivery) -> Result<Vec<u8>, csv::Error> {
    csv(
        &["id", "name", "starts", "ends", "goal"],
        d.sprints
            .iter()
            .map(|s| {
                vec![
                    s.id.to_string(),
                    s.name.clone(),
                    s.starts.clone(),
                    s.ends.clone(),
                    s.goal.clone(),
                ]
            })
            .collect(),
    )
}

fn sprint_name(d: &Delivery, id: Option<u32>) -> String {
    id.and_then(|n| d.sprints.iter().find(|s| s.id == n))
        .map_or(String::new(), |s| s.name.clone())
}

pub fn features_csv(d: &Delivery) -> Result<Vec<u8>, csv::Error> {
    csv(
        &["id", "capability", "status", "sprint"],
        d.features
            .iter()
            .map(|f| {
                vec![
                    f.id.to_string(),
                    f.capability.clone(),
                    f.status.label().to_string(),
                    sprint_name(d, f.sprint),
                ]
            })
            .collect(),
    )
}

pub fn stories_csv(d: &Delivery) -> Result<Vec<u8>, csv::Error> {
    csv(
        &[
            "id",
            "as a",
            "i want",
            "so that",
            "acceptance criteria",
            "status",
        ],
        d.stories
            .iter()
            .map(|s| {
                vec![
                    s.id.to_string(),
                    s.as_a.clone(),
                    s.i_want.clone(),
                    s.so_that.clone(),
                    s.acceptance.clone(),
                    s.status.label().to_string(),
                ]
            })
            .collect(),
    )
}

/// Markdown table cells: no line breaks, pipes escaped.
fn md(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Every artefact in one markdown document.
pub fn markdown(agency: &str, d: &Delivery) -> String {
    let mut out = format!("# Delivery: {}\n\n## Execution plan\n\n", md(agency));
    out.push_str(d.execution_plan.as_deref().unwrap_or("Not written yet."));
    out.push_str("\n\n## Sprint plan\n\n| Sprint | Starts | Ends | Goal |\n|---|---|---|---|\n");
    for s in &d.sprints {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            md(&s.name),
            s.starts,
            s.ends,
            md(&s.goal)
        ));
    }
    out.push_str("\n## Feature log\n\n| Capability | Status | Sprint |\n|---|---|---|\n");
    for f in &d.features {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            md(&f.capability),
            f.status.label(),
            md(&sprint_name(d, f.sprint))
        ));
    }
    out.push_str("\n## User stories\n");
    for s in &d.stories {
        out.push_str(&format!(
            "\n### Story {}: {}\n\nAs {}, I want {}, so that {}.\n\nAcceptance criteria: {}\n\nStatus: {}\n",
            s.id, md(&s.i_want), md(&s.as_a), md(&s.i_want), md(&s.so_that), md(&s.acceptance), s.status.label()
        ));
    }
    out.push_str("\n## User guides\n");
    for g in &d.guides {
        out.push_str(&format!("\n### {}\n\n{}\n", md(&g.title), g.markdown));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::{Feature, WorkStatus};

    #[test]
    fn formulas_become_text() {
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "|calc",
        ] {
            assert!(cell(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(cell("Teams"), "Teams");
        assert_eq!(cell("-12.5"), "-12.5");
        for bad in ["-1.", "-.5", "-1e5", "-1-1"] {
            assert!(cell(bad).starts_with('\''), "{bad}");
        }
        let d = Delivery {
            features: vec![Feature {
                id: 1,
                capability: "=cmd|' /C calc'!A0".into(),
                status: WorkStatus::Done,
                sprint: None,
            }],
            ..Delivery::default()
        };
        let text = String::from_utf8(features_csv(&d).unwrap()).unwrap();
        assert!(text.contains("1,'=cmd|' /C calc'!A0,Done"), "{text}");
    }
}
