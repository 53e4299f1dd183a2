//! Findings: what the loader and the lint say about pages, each pointing at a
//! `file:line:column` with a stable code that tools and tests can rely on.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Every finding's code. The string forms are stable: they appear in JSON
/// output and people may filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    NotUtf8,
    NoFrontMatter,
    FrontMatterUnclosed,
    YamlInvalid,
    FrontMatterShape,
    FrontMatterLimit,
    SlugConflict,
    TitleMissing,
    LinkEmpty,
    LinkUnknownPage,
    LinkNoScheme,
    LinkUnsafeScheme,
    ItemNoBody,
    DuplicateText,
    DuplicateItem,
    ItemMisplaced,
    SectionEmpty,
    HeadingEmpty,
    PageUntitled,
    MixedDashes,
    StepNumbering,
    DecisionNoOptions,
    DecisionSecondList,
    StageNoPage,
    TimeboxInvalid,
    MetByInvalid,
    ActionUnknown,
    ArticleInvalid,
    ArticleLink,
    TailoringInvalid,
    AssessmentInvalid,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotUtf8 => "not-utf8",
            Code::NoFrontMatter => "no-front-matter",
            Code::FrontMatterUnclosed => "front-matter-unclosed",
            Code::YamlInvalid => "yaml-invalid",
            Code::FrontMatterShape => "front-matter-shape",
            Code::FrontMatterLimit => "front-matter-limit",
            Code::SlugConflict => "slug-conflict",
            Code::TitleMissing => "title-missing",
            Code::LinkEmpty => "link-empty",
            Code::LinkUnknownPage => "link-unknown-page",
            Code::LinkNoScheme => "link-no-scheme",
            Code::LinkUnsafeScheme => "link-unsafe-scheme",
            Code::ItemNoBody => "item-no-body",
            Code::DuplicateText => "duplicate-text",
            Code::DuplicateItem => "duplicate-item",
            Code::ItemMisplaced => "item-misplaced",
            Code::SectionEmpty => "section-empty",
            Code::HeadingEmpty => "heading-empty",
            Code::PageUntitled => "page-untitled",
            Code::MixedDashes => "mixed-dashes",
            Code::StepNumbering => "step-numbering",
            Code::DecisionNoOptions => "decision-no-options",
            Code::DecisionSecondList => "decision-second-list",
            Code::StageNoPage => "stage-no-page",
            Code::TimeboxInvalid => "timebox-invalid",
            Code::MetByInvalid => "success-met-by-invalid",
            Code::ActionUnknown => "action-unknown",
            Code::ArticleInvalid => "article-invalid",
            Code::ArticleLink => "article-link",
            Code::TailoringInvalid => "tailoring-invalid",
            Code::AssessmentInvalid => "assessment-invalid",
        }
    }

    /// The severity each code always has.
    pub fn severity(self) -> Severity {
        use Code::*;
        match self {
            NotUtf8 | NoFrontMatter | FrontMatterUnclosed | YamlInvalid | FrontMatterShape
            | FrontMatterLimit | SlugConflict | TitleMissing | LinkEmpty | LinkNoScheme
            | LinkUnsafeScheme | ItemMisplaced | ArticleInvalid | TailoringInvalid
            | AssessmentInvalid => Severity::Error,
            LinkUnknownPage | ItemNoBody | DuplicateText | DuplicateItem | SectionEmpty
            | HeadingEmpty | PageUntitled | StepNumbering | DecisionNoOptions
            | DecisionSecondList | StageNoPage | TimeboxInvalid | MetByInvalid | ActionUnknown
            | ArticleLink => Severity::Warning,
            MixedDashes => Severity::Info,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub code: Code,
    pub message: String,
}

impl Finding {
    pub fn new(code: Code, path: &str, line: u32, column: u32, message: impl Into<String>) -> Self {
        Finding {
            path: path.to_string(),
            line,
            column,
            severity: code.severity(),
            code,
            message: message.into(),
        }
    }
}

/// Sorts findings by file, position and code, the order people read them in.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.code.as_str()).cmp(&(
            &b.path,
            b.line,
            b.column,
            b.code.as_str(),
        ))
    });
}

