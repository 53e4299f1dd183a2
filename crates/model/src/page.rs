//! Reading one Jekyll-style page: the front matter between `---` lines, parsed
//! as YAML, and the markdown body after it.
//!
//! This layer only splits and deserialises; it does not interpret titles or
//! sections (see `classify` and `model`). It keeps the line of every timeline
//! item and body so that later findings can point at `file:line`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

/// A page as written, before any interpretation.
#[derive(Debug, Clone, Default)]
pub struct RawPage {
    pub layout: Option<String>,
    pub title: Option<String>,
    /// Keys other than `layout`, `title` and `timeline`, kept as they are.
    pub extra: BTreeMap<String, serde_json::Value>,
    pub timeline: Vec<RawItem>,
    /// The markdown after the closing front-matter line.
    pub body: String,
    /// 1-based line of the first body line in the file.
    pub body_line: u32,
}

/// One `timeline` entry as written.
#[derive(Debug, Clone, Default)]
pub struct RawItem {
    /// 1-based line of the entry (its `- ` line).
    pub line: u32,
    pub title: Option<String>,
    pub body: Option<String>,
    /// 1-based line where the body text starts.
    pub body_line: u32,
    /// What the item offers readers to do (`action: request-support`).
    pub action: Option<String>,
    /// For which agency types the step matters (`tailoring:`), as written.
    pub tailoring: Option<serde_json::Value>,
}

/// Why a file is not a usable page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("this file has no front matter: a page must start with a line `---`")]
    NoFrontMatter,
    #[error("the front matter that starts on line {opened} is never closed with a `---` line")]
    Unclosed { opened: u32 },
    #[error("the front matter is not valid YAML: {message}")]
    Yaml {
        line: u32,
        column: u32,
        message: String,
    },
    /// Front matter past the limits that keep hostile input cheap.
    #[error("the front matter is larger than a page's may be: {message}")]
    Limit {
        line: u32,
        column: u32,
        message: String,
    },
    /// Sound YAML with a value that is not what a page holds there (a list
    /// for a title, say): said in the author's terms.
    #[error("{message}")]
    Shape {
        line: u32,
        column: u32,
        message: String,
    },
}

impl PageError {
    /// 1-based line and column the error points at.
    pub fn position(&self) -> (u32, u32) {
        match self {
            PageError::NoFrontMatter => (1, 1),
            PageError::Unclosed { opened } => (*opened, 1),
            PageError::Yaml { line, column, .. }
            | PageError::Shape { line, column, .. }
            | PageError::Limit { line, column, .. } => (*line, *column),
        }
    }
}

fn is_fence(line: &str, marks: &[&str]) -> bool {
    let t = line.trim_end_matches([' ', '\t', '\r', '\n']);
    marks.contains(&t)
}

/// Splits and parses one page.
pub fn parse_page(source: &str) -> Result<RawPage, PageError> {
    let src = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut lines = src.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if !is_fence(first, &["---"]) {
        return Err(PageError::NoFrontMatter);
    }
    let yaml_start = first.len();
    let mut offset = yaml_start;
    let mut line_no: u32 = 1;
    let mut close = None;
    for line in lines {
        line_no += 1;
        if is_fence(line, &["---", "..."]) {
            close = Some((offset, offset + line.len(), line_no));
            break;
        }
        offset += line.len();
    }
    let Some((yaml_end, body_start, close_line)) = close else {
        return Err(PageError::Unclosed { opened: 1 });
    };
    let yaml = &src[yaml_start..yaml_end];
    let fm = parse_front_matter(yaml)?;
    Ok(RawPage {
        layout: fm.layout,
        title: fm.title,
        extra: fm.extra,
        timeline: fm.timeline,
        body: src[body_start..].to_string(),
        body_line: close_line + 1,
    })
}

/// Front matter lines start on file line 2, so YAML line `n` is file line `n + 1`.
const YAML_LINE_OFFSET: u32 = 1;

