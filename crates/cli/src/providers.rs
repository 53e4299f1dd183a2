//! `--sign-in-providers FILE`: the OpenID providers people may sign in
//! with, read from a TOML file of `[[provider]]` tables. Each table holds
//! `waymark_core::oidc::Provider`'s fields and `client_secret_file` (a path,
//! relative to the file's folder when not absolute); the secret is read at
//! once, so a missing or empty one stops `serve` and `config check` with
//! its path. The rules a table must keep are `Provider::problems`.
//!
//! ```toml
//! [[provider]]
//! name = "abs"
//! label = "your ABS account"
//! issuer = "https://login.microsoftonline.com/TENANT-ID/v2.0"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! client_secret_file = "abs-client-secret"
//! create_accounts = true
//! trust_email = true
//! agencies = { "abs.gov.au" = "ABS" }
//! domains = ["dta.gov.au"]
//! ```

use std::path::Path;

use anyhow::{Context, bail};
use waymark_core::oidc::Provider;
use waymark_web::oidc::Configured;

/// The most a providers file may hold.
const FILE_MAX: u64 = 256 * 1024;

/// `--sign-in-providers`, read.
#[derive(Debug, Clone)]
pub struct Providers(pub Vec<Configured>);

/// Reads and checks the providers file at `raw`.
pub fn parse(raw: &str) -> Result<Providers, String> {
    read(Path::new(raw))
        .map_err(|e| crate::said(&e))
        .map(Providers)
}

fn read(path: &Path) -> anyhow::Result<Vec<Configured>> {
    let text = crate::config::read_small(path, FILE_MAX)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
    let entries = match table.remove("provider") {
        Some(toml::Value::Array(a)) => a,
        Some(_) => bail!(
            "{}: provider must be a list of [[provider]] tables",
            path.display()
        ),
        None => Vec::new(),
    };
    if let Some(key) = table.keys().next() {
        bail!(
            "{}: unknown key {key:?} (the file holds [[provider]] tables)",
            path.display()
        );
    }
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<Configured> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let n = i + 1;
        let toml::Value::Table(mut entry) = entry else {
            bail!("{}: provider {n} is not a table", path.display());
        };
        let secret_path = match entry.remove("client_secret_file") {
            Some(toml::Value::String(s)) => folder.join(s),
            _ => bail!(
                "{}: provider {n} needs client_secret_file, the path of a file holding its client secret",
                path.display()
            ),
        };
        let rules: Provider = entry
            .try_into()
            .with_context(|| format!("{}: provider {n}", path.display()))?;
        let problems = rules.problems();
        if !problems.is_empty() {
            bail!("{}: provider {n}: {}", path.display(), problems.join("; "));
        }
        if out.iter().any(|c| c.rules.name == rules.name) {
            bail!(
                "{}: two providers are named {:?}",
                path.display(),
                rules.name
            );
        }
        let secret = crate::config::read_secret(
            &secret_path,
            &format!("the client secret of provider {:?}", rules.name),
        )?;
        out.push(Configured { rules, secret });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("waymark-providers-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const GOOD: &str = r#"
[[provider]]
name = "abs"
label = "your ABS account"
issuer = "https://login.example.com/t/v2.0"
client_id = "waymark"
client_secret_file = "secret"
create_accounts = true
agencies = { "abs.gov.au" = "ABS" }
"#;

    #[test]
    fn a_good_file_is_read_with_its_secret_beside_it() {
        let dir = folder("good");
        write(&dir, "secret", "s3cret\n");
        let p = write(&dir, "providers.toml", GOOD);
        let got = parse(p.to_str().unwrap()).unwrap().0;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].secret, "s3cret");
        assert_eq!(got[0].rules.agencies["abs.gov.au"], "ABS");
    }

    #[test]
    fn each_mistake_is_named_with_the_file() {
        let dir = folder("mistakes");
        let cases = [
            (GOOD.to_string(), "cannot read"),
            (
                GOOD.replace("client_secret_file = \"secret\"\n", ""),
                "needs client_secret_file",
            ),
            (
                GOOD.replace("name = \"abs\"", "name = \"abs\"\ncolour = 1"),
                "unknown field",
            ),
            (GOOD.replace("https://login", "http://login"), "https"),
            (format!("{GOOD}{GOOD}"), "two providers"),
            ("title = 1".to_string(), "unknown key"),
            ("[[provider".to_string(), "not TOML"),
        ];
        for (text, says) in cases {
            let p = write(&dir, "providers.toml", &text);
            if says != "cannot read" {
                write(&dir, "secret", "s3cret");
            } else {
                let _ = std::fs::remove_file(dir.join("secret"));
            }
            let e = parse(p.to_str().unwrap()).unwrap_err();
            assert!(e.contains(says), "{says}: {e}");
            let names = if says == "cannot read" {
                "secret"
            } else {
                "providers.toml"
            };
            assert!(e.contains(names), "{e}");
        }
    }
}
