//! One configuration for every command: a TOML file (`--config FILE` or
//! `WAYMARK_CONFIG`), then environment variables, then flags, each overriding
//! the one before.
//!
//! The file's keys are the names of the settings that have an environment
//! variable, without `WAYMARK_` and in lower case (`database_url`, `bind`), so
//! there is one list of settings: the command line's. A file value becomes the
//! setting's default, which is why environment and flags still win. Settings
//! that may hold a secret can instead name a file that holds it
//! (`database_url_file`, `WAYMARK_DATABASE_URL_FILE`), as container platforms
//! pass secrets.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};

/// Settings that may hold a password: they may come from a file of their own
/// and are masked whenever they are shown.
pub const SECRETS: &[&str] = &["database_url", "smtp_url"];

/// The one setting that is not a flag: the log levels, as an env filter.
pub const LOG: &str = "log";
const LOG_ENV: &str = "WAYMARK_LOG";
/// `info`, less PostgreSQL's notices that sqlx relays (such as every
/// command's "relation _sqlx_migrations already exists, skipping").
const DEFAULT_LOG: &str = "info,sqlx=warn";

/// Where a value that is not a flag or an environment variable came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file, at this line.
    File { line: usize },
    /// A file named by `<key>_file` on this line of the configuration file.
    FileSecret { line: usize, path: PathBuf },
    /// A file named by the environment variable `WAYMARK_<KEY>_FILE`.
    EnvSecret { var: String, path: PathBuf },
}

/// The settings below the environment and the flags: from the configuration
/// file and from `…_FILE` variables.
#[derive(Debug, Default)]
pub struct Layer {
    /// The configuration file, if one was given.
    pub path: Option<PathBuf>,
    /// Setting → its value and where it came from.
    pub values: BTreeMap<String, (String, Origin)>,
}

/// `--config FILE` or `--config=FILE` anywhere before `--`, else WAYMARK_CONFIG.
/// Read before clap parses, because the file changes what clap parses.
pub fn path_from(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(rest) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(rest));
        }
    }
    std::env::var_os("WAYMARK_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The environment variable that sets a setting.
fn env_name(key: &str) -> String {
    format!("WAYMARK_{}", key.to_ascii_uppercase())
}

/// Every argument that can be set by the environment, and so by the file
/// (the first, where several commands share an id).
fn settable(cmd: &Command) -> BTreeMap<String, Arg> {
    fn walk(cmd: &Command, out: &mut BTreeMap<String, Arg>) {
        for arg in cmd.get_arguments() {
            // The file cannot name another file.
            if arg.get_env().is_some() && arg.get_id() != "config" {
                out.entry(arg.get_id().to_string())
                    .or_insert_with(|| arg.clone());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(cmd, &mut out);
    out
}

/// The most a secret file or the configuration file may hold.
const SECRET_MAX: u64 = 64 * 1024;
const CONFIG_MAX: u64 = 1024 * 1024;

/// A small regular file's text: never a device, a pipe or a folder (which
/// could be endless or block), never more than `max` bytes.
pub fn read_small(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "it is larger than {max} bytes"
        )));
    }
    Ok(text)
}