fn parse_front_matter(yaml: &str) -> Result<FrontMatter, PageError> {
    if yaml.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    // Front matter is a few kilobytes; these caps stop hostile input (alias
    // bombs, deep nesting) long before memory or stack suffer.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_depth = 32;
    budget.max_nodes = 100_000;
    budget.max_total_scalar_bytes = 16 * 1024 * 1024;
    let options = || {
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget.clone());
        options
    };
    serde_saphyr::from_str_with_options::<FrontMatter>(yaml, options()).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((0, 0));
        let (line, column) = (line.max(1) + YAML_LINE_OFFSET, column.max(1));
        let limit = |err: &serde_saphyr::Error| match err.without_snippet() {
            serde_saphyr::Error::Budget { breach, .. } => Some(PageError::Limit {
                line,
                column,
                message: limit_breached(breach),
            }),
            _ => None,
        };
        if let Some(limit) = limit(&e) {
            return limit;
        }
        // Only on failure: is the YAML sound, with a value of the wrong kind
        // (or past a limit once read as it is)?
        match serde_saphyr::from_str_with_options::<serde_json::Value>(yaml, options()) {
            Ok(v) => {
                if let Some(message) = shape_problem(&v) {
                    return PageError::Shape {
                        line,
                        column,
                        message,
                    };
                }
            }
            Err(g) => {
                if let Some(limit) = limit(&g) {
                    return limit;
                }
            }
        }
        let message = UserMessageFormatter
            .format_message(e.without_snippet())
            .replace(['\n', '\r'], " ");
        PageError::Yaml {
            line,
            column,
            message,
        }
    })
}

/// Which of the limits set in [`parse_front_matter`] a page went past, in
/// words (the parser's own message names its Rust types).
fn limit_breached(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Depth { .. } => "it nests lists and mappings more than 32 deep".into(),
        B::Nodes { .. } => "it holds more than 100,000 values".into(),
        B::Events { .. } => "it holds more than 200,000 parts".into(),
        B::Aliases { .. } => "it uses more than 1,000 aliases (`*name`)".into(),
        B::Anchors { .. } => "it names more than 1,000 anchors (`&name`)".into(),
        B::ScalarBytes { .. } => "its values hold more than 16 MB of text".into(),
        B::AliasAnchorRatio { .. } => {
            "it repeats anchored values (`*name`) far more often than a page needs".into()
        }
        _ => "a page's front matter is a few kilobytes of `key: value` lines".into(),
    }
}

/// What is wrong with front matter that is sound YAML but not a page's
/// shape, in the author's terms; `None` when nothing we know of is.
fn shape_problem(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Array(_) => "a list",
            Value::Object(_) => "a set of `key: value` lines",
            _ => "a single value",
        }
    }
    let text = |v: &Value| !(v.is_array() || v.is_object());
    let Value::Object(keys) = v else {
        return Some(format!(
            "the front matter must be `key: value` lines (`title: …`), not {}",
            kind(v)
        ));
    };
    for key in ["layout", "title"] {
        if let Some(v) = keys.get(key).filter(|v| !text(v)) {
            return Some(format!("`{key}` must be text, not {}", kind(v)));
        }
    }
    let items = match keys.get("timeline") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Some(format!(
                "`timeline` must be a list of items, each starting `- title:`, not {}",
                kind(other)
            ));
        }
    };
    for (n, item) in items.iter().enumerate().map(|(i, item)| (i + 1, item)) {
        match item {
            Value::Null => {}
            Value::Object(fields) => {
                for key in ["title", "body", "action"] {
                    if let Some(v) = fields.get(key).filter(|v| !text(v)) {
                        let hint = if key == "body" {
                            " (write `body: |` and the text indented on the lines below)"
                        } else {
                            ""
                        };
                        return Some(format!(
                            "timeline item {n}'s `{key}` must be text{hint}, not {}",
                            kind(v)
                        ));
                    }
                }
            }
            other => {
                return Some(format!(
                    "timeline item {n} must be `title:` and `body:` lines, not {}",
                    kind(other)
                ));
            }
        }
    }
    None
}

#[derive(Debug, Default)]
struct FrontMatter {
    layout: Option<String>,
    title: Option<String>,
    extra: BTreeMap<String, serde_json::Value>,
    timeline: Vec<RawItem>,
}

