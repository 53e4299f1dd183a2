//! Letters from an engagement: the programme's template (minijinja, writing
//! markdown) filled with the core's facts (`waymark_core::letter`), and the
//! two outputs, sanitised HTML and a tagged PDF (waymark-letter). The fields
//! are listed in docs/letters.md; a template that uses anything else is
//! refused when saved.

use waymark_core::letter::{Facts, ymd};
use waymark_core::{LetterKind, Timestamp};

/// The programme's own default templates.
pub fn default_template(kind: LetterKind) -> &'static str {
    match kind {
        LetterKind::LetterOfIntent => include_str!("../templates/letters/letter-of-intent.md"),
        LetterKind::ClosureLetter => include_str!("../templates/letters/closure-letter.md"),
    }
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // The template is markdown the programme writes; the facts are text
    // people typed (a workshop title, a sponsor's name). Each fact is
    // escaped as markdown, so it reads as the words it is and never becomes
    // a link, an image, emphasis or a heading.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if !value.is_safe() => out
            .write_str(&markdown_text(text))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write")),
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.set_fuel(Some(200_000));
    env
}

/// `text` as markdown that renders as exactly that text: inline markers
/// are backslash-escaped everywhere, and block markers where a line starts.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start();
        out.push_str(&line[..line.len() - body.len()]);
        // A list, heading, quote or rule marker at the start of a line.
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        let marker = if body.starts_with(['-', '+', '=']) {
            0
        } else if digits > 0 && body[digits..].starts_with(['.', ')']) {
            digits
        } else {
            usize::MAX
        };
        for (j, c) in body.char_indices() {
            if j == marker
                || matches!(
                    c,
                    '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&' | '!'
                )
            {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// What is wrong with a letter template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the template has {chars} characters; the limit is {MAX_TEMPLATE}")]
    TooLong { chars: usize },
    #[error("the template writes nothing; a letter needs words")]
    Empty,
    #[error("the template has an error: {0}")]
    Syntax(#[source] minijinja::Error),
    #[error("the template could not be filled in: {0}")]
    Fill(#[source] minijinja::Error),
    #[error(
        "the letter would be {chars} characters long; the limit is {MAX_LETTER} (about 60 pages)"
    )]
    Overlong { chars: usize },
    #[error("{0}")]
    Typeset(waymark_letter::LetterError),
}

/// Renders `template` with `facts` into markdown, or says what is wrong.
pub fn render(template: &str, facts: &Facts) -> Result<String, TemplateError> {
    let env = environment();
    let t = env
        .template_from_str(template)
        .map_err(TemplateError::Syntax)?;
    let written = t
        .render(minijinja::value::Serde(facts))
        .map_err(TemplateError::Fill)?;
    let chars = written.chars().count();
    if chars > MAX_LETTER {
        return Err(TemplateError::Overlong { chars });
    }
    Ok(written)
}

/// Checks a template by rendering it against a complete example, so a
/// broken template (bad syntax, an unknown field) is refused when saved,
/// not when a letter is due.
pub fn check(template: &str) -> Result<String, TemplateError> {
    let chars = template.chars().count();
    if chars > MAX_TEMPLATE {
        return Err(TemplateError::TooLong { chars });
    }
    let written = render(template, &waymark_core::letter::sample())?;
    if written.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    Ok(written)
}

/// Checks a template as `check` does, then typesets its example letter, so
/// a template whose letters cannot be typeset (markdown nested deeper than
/// typst allows, a word too long for a line) is refused when saved, not
/// at every issue. Typesetting runs on a blocking thread, a few at once
/// (`crate::heavy`).
pub async fn check_typeset(kind: LetterKind, template: &str) -> Result<String, TemplateError> {
    let written = check(template)?;
    let md = written.clone();
    let today = waymark_store::now();
    crate::heavy::TYPESETTING
        .run(move || pdf(kind, &md, "template-check", today))
        .await
        .map_err(|e| TemplateError::Typeset(waymark_letter::LetterError::Typeset(e.to_string())))?
        .map_err(TemplateError::Typeset)?;
    Ok(written)
}

/// The longest template the programme may save, in characters (the built-in
/// ones are under 3,000).
pub const MAX_TEMPLATE: usize = 50_000;

/// The longest letter a template may write, in characters: a loop can
/// write far more than the template holds, and typesetting takes time in
/// proportion (about 13 ms a thousand characters in the release build,
/// where typst is not optimised: docs/benchmarks.md).
pub const MAX_LETTER: usize = 200_000;

/// Markdown to HTML, sanitised: a template or a typed rationale cannot add
/// script, styles or event handlers.
pub fn html(markdown: &str) -> String {
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, pulldown_cmark::Parser::new(markdown));
    clean(&raw)
}

