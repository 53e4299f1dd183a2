//! Text that people type, bounded by its type.
//!
//! Every free-text field of every command is a [`Line`] (one line: a name,
//! a title, a reason) or a [`Text`] (several lines: an agenda, notes, a
//! guide), each with its limit in characters in the type. A field cannot be
//! declared without a limit, and the core reads a field only through
//! [`Line::check`] or [`Line::required`], which trim it, enforce the limit and
//! refuse control characters, so nothing typed can break out of the format
//! it is later written into (an iCalendar parameter, a mail header, a CSV
//! cell). A [`Text`] keeps line breaks and tabs, with CR LF and lone CR made
//! LF; a [`Line`] keeps neither.
//!
//! The values deserialise from any string: what arrives is only input until
//! the core has checked it, and states saved before a limit existed must
//! still load. The limits reach API clients as `maxLength` in the OpenAPI
//! document.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Characters that end a line or steer the terminal: refused in a [`Line`].
fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Invisible characters that change what a reader sees without being seen:
/// bidirectional overrides and isolates (which can make text read backwards,
/// "Trojan Source"), zero-width spaces and the byte-order mark. Zero-width
/// joiners, which some scripts and emoji need, stay allowed.
pub(crate) fn hides(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

fn over(field: &'static str, max: usize, n: usize) -> DomainError {
    DomainError::invalid(
        field,
        format!("is too long: at most {max} characters, and this has {n}"),
    )
}

fn invisible(field: &'static str) -> DomainError {
    DomainError::invalid(
        field,
        "contains an invisible character (a direction override, zero-width space or byte-order mark); retype it without one",
    )
}

/// What [`Line::check`] does, for a field whose limit is not a type (a form
/// that is not a command): trimmed, at most `max` characters, one line.
pub fn check_line(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    clean_line(field, raw, max)
}

/// What [`Text::check`] does, for a field whose limit is not a type.
pub fn check_text(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    clean_text(field, raw, max)
}

/// Text from outside (a mail header) made one clean line: every control or
/// invisible character becomes a space, and runs of spaces one. For input
/// that must be kept rather than refused.
pub fn one_line(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || breaks_a_line(c) || hides(c))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text from outside (a mail body) made clean: CR LF and CR become LF, and
/// every other control or invisible character is dropped.
pub fn clean_lines(raw: &str) -> String {
    raw.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !(breaks_a_line(c) || hides(c)))
        .collect()
}

fn clean_line(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let t = raw.trim();
    // Count before looking further: a 2 MB value is refused for its size.
    let n = t.chars().count();
    if n > max {
        return Err(over(field, max, n));
    }
    if t.chars().any(breaks_a_line) {
        return Err(DomainError::invalid(
            field,
            "must be one line, without line breaks, tabs or other control characters",
        ));
    }
    if t.chars().any(hides) {
        return Err(invisible(field));
    }
    Ok(t.to_string())
}

fn clean_text(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let unified = if raw.contains('\r') {
        raw.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        raw.to_string()
    };
    let t = unified.trim();
    let n = t.chars().count();
    if n > max {
        return Err(over(field, max, n));
    }
    if t.chars()
        .any(|c| c != '\n' && c != '\t' && breaks_a_line(c))
    {
        return Err(DomainError::invalid(
            field,
            "contains a control character; only line breaks and tabs are allowed",
        ));
    }
    if t.chars().any(hides) {
        return Err(invisible(field));
    }
    Ok(t.to_string())
}

macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident, $clean:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name<const MAX: usize>(String);

        impl<const MAX: usize> $name<MAX> {
            /// The limit, in characters.
            pub const MAX: usize = MAX;

            /// The value trimmed and checked; it may be empty.
            pub fn check(&self, field: &'static str) -> Result<Self, DomainError> {
                $clean(field, &self.0, MAX).map($name)
            }

            /// The value trimmed and checked, and not empty.
            pub fn required(&self, field: &'static str) -> Result<Self, DomainError> {
                let v = self.check(field)?;
                if v.0.is_empty() {
                    return Err(DomainError::invalid(field, "is required"));
                }
                Ok(v)
            }

            /// `None` for a missing or blank value; otherwise checked.
            pub fn optional(
                value: &Option<Self>,
                field: &'static str,
            ) -> Result<Option<Self>, DomainError> {
                match value {
                    None => Ok(None),
                    Some(v) => {
                        let v = v.check(field)?;
                        Ok((!v.0.is_empty()).then_some(v))
                    }
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl<const MAX: usize> Deref for $name<MAX> {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl<const MAX: usize> fmt::Display for $name<MAX> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Debug shows the length for long values, never 2 MB of text.
        impl<const MAX: usize> fmt::Debug for $name<MAX> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.0.len() > 200 {
                    write!(f, "{}({} bytes)", stringify!($name), self.0.len())
                } else {
                    fmt::Debug::fmt(&self.0, f)
                }
            }
        }

        impl<const MAX: usize> From<String> for $name<MAX> {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl<const MAX: usize> From<&str> for $name<MAX> {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl<const MAX: usize> PartialEq<str> for $name<MAX> {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl<const MAX: usize> PartialEq<&str> for $name<MAX> {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        #[cfg(feature = "openapi")]
        impl<const MAX: usize> utoipa::PartialSchema for $name<MAX> {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .max_length(Some(MAX))
                    .description(Some(format!($what, MAX)))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl<const MAX: usize> utoipa::ToSchema for $name<MAX> {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Owned(format!("{}{}", stringify!($name), MAX))
            }
        }
    };
}

bounded!(
    /// One line of text, at most `MAX` characters once trimmed, with no
    /// line breaks or other control characters.
    Line,
    clean_line,
    "One line of text: at most {} characters, no line breaks or control characters."
);

bounded!(
    /// Text of several lines, at most `MAX` characters once trimmed; line
    /// breaks and tabs only among the control characters.
    Text,
    clean_text,
    "Text of one or more lines: at most {} characters; line breaks and tabs are the only control characters allowed."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(r: Result<impl fmt::Debug, DomainError>) -> String {
        match r {
            Err(DomainError::Invalid { field, message }) => format!("{field}: {message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lines_are_trimmed_bounded_and_single() {
        assert_eq!(Line::<5>::from("  abc ").required("name").unwrap(), "abc");
        assert_eq!(
            field_error(Line::<5>::from("abcdef").check("name")),
            "name: is too long: at most 5 characters, and this has 6"
        );
        // Characters, not bytes: five accented letters fit in five.
        assert!(Line::<5>::from("ééééé").check("name").is_ok());
        for bad in [
            "a\rb",
            "a\nb",
            "a\tb",
            "a\u{0}b",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{1b}[31m",
        ] {
            assert!(
                field_error(Line::<50>::from(bad).check("name")).contains("one line"),
                "{bad:?}"
            );
        }
        assert_eq!(
            field_error(Line::<5>::from("   ").required("name")),
            "name: is required"
        );
        assert_eq!(Line::<5>::optional(&Some("  ".into()), "x").unwrap(), None);
        for hidden in [
            "evil\u{202E}fdp.exe",
            "a\u{200B}b",
            "\u{FEFF}x",
            "a\u{2066}b",
        ] {
            assert!(
                field_error(Line::<50>::from(hidden).check("name")).contains("invisible"),
                "{hidden:?}"
            );
            assert!(field_error(Text::<50>::from(hidden).check("notes")).contains("invisible"));
        }
        // Joiners stay: some scripts and emoji need them.
        assert!(
            Line::<50>::from("\u{1F469}\u{200D}\u{1F4BB}")
                .check("name")
                .is_ok()
        );
    }

    #[test]
    fn texts_keep_lines_and_tabs_only() {
        let t = Text::<50>::from("one\r\ntwo\rthree\n\tfour ")
            .check("notes")
            .unwrap();
        assert_eq!(t, "one\ntwo\nthree\n\tfour");
        assert!(field_error(Text::<50>::from("a\u{7}b").check("notes")).contains("control"));
        assert!(field_error(Text::<3>::from("abcd").check("notes")).contains("at most 3"));
    }

    #[test]
    fn outside_text_is_made_clean_not_refused() {
        assert_eq!(
            one_line(" Jo\r\nBcc: evil@x.com\u{202E}\t "),
            "Jo Bcc: evil@x.com"
        );
        assert_eq!(clean_lines("a\r\nb\u{7}\rc\u{200B}"), "a\nb\nc");
    }

    #[test]
    fn long_values_do_not_flood_debug_output() {
        let big = Line::<10>::from("x".repeat(2_000_000));
        assert_eq!(format!("{big:?}"), "Line(2000000 bytes)");
    }
}