/// Renders one finding the way compilers do, with the offending line and a
/// caret under the column when the source is at hand.
pub fn render(f: &Finding, source: Option<&str>) -> String {
    let line_text = source.and_then(|s| {
        let s = s.strip_prefix('\u{feff}').unwrap_or(s);
        s.lines().nth((f.line as usize).checked_sub(1)?)
    });
    render_line(f, line_text)
}

/// A file's text with its lines indexed once, so each of many findings finds
/// its line without reading the file from the start.
#[derive(Debug)]
pub struct Source<'a> {
    text: &'a str,
    lines: crate::text::LineIndex,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Source {
            text,
            lines: crate::text::LineIndex::new(text),
        }
    }

    /// The text of 1-based `line`, if the file has it (as `str::lines`
    /// counts them: a final line ending does not start another).
    pub fn line(&self, line: u32) -> Option<&'a str> {
        let i = (line as usize).checked_sub(1)?;
        let count =
            self.lines.count() - usize::from(self.text.is_empty() || self.text.ends_with('\n'));
        (i < count).then(|| self.lines.line(self.text, i))
    }
}

/// [`render`], given the line the finding points at.
pub fn render_line(f: &Finding, line_text: Option<&str>) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{}[{}]: {}\n",
        f.severity,
        f.code.as_str(),
        visible(&f.message)
    );
    let Some(text) = line_text.map(visible) else {
        let _ = writeln!(out, "  --> {}:{}:{}", f.path, f.line, f.column);
        return out;
    };
    let num = f.line.to_string();
    let pad = " ".repeat(num.len());
    let (text, caret_at) = window(&text.trim_end().replace('\t', " "), f.column as usize);
    let _ = writeln!(out, "{pad}--> {}:{}:{}", f.path, f.line, f.column);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{num} | {text}");
    let _ = writeln!(out, "{pad} | {}^", " ".repeat(caret_at));
    out
}

/// Text from a page as a terminal may show it: control characters (an
/// escape sequence could recolour or rewrite the screen) and the bidirectional
/// overrides that can disguise text are written as `\u{…}` escapes; tabs
/// stay.
pub(crate) fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// At most [`WIDTH`] characters of a long line, around the column, with the
/// caret's offset in the shown text.
const WIDTH: usize = 100;
fn window(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    if chars.len() <= WIDTH {
        return (line.to_string(), at);
    }
    let start = at
        .saturating_sub(WIDTH / 3)
        .min(chars.len().saturating_sub(WIDTH));
    let end = (start + WIDTH).min(chars.len());
    let mut shown = String::new();
    let mut caret = at - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, caret)
}

/// "2 errors, 1 warning and 3 infos", or `None` when there is nothing.
pub fn summary(findings: &[Finding]) -> Option<String> {
    let mut t = Tally::default();
    findings.iter().for_each(|f| t.add(f));
    t.summary()
}

/// Findings counted by severity as they go past.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Tally {
    pub fn add(&mut self, f: &Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
    }

    /// "2 errors, 1 warning and 3 infos", or `None` when there is nothing.
    pub fn summary(&self) -> Option<String> {
        summarise(self.errors, self.warnings, self.infos)
    }
}

fn summarise(errors: usize, warnings: usize, infos: usize) -> Option<String> {
    let parts: Vec<String> = [(errors, "error"), (warnings, "warning"), (infos, "info")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}{}", if n == 1 { "" } else { "s" }))
        .collect();
    match parts.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_text_cannot_drive_the_terminal() {
        let f = Finding::new(
            Code::ItemNoBody,
            "a.md",
            1,
            1,
            "the item “\u{1b}[31mred\u{1b}[0m \u{202e}txt.exe” has no body",
        );
        let shown = render_line(&f, Some("- title: \u{1b}[2J\u{7}\tStep"));
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{202e}') && !shown.contains('\u{7}')
        );
        assert!(shown.contains("\\u{1b}[31mred") && shown.contains("\\u{202e}txt.exe"));
        // Ordinary text, tabs and non-English words are left alone.
        assert_eq!(visible("Étape 1\tdone"), "Étape 1\tdone");
    }
}