/// HTML made from markdown, sanitised: no script, styles, event handlers
/// or `javascript:` addresses; links open without a referrer.
pub fn clean(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(html)
        .to_string()
}

/// The PDF for a letter (CPU-heavy: call from a blocking task).
pub fn pdf(
    kind: LetterKind,
    markdown: &str,
    ident: &str,
    today: Timestamp,
) -> Result<Vec<u8>, waymark_letter::LetterError> {
    waymark_letter::typeset(&waymark_letter::Letter {
        title: kind.title(),
        author: "Protected Utility programme, Digital Transformation Agency",
        markdown,
        date: ymd(today),
        ident,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::letter::sample;

    #[test]
    fn the_default_templates_use_only_documented_fields() {
        for kind in LetterKind::ALL {
            let text = check(default_template(kind)).unwrap();
            assert!(text.contains("Bureau of Examples"), "{kind:?}: {text}");
        }
    }

    #[test]
    fn a_broken_template_is_refused_with_a_reason() {
        assert!(
            check("{{ agency.nmae }}")
                .unwrap_err()
                .to_string()
                .contains("could not be filled in")
        );
        assert!(
            check("{% if %}")
                .unwrap_err()
                .to_string()
                .contains("has an error")
        );
        // Endless work is stopped rather than hanging the server.
        let err = check(
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        );
        assert!(err.is_err());
        // Nor may a loop write a letter longer than can be typeset in time.
        let err = check("{% for a in range(15000) %}{{ agency.name }} {% endfor %}");
        assert!(
            matches!(err, Err(TemplateError::Overlong { chars }) if chars > MAX_LETTER),
            "{err:?}"
        );
        assert!(check("{% for a in range(3000) %}{{ agency.name }} {% endfor %}").is_ok());
        // A template that writes nothing would issue blank letters.
        for blank in ["", "  \n", "{% if false %}x{% endif %}"] {
            assert!(
                matches!(check(blank), Err(TemplateError::Empty)),
                "{blank:?}"
            );
        }
    }

    /// What typst cannot typeset is refused when the template is saved
    /// (before, each issue answered 500): nesting deeper than typst allows,
    /// and a word longer than any line.
    #[tokio::test]
    async fn a_template_whose_letters_cannot_be_typeset_is_refused() {
        let kind = LetterKind::LetterOfIntent;
        let deep = format!("{}x {{{{ agency.name }}}}", "> ".repeat(20));
        let long = "{% for a in range(12000) %}abcdefghij{% endfor %} {{ agency.name }}";
        for template in [deep.as_str(), long] {
            let err = check_typeset(kind, template).await;
            assert!(matches!(err, Err(TemplateError::Typeset(_))), "{err:?}");
            assert!(check(template).is_ok(), "the markdown itself is fine");
        }
        let ok = check_typeset(kind, default_template(kind)).await;
        assert!(ok.unwrap().contains("Bureau of Examples"));
    }

    #[test]
    fn facts_read_as_text_not_markdown() {
        let mut facts = sample();
        facts.agency.name =
            "[click](javascript:alert(1)) **bold** <img src=x> # not a heading\n- not a list\n2. nor this".into();
        let md = render("Dear {{ agency.name }}, we met.", &facts).unwrap();
        let out = html(&md);
        assert!(
            !out.contains("<a") && !out.contains("<strong") && !out.contains("<img"),
            "{out}"
        );
        assert!(
            !out.contains("<li") && !out.contains("<h1") && !out.contains("<ol"),
            "{out}"
        );
        assert!(
            out.contains("[click](javascript:alert(1)) **bold** &lt;img src=x&gt; # not a heading"),
            "{out}"
        );
        assert!(out.contains("- not a list"), "{out}");
        // Numbers and the template's own markdown are left alone.
        let md = render("**{{ version }}** {{ agency.abbreviation }}", &sample()).unwrap();
        assert_eq!(md, "**1** BOE");
    }

    #[test]
    fn letter_html_is_sanitised() {
        let out = html(
            "Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        );
        assert!(
            !out.contains("<script") && !out.contains("javascript:") && !out.contains("onerror"),
            "{out}"
        );
    }
}
