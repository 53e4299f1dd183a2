//! Small text utilities shared by the parser and the lint: whitespace
//! normalisation, slugs, and mapping byte offsets back to lines.
//!
//! Real pages carry no-break spaces, tabs, trailing blanks and a mix of dashes;
//! everything that compares or classifies text goes through [`normalize`] so
//! those differences never change meaning.

/// Whether `s` shows nothing: only whitespace and characters that take no
/// room (zero-width spaces and joiners, direction marks, soft hyphens, the
/// byte-order mark, Hangul fillers). A heading of these reads as empty.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{ad}'
                    | '\u{115f}'
                    | '\u{1160}'
                    | '\u{180e}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2060}'..='\u{2064}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{3164}'
                    | '\u{feff}'
                    | '\u{ffa0}'
            )
    })
}

/// Collapses every run of whitespace (including U+00A0 no-break spaces) into
/// one ASCII space, drops control characters (a NUL in a title would reach
/// the page's `<title>` and `<h1>`), and trims both ends.
pub fn normalize(s: &str) -> String {
    if is_normal(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        let start = out.len();
        if start > 0 {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
        if out.len() == start + usize::from(start > 0) {
            out.truncate(start);
        }
    }
    out
}

/// True when [`normalize`] would return `s` unchanged, checked on bytes. Most
/// text is plain ASCII with single spaces, and this runs on every item,
/// heading and link; anything unusual (tabs, newlines, non-ASCII that might be
/// a no-break space) takes the careful path.
fn is_normal(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let mut prev_space = false;
    for &c in b {
        match c {
            b' ' if prev_space => return false,
            b' ' => prev_space = true,
            // Whitespace, control characters, and non-ASCII that might be
            // a no-break space or a C1 control.
            0x00..=0x1f | 0x7f | 0x80.. => return false,
            _ => prev_space = false,
        }
    }
    true
}

/// A URL-safe identifier: lowercase ASCII letters and digits joined by single
/// hyphens. "Adoption and Evaluation" becomes `adoption-and-evaluation`.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else if c != '\'' && c != '\u{2019}' {
            gap = true;
        }
    }
    out
}

/// Byte offsets of line starts, for turning an offset into a 1-based line and
/// column. Columns count characters, as editors do.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// 0-based line and 0-based byte offset within that line.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        (line, offset - self.starts[line])
    }

    /// How many lines the text has (a final line ending starts one more).
    pub fn count(&self) -> usize {
        self.starts.len()
    }

    /// The text of 0-based `line`, without its line ending.
    pub fn line<'a>(&self, text: &'a str, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line) else {
            return "";
        };
        let end = self.starts.get(line + 1).map_or(text.len(), |&e| e);
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// Number of characters in `s[..byte]`, clamped to a char boundary.
pub fn char_column(s: &str, byte: usize) -> usize {
    let mut b = byte.min(s.len());
    while !s.is_char_boundary(b) {
        b -= 1;
    }
    s[..b].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_nbsp_tabs_and_runs() {
        assert_eq!(normalize("  Step\u{a0}1 \t–  Title  "), "Step 1 – Title");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("plain words"), "plain words");
        assert_eq!(normalize("two  spaces"), "two spaces");
        // Control characters are dropped, never shown.
        assert_eq!(normalize("\u{0}nul"), "nul");
        assert_eq!(normalize("a\u{7}b \u{1b}\u{85} c\u{7f}"), "ab c");
        assert_eq!(normalize("\u{0}"), "");
        assert_eq!(normalize(" lead"), "lead");
        assert_eq!(normalize("trail "), "trail");
        assert_eq!(normalize("line\nbreak"), "line break");
        assert_eq!(normalize("agency’s\u{a0}plan"), "agency’s plan");
        assert_eq!(normalize("agency’s plan"), "agency’s plan");
    }

    #[test]
    fn slugify_joins_words() {
        assert_eq!(
            slugify("Adoption and Evaluation"),
            "adoption-and-evaluation"
        );
        assert_eq!(slugify("  Do it Yourself? "), "do-it-yourself");
        assert_eq!(slugify("agency’s plan"), "agencys-plan");
        assert_eq!(slugify("---"), "");
    }

    #[test]
    fn line_index_locates_offsets() {
        let t = "ab\ncd\n\nef";
        let ix = LineIndex::new(t);
        assert_eq!(ix.locate(0), (0, 0));
        assert_eq!(ix.locate(4), (1, 1));
        assert_eq!(ix.locate(6), (2, 0));
        assert_eq!(ix.locate(8), (3, 1));
        assert_eq!(ix.line(t, 1), "cd");
        assert_eq!(ix.line(t, 9), "");
    }
}
