//! Letters typeset as tagged PDF.
//!
//! Owns: turning a letter's markdown (what the programme's template renders)
//! into typst markup, and typst into PDF/UA-1 bytes, with the fonts built
//! into the binary. Nothing is read from disk or the network at run time.
//!
//! Must not touch: engagements, templates, storage. It is its own crate so
//! that typst (large) is compiled once and everyday builds of the rest stay
//! fast.

use std::sync::OnceLock;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, Source};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// What a letter needs besides its body.
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    /// The document title (PDF metadata, and what screen readers announce).
    pub title: &'a str,
    /// Who the letter is from (PDF metadata).
    pub author: &'a str,
    /// The body, in CommonMark.
    pub markdown: &'a str,
    /// The letter's date: (year, month, day). Also the PDF's timestamp, so
    /// the same letter always gives the same bytes.
    pub date: (i32, u8, u8),
    /// A stable identifier for the PDF (for example "loi-12-v3").
    pub ident: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("the letter's date {0:?} is not a real date")]
    Date((i32, u8, u8)),
    #[error("the letter could not be typeset: {0}")]
    Typeset(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// Typesets `letter` as a tagged PDF (PDF/UA-1).
pub fn typeset(letter: &Letter<'_>) -> Result<Vec<u8>, LetterError> {
    let pdf = compile(letter);
    // typst memoises its work in a cache of its own (comemo) that nothing
    // empties: a long letter kept about 45 MB for the life of the server.
    // Work no letter has used in the last few is dropped; what every letter
    // repeats (the document's settings, common words) stays warm.
    typst::comemo::evict(KEPT_LETTERS);
    pdf
}

/// How many letters' memoised work typst keeps (see `typeset`).
const KEPT_LETTERS: usize = 4;

fn compile(letter: &Letter<'_>) -> Result<Vec<u8>, LetterError> {
    let (y, m, d) = letter.date;
    let date = Datetime::from_ymd(y, m, d).ok_or(LetterError::Date(letter.date))?;
    let world = LetterWorld {
        source: Source::detached(document(letter)),
        date,
    };
    let document: PagedDocument = typst::compile(&world)
        .output
        .map_err(|e| LetterError::Typeset(messages(&e)))?;
    let standards = PdfStandards::new(&[PdfStandard::Ua_1])
        .map_err(|e| LetterError::Pdf(e.message().to_string()))?;
    let stamp = Datetime::from_ymd_hms(y, m, d, 0, 0, 0).ok_or(LetterError::Date(letter.date))?;
    let options = PdfOptions {
        ident: Smart::Custom(letter.ident.to_string()),
        timestamp: Some(Timestamp::new_utc(stamp)),
        standards,
        tagged: true,
        ..PdfOptions::default()
    };
    typst_pdf::pdf(&document, &options).map_err(|e| LetterError::Pdf(messages(&e)))
}

fn messages(diags: &[SourceDiagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The whole typst document: settings, then the body.
fn document(letter: &Letter<'_>) -> String {
    format!(
        "#set document(title: {title}, author: {author})\n\
         #set page(paper: \"a4\", margin: (x: 2.5cm, y: 2.5cm), numbering: \"1 of 1\")\n\
         #set text(font: \"Libertinus Serif\", size: 11pt, lang: \"en\", region: \"au\")\n\
         #set par(justify: false, spacing: 1.1em)\n\
         #show heading: set block(above: 1.4em, below: 0.8em)\n\
         #show link: underline\n\
         {body}\n",
        title = string(letter.title),
        author = string(letter.author),
        body = to_typst(letter.markdown),
    )
}

/// Whether some embedded font draws `c`. A character none of them has
/// (most Chinese, Japanese and Korean text; emoji) would stop a tagged PDF
/// being written at all, so the letter spells it out instead.
fn drawn(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || fonts()
            .1
            .iter()
            .any(|f| f.info().coverage.contains(c as u32))
}

/// A typst string literal holding `text`: exactly, except that a character
/// no embedded font draws is written as its code point (`[U+65E5]`), so
/// what a person typed can never stop a letter from being issued.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            c if !drawn(c) => out.push_str(&format!("[U+{:04X}]", c as u32)),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Translates CommonMark into typst code. Text only ever becomes a string
/// literal (`#"…"`), so nothing a template or a person typed can run as
/// typst; the structure (headings, lists, emphasis, links) becomes calls.
pub fn to_typst(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() * 2);
    let mut code_block: Option<String> = None;
    let mut link_ok: Vec<bool> = Vec::new();
    // Adjacent pieces of text (the parser splits at escapes and brackets)
    // become one literal.
    let mut pending = String::new();
    for event in Parser::new(markdown) {
        match &event {
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) if code_block.is_none() => {
                pending.push_str(t);
                continue;
            }
            Event::SoftBreak => {
                pending.push(' ');
                continue;
            }
            _ if !pending.is_empty() => {
                out.push('#');
                out.push_str(&string(&pending));
                pending.clear();
            }
            _ => {}
        }
        if let Some(code) = code_block.as_mut() {
            match event {
                Event::Text(t) => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    out.push_str(&format!("#raw(block: true, {})\n", string(code)));
                    code_block = None;
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => {}
                Tag::Heading { level, .. } => {
                    let n = match level {
                        HeadingLevel::H1 => 1,
                        HeadingLevel::H2 => 2,
                        HeadingLevel::H3 => 3,
                        HeadingLevel::H4 => 4,
                        HeadingLevel::H5 => 5,
                        HeadingLevel::H6 => 6,
                    };
                    out.push_str(&format!("#heading(level: {n})["));
                }
                Tag::BlockQuote(_) => out.push_str("#quote(block: true)["),
                Tag::CodeBlock(_) => code_block = Some(String::new()),
                Tag::List(None) => out.push_str("#list("),
                Tag::List(Some(start)) => out.push_str(&format!("#enum(start: {start}, ")),
                Tag::Item => out.push('['),
                Tag::Emphasis => out.push_str("#emph["),
                Tag::Strong => out.push_str("#strong["),
                Tag::Strikethrough => out.push_str("#strike["),
                Tag::Link { dest_url, .. } => {
                    let safe = ["https://", "http://", "mailto:"]
                        .iter()
                        .any(|p| dest_url.starts_with(p));
                    if safe {
                        out.push_str(&format!("#link({})[", string(&dest_url)));
                    }
                    link_ok.push(safe);
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => out.push_str("#parbreak()\n"),
                TagEnd::Heading(_) | TagEnd::BlockQuote(_) => out.push_str("]\n"),
                TagEnd::List(_) => out.push_str(")\n"),
                TagEnd::Item => out.push_str("], "),
                TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => out.push(']'),
                TagEnd::Link if link_ok.pop().unwrap_or(false) => out.push(']'),
                _ => {}
            },
            Event::Code(t) => out.push_str(&format!("#raw({})", string(&t))),
            Event::HardBreak => out.push_str("#linebreak()"),
            Event::Rule => out.push_str("#line(length: 100%)\n"),
            _ => {}
        }
    }
    if !pending.is_empty() {
        out.push('#');
        out.push_str(&string(&pending));
    }
    out
}

fn fonts() -> &'static (LazyHash<FontBook>, Vec<Font>) {
    static FONTS: OnceLock<(LazyHash<FontBook>, Vec<Font>)> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
    })
}

fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::default()))
}

/// A world of one source file, the embedded fonts and a fixed date: no files
/// and no packages, so typesetting never touches the disk or the network.
struct LetterWorld {
    source: Source,
    date: Datetime,
}

impl World for LetterWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().0
    }

    fn main(&self) -> FileId {
        self.source.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.source.id() {
            Ok(self.source.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, _id: FileId) -> FileResult<Bytes> {
        Err(FileError::AccessDenied)
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts().1.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        Some(self.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(markdown: &str) -> Letter<'_> {
        Letter {
            title: "Letter of Intent",
            author: "Protected Utility programme",
            markdown,
            date: (2026, 11, 24),
            ident: "test-1",
        }
    }

    #[test]
    fn text_cannot_become_typst_code() {
        let code = to_typst("#set page(width: 1cm) ] [ $x$ @ref <l> \"q\"");
        assert_eq!(
            code,
            "#\"#set page(width: 1cm) ] [ $x$ @ref <l> \\\"q\\\"\"#parbreak()\n"
        );
        let pdf = typeset(&letter("#import \"/etc/passwd\": x\n\n]] #panic()")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn structure_becomes_calls() {
        let code = to_typst(
            "# Title\n\n- one\n- **two**\n\n1. a\n\n[x](https://a.gov.au) [y](javascript:x)",
        );
        assert!(code.contains("#heading(level: 1)[#\"Title\"]"), "{code}");
        assert!(
            code.contains("#list([#\"one\"], [#strong[#\"two\"]], )"),
            "{code}"
        );
        assert!(code.contains("#enum(start: 1, [#\"a\"], )"), "{code}");
        assert!(
            code.contains("#link(\"https://a.gov.au\")[#\"x\"]"),
            "{code}"
        );
        assert!(!code.contains("javascript"), "{code}");
    }

    #[test]
    fn same_letter_same_bytes() {
        let a = typeset(&letter("# Hello\n\nDear *Sponsor*,")).unwrap();
        let b = typeset(&letter("# Hello\n\nDear *Sponsor*,")).unwrap();
        assert_eq!(a, b);
        let c = typeset(&letter("# Hello\n\nDear *Sponsor*.")).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn characters_no_font_draws_are_spelled_out_not_fatal() {
        assert!(drawn('é') && drawn('Ł') && drawn('µ') && drawn(' '));
        assert!(!drawn('日') && !drawn('😀'));
        assert_eq!(string("日 µ"), "\"[U+65E5] µ\"");
        let pdf = typeset(&letter("Benefit: less 日本語 work 😀 (µs)")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn bad_date_is_an_error() {
        let mut l = letter("x");
        l.date = (2026, 2, 30);
        assert!(matches!(typeset(&l), Err(LetterError::Date(_))));
    }
}