/// A secret read from a file: the whole file, less one trailing newline.
pub fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let text = read_small(path, SECRET_MAX)
        .with_context(|| format!("{what}: cannot read {}", path.display()))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if text.is_empty() {
        bail!("{what}: {} is empty", path.display());
    }
    if text.contains(['\n', '\r']) {
        bail!("{what}: {} holds more than one line", path.display());
    }
    Ok(text.to_string())
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Layer {
    /// Reads the `…_FILE` variables and the configuration file, and checks
    /// every value as its flag would.
    pub fn load(cmd: &Command, path: Option<PathBuf>) -> anyhow::Result<Self> {
        let settable = settable(cmd);
        let mut layer = Layer {
            path: path.clone(),
            values: BTreeMap::new(),
        };
        // The environment's secret files come first: they outrank the file.
        for key in SECRETS {
            let var = format!("{}_FILE", env_name(key));
            let Some(file) = std::env::var_os(&var).filter(|v| !v.is_empty()) else {
                continue;
            };
            if std::env::var_os(env_name(key)).is_some() {
                bail!("both {} and {var} are set: keep one", env_name(key));
            }
            let file = PathBuf::from(file);
            let value = read_secret(&file, &var)?;
            let origin = Origin::EnvSecret { var, path: file };
            layer.values.insert(key.to_string(), (value, origin));
        }
        if let Some(path) = &path {
            layer.read_file(path, &settable)?;
        }
        // Every value is checked now, by the parser its flag uses, so that
        // a mistake names the file's line rather than surfacing later.
        for (key, (value, origin)) in &layer.values {
            let whence = layer.describe(origin);
            if key == LOG {
                tracing_subscriber::EnvFilter::try_new(value)
                    .with_context(|| format!("{whence}: `log` is not a valid log filter"))?;
                continue;
            }
            let arg = &settable[key];
            // The flag alone, given this value, parsed as clap would.
            let long = arg.get_long().unwrap_or(key);
            let probe = Command::new("waymark")
                .no_binary_name(true)
                .arg(arg.clone().global(false).required(false));
            let mut flag = OsString::from(format!("--{long}="));
            flag.push(value);
            if let Err(e) = probe.try_get_matches_from([flag]) {
                let message = clap_message(&e);
                let message = message.trim().trim_start_matches("error: ");
                let message = message.lines().next().unwrap_or_default();
                bail!("{whence}: {key}: {message}");
            }
        }
        Ok(layer)
    }

    fn read_file(&mut self, path: &Path, settable: &BTreeMap<String, Arg>) -> anyhow::Result<()> {
        let text = read_small(path, CONFIG_MAX)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        let table: BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> =
            toml::from_str(&text).map_err(|e| {
                let line = e.span().map(|s| line_of(&text, s.start));
                let message = e.message().to_string();
                match line {
                    Some(line) => anyhow::anyhow!("{} line {line}: {message}", path.display()),
                    None => anyhow::anyhow!("{}: {message}", path.display()),
                }
            })?;
        let known = || {
            let mut keys: Vec<String> = settable.keys().cloned().collect();
            keys.push(LOG.to_string());
            keys.extend(SECRETS.iter().map(|s| format!("{s}_file")));
            keys.sort();
            keys.join(", ")
        };
        for (key, value) in &table {
            let line = line_of(&text, key.span().start);
            let at = format!("{} line {line}", path.display());
            let name = key.get_ref().as_str();
            let text_value = match value.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items)
                    if matches!(
                        name,
                        "trusted_proxies" | "webhook_allow" | "community_domains"
                    ) =>
                {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            toml::Value::String(s) if !s.contains(',') => out.push(s.clone()),
                            _ => bail!("{at}: `{name}` must be a list of text without commas"),
                        }
                    }
                    out.join(",")
                }
                toml::Value::Table(_) => {
                    bail!("{at}: `{name}` is a table; settings are top-level keys")
                }
                toml::Value::Array(_) => bail!("{at}: `{name}` takes one value, not a list"),
                _ => bail!("{at}: `{name}` must be text, a whole number or a list"),
            };
            if let Some(base) = name.strip_suffix("_file").filter(|b| SECRETS.contains(b)) {
                if table.keys().any(|k| k.get_ref() == base) {
                    bail!("{at}: both `{base}` and `{name}` are set: keep one");
                }
                if self.values.contains_key(base) {
                    continue; // The environment's file outranks this one.
                }
                let file = PathBuf::from(&text_value);
                let secret = read_secret(&file, &at)?;
                let origin = Origin::FileSecret { line, path: file };
                self.values.insert(base.to_string(), (secret, origin));
            } else if name == LOG || settable.contains_key(name) {
                if self.values.contains_key(name) {
                    continue; // A secret from the environment's file.
                }
                self.values
                    .insert(name.to_string(), (text_value, Origin::File { line }));
            } else {
                bail!(
                    "{at}: unknown setting `{name}`. The settings are: {}",
                    known()
                );
            }
        }
        Ok(())
    }

    /// Says where a value came from, for messages and `config check`.
    pub fn describe(&self, origin: &Origin) -> String {
        let file = self
            .path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match origin {
            Origin::File { line } => format!("{file} line {line}"),
            Origin::FileSecret { line, path } => {
                format!("{} (named on {file} line {line})", path.display())
            }
            Origin::EnvSecret { var, path } => format!("{} (named by {var})", path.display()),
        }
    }

    /// The command with this layer's values as its defaults.
    pub fn apply(&self, cmd: Command) -> Command {
        let values = &self.values;
        fn set(cmd: Command, values: &BTreeMap<String, (String, Origin)>) -> Command {
            cmd.mut_args(|arg| {
                let secret = SECRETS.contains(&arg.get_id().as_str());
                match values.get(arg.get_id().as_str()) {
                    // A secret's value is never shown as a default in --help.
                    Some((value, _)) if arg.get_env().is_some() => {
                        arg.default_value(value.clone()).hide_default_value(secret)
                    }
                    _ => arg,
                }
            })
            .mut_subcommands(|sub| set(sub, values))
        }
        set(cmd, values)
    }

    /// The log filter: WAYMARK_LOG, else the file's `log`, else `info`.
    pub fn log_filter(&self) -> tracing_subscriber::EnvFilter {
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV) {
            return filter;
        }
        self.values
            .get(LOG)
            .and_then(|(v, _)| tracing_subscriber::EnvFilter::try_new(v).ok())
            .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_LOG))
    }
}