#[derive(Deserialize)]
struct ItemDe {
    title: Option<String>,
    body: Option<Spanned<String>>,
    action: Option<String>,
    tailoring: Option<serde_json::Value>,
}

/// A single pass over the top-level mapping: the keys we interpret are read
/// with their positions, every other key is kept as a JSON value.
impl<'de> Deserialize<'de> for FrontMatter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FrontMatter;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of keys such as `layout`, `title` and `timeline`")
            }
            fn visit_unit<E: de::Error>(self) -> Result<FrontMatter, E> {
                Ok(FrontMatter::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FrontMatter, A::Error> {
                let mut fm = FrontMatter::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "layout" => fm.layout = map.next_value()?,
                        "title" => fm.title = map.next_value()?,
                        "timeline" => {
                            let items: Option<Vec<Spanned<Option<ItemDe>>>> = map.next_value()?;
                            fm.timeline = items
                                .unwrap_or_default()
                                .into_iter()
                                .map(|s| {
                                    let line = s.referenced.line() as u32 + YAML_LINE_OFFSET;
                                    let item = s.value.unwrap_or(ItemDe {
                                        title: None,
                                        body: None,
                                        action: None,
                                        tailoring: None,
                                    });
                                    RawItem {
                                        line,
                                        body_line: item.body.as_ref().map_or(line, |b| {
                                            b.referenced.line() as u32 + YAML_LINE_OFFSET
                                        }),
                                        title: item.title,
                                        body: item.body.map(|b| b.value),
                                        action: item.action,
                                        tailoring: item.tailoring,
                                    }
                                })
                                .collect();
                        }
                        _ => {
                            let value: serde_json::Value = map.next_value()?;
                            fm.extra.insert(key, value);
                        }
                    }
                }
                Ok(fm)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_front_matter_with_trailing_whitespace_and_dots() {
        let p = parse_page("--- \ntitle: A \n... \nBody\n").unwrap();
        assert_eq!(p.title.as_deref(), Some("A"));
        assert_eq!(p.body, "Body\n");
        assert_eq!(p.body_line, 4);
    }

    #[test]
    fn keeps_unknown_keys() {
        let p =
            parse_page("---\ntitle: A\nlast_modified_at: 2024-01-02\ntags: [a, b]\n---\n").unwrap();
        assert_eq!(p.extra["last_modified_at"], serde_json::json!("2024-01-02"));
        assert_eq!(p.extra["tags"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn reports_missing_and_unclosed_front_matter() {
        assert_eq!(
            parse_page("# Title\n").unwrap_err(),
            PageError::NoFrontMatter
        );
        assert_eq!(parse_page("").unwrap_err(), PageError::NoFrontMatter);
        assert_eq!(
            parse_page("---\ntitle: x\n").unwrap_err(),
            PageError::Unclosed { opened: 1 }
        );
    }

    #[test]
    fn yaml_errors_point_at_the_file_line() {
        let err = parse_page("---\ntitle: ok\ntimeline: [unclosed\n---\n").unwrap_err();
        let PageError::Yaml { line, .. } = err else {
            panic!("expected a YAML error, got {err:?}");
        };
        assert!(line >= 3, "line {line}");
    }

    #[test]
    fn timeline_items_know_their_lines() {
        let p = parse_page(
            "---\ntimeline:\n- title: Step 1 - A\n  body: | \n    one\n- title: B\n---\n",
        )
        .unwrap();
        assert_eq!(p.timeline.len(), 2);
        assert_eq!(p.timeline[0].line, 3);
        assert_eq!(p.timeline[0].body_line, 5);
        assert_eq!(p.timeline[0].body.as_deref(), Some("one\n"));
        assert_eq!(p.timeline[1].line, 6);
        assert_eq!(p.timeline[1].body, None);
    }

    #[test]
    fn empty_front_matter_is_a_page() {
        let p = parse_page("---\n---\nhello").unwrap();
        assert!(p.title.is_none());
        assert_eq!(p.body, "hello");
    }
}
