//! "Last modified" for each page: `last_modified_at` in the front matter,
//! else the file's last commit when the content is in a git repository, else
//! the file's modification time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use waymark_model::par::par_map;
use waymark_model::{Model, PageId};

/// A `YYYY-MM-DD` date per page, where one is known.
#[derive(Debug, Clone, Default)]
pub struct Dates(Vec<Option<String>>);

impl Dates {
    /// Fixed dates, for tests and for callers that know better.
    pub fn fixed(dates: Vec<Option<String>>) -> Self {
        Dates(dates)
    }

    pub fn get(&self, id: PageId) -> Option<&str> {
        self.0.get(id.0).and_then(|d| d.as_deref())
    }
}

/// Works out every page's date. Git is asked once per folder, not per file,
/// so this stays fast on thousands of pages.
pub fn last_modified(model: &Model) -> Dates {
    let dated =
        |p: &waymark_model::Page| p.extra.get("last_modified_at").and_then(front_matter_date);
    let mut git: HashMap<&Path, HashMap<PathBuf, String>> = HashMap::new();
    for p in model.pages.iter().filter(|p| dated(p).is_none()) {
        let dir = Path::new(&p.path).parent().unwrap_or(Path::new(""));
        git.entry(dir).or_insert_with(|| git_dates(dir));
    }
    // A file's own time is a system call a page: on all cores.
    let dates = par_map(&model.pages, |p| {
        if let Some(d) = dated(p) {
            return Some(d);
        }
        let path = Path::new(&p.path);
        let dir = path.parent().unwrap_or(Path::new(""));
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        git.get(dir)
            .and_then(|commits| commits.get(&name).cloned())
            .or_else(|| {
                std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(ymd)
            })
    });
    Dates(dates)
}

/// `2024-05-01`, `2024-05-01 10:00:00 +1000` or a YAML date: the day part.
fn front_matter_date(v: &serde_json::Value) -> Option<String> {
    let s = v.as_str()?;
    let day = s.get(..10)?;
    let b = day.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    ok.then(|| day.to_string())
}

/// The last commit date of each file in `dir`, from one `git log`.
fn git_dates(dir: &Path) -> HashMap<PathBuf, String> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "log",
            "--format=%x00%cs",
            "--name-only",
            "--relative",
            "--",
            ".",
        ])
        .output();
    let Ok(out) = out else { return HashMap::new() };
    if !out.status.success() {
        return HashMap::new();
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dates = HashMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix('\0') {
            current = d.to_string();
        } else if !line.is_empty() {
            // Newest commits come first: keep the first date seen.
            dates
                .entry(PathBuf::from(line))
                .or_insert_with(|| current.clone());
        }
    }
    dates
}

fn ymd(t: SystemTime) -> String {
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `2026-11-22` → "22 November 2026".
pub fn display(ymd: &str) -> String {
    let mut parts = ymd.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return ymd.to_string();
    };
    let month = m
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    match (month, d.parse::<u32>()) {
        (Some(month), Ok(d)) => format!("{d} {month} {y}"),
        _ => ymd.to_string(),
    }
}

/// Seconds since 1970 → (`2026-11-24T14:05:00Z`, "24 November 2026, 14:05 UTC").
pub fn datetime(secs: i64) -> (String, String) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let (hh, mm, ss) = (s / 3600, (s % 3600) / 60, s % 60);
    (
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
        format!(
            "{d} {} {y}, {hh:02}:{mm:02} UTC",
            MONTHS[(m as usize).saturating_sub(1) % 12]
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            datetime(1_763_800_000),
            (
                "2025-11-22T08:26:40Z".to_string(),
                "22 November 2025, 08:26 UTC".to_string()
            )
        );
        assert_eq!(datetime(0).1, "1 January 1970, 00:00 UTC");
    }

    #[test]
    fn days_to_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn front_matter_dates() {
        assert_eq!(
            front_matter_date(&"2024-05-01".into()).as_deref(),
            Some("2024-05-01")
        );
        assert_eq!(
            front_matter_date(&"2024-05-01 10:00:00 +1000".into()).as_deref(),
            Some("2024-05-01")
        );
        assert_eq!(front_matter_date(&"May 2024".into()), None);
        assert_eq!(display("2026-11-22"), "22 November 2026");
        assert_eq!(display("2026-13-22"), "2026-13-22");
    }
}