/// A setting's value as it may be shown: a secret's password is hidden
/// (`waymark_store::redact`, the one rule for every message).
pub fn mask(key: &str, value: &str) -> String {
    if SECRETS.contains(&key) {
        waymark_store::redact(value)
    } else {
        value.to_string()
    }
}

/// A clap error as it may be shown: a value it quotes is redacted (an
/// invalid database or SMTP URL may hold a password).
pub fn clap_message(e: &clap::Error) -> String {
    let mut text = e.to_string();
    if let Some(clap::error::ContextValue::String(value)) =
        e.get(clap::error::ContextKind::InvalidValue)
    {
        let shown = waymark_store::redact(value);
        if shown != *value {
            text = text.replace(value.as_str(), &shown);
        }
    }
    text
}

/// `waymark config check`: the effective settings of every command, with
/// where each came from and secrets masked. `globals` is the real parse (its
/// flags count); the rest are what `serve` would run with.
pub fn check(cmd: &Command, layer: &Layer, globals: &ArgMatches) -> anyhow::Result<String> {
    let serve = cmd
        .clone()
        .try_get_matches_from(["waymark", "serve"])
        .map_err(|e| {
            anyhow::anyhow!("{}", clap_message(&e).trim().trim_start_matches("error: "))
        })?;
    let serve = serve
        .subcommand_matches("serve")
        .context("no serve command")?;
    let raw = |id: &str| {
        serve
            .get_raw(id)
            .and_then(|mut v| v.next())
            .map(|v| v.to_owned())
    };
    if raw("metrics_bind").is_some() && raw("metrics_bind") == raw("bind") {
        bail!("metrics_bind and bind are the same address: give the metrics a port of their own");
    }
    let mut out = String::new();
    match &layer.path {
        Some(p) => writeln!(
            out,
            "# The settings in effect, from {} and above it the environment and flags.",
            p.display()
        )?,
        None => writeln!(
            out,
            "# The settings in effect (no configuration file: --config or WAYMARK_CONFIG names one)."
        )?,
    }
    let sections = [
        ("every command", cmd, globals),
        (
            "serve",
            cmd.find_subcommand("serve").context("no serve command")?,
            serve,
        ),
    ];
    let log = match (std::env::var(LOG_ENV), layer.values.get(LOG)) {
        (Ok(v), _) => format!("{}  # environment {LOG_ENV}", toml::Value::String(v)),
        (Err(_), Some((v, origin))) => {
            format!(
                "{}  # {}",
                toml::Value::String(v.clone()),
                layer.describe(origin)
            )
        }
        _ => format!(
            "{}  # built-in default",
            toml::Value::String(DEFAULT_LOG.into())
        ),
    };
    for (title, command, matches) in sections {
        writeln!(out, "\n# {title}")?;
        for arg in command.get_arguments().filter(|a| a.get_env().is_some()) {
            let id = arg.get_id().as_str();
            if title == "serve" && arg.is_global_set() {
                continue;
            }
            let source = match matches.value_source(id) {
                Some(ValueSource::CommandLine) => "a flag".to_string(),
                Some(ValueSource::EnvVariable) => format!("environment {}", env_name(id)),
                Some(ValueSource::DefaultValue) => match layer.values.get(id) {
                    Some((_, origin)) => layer.describe(origin),
                    None => "built-in default".to_string(),
                },
                _ => {
                    writeln!(out, "# {id} is not set")?;
                    continue;
                }
            };
            let raw: Vec<String> = matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let shown = toml::Value::String(mask(id, &raw.join(",")));
            writeln!(out, "{id} = {shown}  # {source}")?;
        }
        if title == "every command" {
            writeln!(out, "{LOG} = {log}")?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_url_is_masked_and_nothing_else_is_lost() {
        assert_eq!(
            mask(
                "database_url",
                "postgres://waymark:s3cret@db.internal/waymark"
            ),
            "postgres://waymark:***@db.internal/waymark"
        );
        assert_eq!(mask("smtp_url", "smtp://relay:25"), "smtp://relay:25");
        assert_eq!(mask("database_url", "host=db password=s3cret"), "***");
        assert_eq!(
            mask("database_url", "postgres://db/w?password=x"),
            "postgres://db/w?***"
        );
        assert_eq!(mask("bind", "127.0.0.1:80"), "127.0.0.1:80");
    }

    #[test]
    fn the_config_path_is_found_before_parsing() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            path_from(&args(&["waymark", "serve", "--config", "/etc/w.toml"])),
            Some(PathBuf::from("/etc/w.toml"))
        );
        assert_eq!(
            path_from(&args(&["waymark", "--config=/x.toml", "db", "migrate"])),
            Some(PathBuf::from("/x.toml"))
        );
    }

    #[test]
    fn a_line_is_counted_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
