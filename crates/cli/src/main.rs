//! The `waymark` binary: reads the settings (a TOML file, then the
//! environment, then flags: `config`), parses arguments and hands each command
//! to the libraries. Presentation (text, JSON, exit codes) lives in the
//! command modules; `serve` composes nothing itself (`waymark_web::Application`).
//!
//! Must not touch: rules, SQL or HTML; where logs go is chosen here only.

use std::io::Write;

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

mod config;
mod db_cmd;
mod intake_cmd;
mod model_cmd;
mod origin;
mod providers;
mod site_cmd;

// Parsing thousands of pages is allocation-heavy and runs on every core;
// mimalloc's per-thread heaps cut that cost (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where the database is when `--database-url` is not given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://waymark.db";

#[derive(Debug, Parser)]
#[command(
    name = "waymark",
    version,
    about = "Runs the Protected Utility engagement model"
)]
struct Cli {
    /// A TOML file of settings: each key is a setting's environment variable
    /// without WAYMARK_, in lower case (database_url, bind). The environment
    /// overrides the file, and flags override both.
    #[arg(long, global = true, env = "WAYMARK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// A directory of model pages to use instead of the bundled default model.
    #[arg(long, global = true, env = "WAYMARK_MODEL", value_name = "DIR", value_parser = existing_dir)]
    model: Option<PathBuf>,
    /// Where engagement records live: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "WAYMARK_DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        value_name = "URL",
        value_parser = database_url,
        hide_env_values = true
    )]
    database_url: String,
    /// Keep uploaded files and mail attachments in this directory instead of the database
    /// (every instance must share it; files already stored stay where they are).
    #[arg(long, global = true, env = "WAYMARK_FILES_DIR", value_name = "DIR")]
    files_dir: Option<PathBuf>,
    /// How log lines are written to standard error: `text` for people, `json`
    /// (one object a line, with the request's span) for a log collector.
    /// WAYMARK_LOG sets the levels, as an env filter: `info`, `debug`,
    /// `waymark_web=debug,info`.
    #[arg(long, global = true, env = "WAYMARK_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of `Serve`'s many settings costs nothing.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Read, check and show the engagement model.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Build the guidance site as static files.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Serve the workspace (/engagements), the guidance site (/guide/) and the JSON API (/api/v1).
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "WAYMARK_BIND")]
        bind: SocketAddr,
        /// A folder of templates that replace the built-in ones of the same name.
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Where people reach this server (for invite links); https://… also marks cookies Secure.
        #[arg(long, env = "WAYMARK_PUBLIC_URL", value_name = "URL", value_parser = public_url)]
        public_url: Option<String>,
        /// SMTP server for mail: smtp://host:25, smtp://user:pass@host:587?tls=required,
        /// smtps://user:pass@host. Without it, mail waits in the outbox (/outbox).
        #[arg(long, env = "WAYMARK_SMTP_URL", value_name = "URL", value_parser = smtp_url, hide_env_values = true)]
        smtp_url: Option<String>,
        /// The address mail comes from.
        #[arg(long, env = "WAYMARK_MAIL_FROM", value_name = "ADDRESS", default_value = waymark_web::app::PROGRAMME_MAILBOX, value_parser = mail_from)]
        mail_from: String,
        /// Serve /metrics (Prometheus text) on this address of its own, open to
        /// whoever reaches it: bind it where only the operator's network does.
        #[arg(long, env = "WAYMARK_METRICS_BIND", value_name = "ADDR")]
        metrics_bind: Option<SocketAddr>,
        /// Serve /metrics on the main address too, to requests that send this
        /// file's content as a bearer token.
        #[arg(long, env = "WAYMARK_METRICS_TOKEN_FILE", value_name = "FILE", value_parser = token_file)]
        metrics_token_file: Option<PathBuf>,
        /// /readyz says not ready when the oldest due message has waited longer
        /// than this many seconds (only when mail is sent).
        #[arg(long, env = "WAYMARK_OUTBOX_MAX_AGE", value_name = "SECONDS", default_value_t = waymark_web::application::DEFAULT_OUTBOX_MAX_AGE_SECS)]
        outbox_max_age: u64,
        /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish.
        #[arg(
            long,
            env = "WAYMARK_SHUTDOWN_GRACE",
            value_name = "SECONDS",
            default_value_t = 20
        )]
        shutdown_grace: u64,
        /// The load balancers in front of Waymark (addresses or CIDR blocks,
        /// comma-separated): only from them is X-Forwarded-For believed, so
        /// rate limits apply to each client rather than to the balancer.
        #[arg(long, env = "WAYMARK_TRUSTED_PROXIES", value_name = "LIST", default_value = "", value_parser = parse_trusted)]
        trusted_proxies: TrustedProxies,
        /// Networks webhooks may deliver to although they are not public
        /// (addresses or CIDR blocks, comma-separated), such as a receiver
        /// inside the agency network. Loopback, private and link-local
        /// addresses are refused otherwise.
        #[arg(long, env = "WAYMARK_WEBHOOK_ALLOW", value_name = "LIST", default_value = "", value_parser = parse_webhook_allow)]
        webhook_allow: TrustedProxies,
        /// Who may register for the community: addresses at these domains
        /// and their subdomains (comma-separated).
        #[arg(long, env = "WAYMARK_COMMUNITY_DOMAINS", value_name = "LIST", default_value = waymark_core::community::DEFAULT_DOMAINS, value_parser = parse_domains)]
        community_domains: Domains,
        /// A TOML file of the OpenID providers (Microsoft Entra ID, say) people
        /// may sign in with beside passwords: each [[provider]] with its
        /// issuer, client id, client_secret_file, and the email domains it
        /// admits mapped to agencies. See docs/operations.md.
        #[arg(long, env = "WAYMARK_SIGN_IN_PROVIDERS", value_name = "FILE", value_parser = providers::parse)]
        sign_in_providers: Option<providers::Providers>,
        /// Read the programme's mailbox while serving: imaps://user@host/INBOX
        /// (TLS), or imap://user@host/INBOX (STARTTLS; ?tls=none for none, on
        /// this machine only). The password comes from WAYMARK_IMAP_PASSWORD
        /// or --imap-password-file, never from the command line.
        #[arg(long, env = "WAYMARK_IMAP_URL", value_name = "URL")]
        imap_url: Option<String>,
        /// A file holding the IMAP password (one line).
        #[arg(long, env = "WAYMARK_IMAP_PASSWORD_FILE", value_name = "FILE")]
        imap_password_file: Option<PathBuf>,
        /// The folder taken mail is moved to (created if missing).
        #[arg(
            long,
            env = "WAYMARK_IMAP_FOLDER",
            value_name = "NAME",
            default_value = "Waymark"
        )]
        imap_folder: String,
        /// Seconds between looks at the mailbox when the server has no IDLE.
        #[arg(long, env = "WAYMARK_IMAP_POLL", value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
        imap_poll: u64,
        /// Seconds an instance's hold on the mailbox lasts unrenewed: when it
        /// dies, another instance takes over after this long.
        #[arg(long, env = "WAYMARK_IMAP_LEASE", value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..=3600))]
        imap_lease: u64,
        /// A PEM file of certificates to trust for the IMAP server besides the
        /// built-in roots (a private CA).
        #[arg(long, env = "WAYMARK_IMAP_CA_FILE", value_name = "FILE")]
        imap_ca_file: Option<PathBuf>,
        /// Allow plain IMAP or STARTTLS to a server that is not on this machine.
        #[arg(long, env = "WAYMARK_IMAP_INSECURE")]
        imap_insecure: bool,
    },
    /// The configuration: check it and show the settings in effect.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Enquiries: import requests for support from mail.
    #[command(subcommand)]
    Intake(IntakeCommand),
    /// The database: bring its schema up to date.
    #[command(subcommand)]
    Db(DbCommand),
    /// The search index.
    #[command(subcommand)]
    Search(SearchCommand),
    /// Agencies.
    #[command(subcommand)]
    Agency(AgencyCommand),
    /// People and their roles.
    #[command(subcommand)]
    User(UserCommand),
    /// Engagements: start, list, show.
    #[command(subcommand)]
    Engagement(EngagementCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// A consistent copy of the database while it runs (SQLite file, or JSON for PostgreSQL).
    Backup { file: PathBuf },
    /// Every record as JSON (docs/export-format.md), to stdout or --out FILE.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load an export into an empty database (SQLite or PostgreSQL).
    Import { file: PathBuf },
    /// Tools for developers: synthetic content for benchmarks.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check the configuration file and the environment, and print every
    /// setting in effect with where it came from (passwords masked).
    Check,
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Check pages for broken links, copied text, stray items and more.
    Lint(LintArgs),
    /// Print the model: stages, steps, decisions, exits, roles and the rest.
    Show(ShowArgs),
    /// Compare two page sets: stages, steps, decision points and options
    /// added, removed, renamed, moved or changed.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The old page set: a directory or a page file, or `bundled` for the built-in model.
    old: PathBuf,
    /// The new page set, likewise.
    new: PathBuf,
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    format: ShowFormat,
}

#[derive(Debug, Args)]
struct LintArgs {
    /// Page files or directories of pages (default: --model, else the bundled model).
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    format: LintFormat,
    /// Also fail (exit 1) on warnings.
    #[arg(long, value_enum)]
    deny: Option<Deny>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LintFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Deny {
    Warnings,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// Page files or directories of pages (default: --model, else the bundled model).
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    format: ShowFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Write the whole site to a folder: it works from any web server and from file://.
    Build {
        /// Folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// A folder of templates that replace the built-in ones of the same name.
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Where the workspace is served (https://…): pages then link to its
        /// sign-in and request form.
        #[arg(long, value_name = "URL", value_parser = public_url)]
        public_url: Option<String>,
        /// Page files or directories of pages (default: --model, else the bundled model).
        paths: Vec<PathBuf>,
    },
}

/// A public URL: http or https, and nothing that could break out of an
/// attribute.
/// `--database-url`: one of the two kinds of database.
fn database_url(raw: &str) -> Result<String, String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|k| raw.starts_with(k)) {
        Ok(raw.to_string())
    } else {
        Err("give sqlite://FILE or postgres://USER@HOST/DATABASE".into())
    }
}

/// `--model`: a folder that is there.
fn existing_dir(raw: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(raw);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{raw} is not a folder of model pages"))
    }
}

/// `--smtp-url`: one lettre can send through.
fn smtp_url(raw: &str) -> Result<String, String> {
    waymark_web::mail::Sender::check(Some(raw), waymark_web::app::PROGRAMME_MAILBOX)
        .map(|()| raw.to_string())
        .map_err(|_| "give smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required or smtps://USER:PASS@HOST".into())
}

/// `--mail-from`: an address mail can come from.
fn mail_from(raw: &str) -> Result<String, String> {
    waymark_web::mail::Sender::check(None, raw)
        .map(|()| raw.to_string())
        .map_err(|_| "give an address such as protectedutility@agency.gov.au".into())
}

/// `--metrics-token-file`: a file holding a long enough token.
fn token_file(raw: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(raw);
    site_cmd::secret_file(&path, "metrics token").map_err(|e| said(&e))?;
    Ok(path)
}

fn public_url(raw: &str) -> Result<String, String> {
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c));
    if ok {
        Ok(raw.trim_end_matches('/').to_string())
    } else {
        Err("give the workspace's address, such as https://waymark.example.gov.au".into())
    }
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Create the database if needed and apply any new migrations.
    Migrate,
}

#[derive(Debug, Subcommand)]
enum SearchCommand {
    /// Rebuild the whole index: the records from the database, and the
    /// guide's pages from the model (--model, or the bundled one).
    Reindex,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AgencyTypeArg {
    Lean,
    Aligned,
    SelfDirected,
    Complex,
}

#[derive(Debug, Subcommand)]
enum AgencyCommand {
    /// Add an agency; prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// Short name, such as DTA (unique).
        #[arg(long)]
        abbreviation: String,
        #[arg(long)]
        portfolio: String,
        /// The agency's type, recorded as the programme's setting (the self-assessment replaces it).
        #[arg(long = "type", value_enum)]
        agency_type: Option<AgencyTypeArg>,
    },
}

#[derive(Debug, Subcommand)]
enum IntakeCommand {
    /// Turn mail into enquiries: .eml files, mbox files or Maildir folders.
    /// Messages already imported (same Message-ID) are skipped.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Thank each new sender by email (queued in the outbox). Off by
        /// default: an old mailbox would otherwise mail everyone in it.
        #[arg(long)]
        acknowledge: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a person (or give an existing one another role); prints their id.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: db_cmd::RoleArg,
        /// The agency, for --role member or sponsor.
        #[arg(long, value_name = "ABBREVIATION")]
        agency: Option<String>,
        /// Read their password from standard input (at least 12 characters). Without it, a new
        /// person gets a one-time link to set their own, printed on standard error.
        #[arg(long)]
        password_stdin: bool,
        /// Where people reach the server, for the link.
        #[arg(
            long,
            env = "WAYMARK_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080",
            value_parser = public_url
        )]
        public_url: String,
    },
}

#[derive(Debug, Subcommand)]
enum EngagementCommand {
    /// Start an engagement for an agency on the current model; prints its id.
    Start {
        /// The agency's abbreviation.
        #[arg(long)]
        agency: String,
        /// The person starting it (recorded in the audit trail).
        #[arg(long = "as", value_name = "EMAIL")]
        as_email: String,
        /// Start in Do it Yourself mode.
        #[arg(long)]
        diy: bool,
    },
    /// List engagements with their active stages, newest first.
    List {
        /// Only this agency's (its abbreviation).
        #[arg(long)]
        agency: Option<String>,
        /// How many to show (at most 500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        /// How many to pass over first.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Show one engagement, its warnings and its history, as JSON.
    Show { id: i64 },
    /// Run one command on an engagement; prints its summary afterwards.
    Run {
        id: i64,
        /// The person giving the command (their roles are checked; the audit trail records them).
        #[arg(long = "as", value_name = "EMAIL")]
        as_email: String,
        /// The version you last saw; a newer one is refused as a conflict (default: the current one).
        #[arg(long)]
        expected_version: Option<u64>,
        /// The command as JSON, as in the API: '{"command":"skip_step","stage":"discovery","step":2,"reason":"…"}'.
        command: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a personal access token for the API; prints it once.
    Create {
        email: String,
        /// What the token is for, to recognise it later.
        #[arg(long, default_value = "api")]
        name: String,
        /// The token may only read: every request that could change anything is refused.
        #[arg(long)]
        read_only: bool,
        /// The token stops working after this many days (1 to 366); without it, it has no end.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<String>,
    },
    /// List a person's tokens: id, scope, when each was made, ends and was last used, and its
    /// name (never the token).
    List { email: String },
    /// End one of a person's tokens at once, by the id `token list` shows.
    Revoke { email: String, id: String },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the audit chain; exits 1 and names the first bad event if anything was altered.
    Verify,
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Fill an empty database with deterministic engagement records (for benchmarks).
    Seed {
        #[arg(long, default_value_t = 2_000)]
        agencies: usize,
        #[arg(long, default_value_t = 10_000)]
        engagements: usize,
        /// Events in all, spread over the engagements.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Published knowledge articles of synthetic words (for the search benchmark).
        #[arg(long, default_value_t = 0)]
        articles: usize,
        /// Community questions (four in five in Blueprint), each with up to two answers.
        #[arg(long, default_value_t = 0)]
        questions: usize,
        /// Answers on the first question: a busy question page.
        #[arg(long, default_value_t = 200)]
        answers: usize,
        /// Answers to one public anonymous survey (the Protected Utility template), each kept
        /// by the store's own path (for the survey results benchmark).
        #[arg(long, default_value_t = 0)]
        survey_answers: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a deterministic synthetic set of pages (for benchmarks).
    Corpus {
        /// How many pages to write (in the staged shape, the overview included).
        #[arg(long)]
        pages: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// `staged`: an overview and five stages among ordinary pages.
        /// `flat`: no overview, every page has steps (so every page is a
        /// stage), 5 to 8 timeline items, 6 to 8 sections and many links to
        /// pages that are not in the set.
        #[arg(long, default_value = "staged", value_parser = ["staged", "flat"])]
        shape: String,
    },
    /// Write the manual pages (roff, for man(1)) into a folder: waymark.1
    /// and one for each command (waymark-serve.1, …); the Debian package
    /// ships them.
    ManPages { dir: PathBuf },
}

/// `--trusted-proxies`, read.
#[derive(Debug, Clone)]
struct TrustedProxies(Vec<ipnet::IpNet>);

fn parse_trusted(s: &str) -> Result<TrustedProxies, String> {
    waymark_web::ops::parse_trusted(s).map(TrustedProxies)
}

/// `--community-domains`, read.
#[derive(Debug, Clone)]
struct Domains(Vec<String>);

fn parse_domains(s: &str) -> Result<Domains, String> {
    waymark_core::community::parse_domains(s).map(Domains)
}

fn parse_webhook_allow(s: &str) -> Result<TrustedProxies, String> {
    waymark_web::ops::parse_networks(s).map(TrustedProxies)
}

fn main() -> ExitCode {
    // The configuration file supplies defaults, so it is read before the
    // command line is parsed against them.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let layer = match config::Layer::load(&Cli::command(), config::path_from(&args)) {
        Ok(layer) => layer,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", said(&e));
            return ExitCode::from(2);
        }
    };
    let command = layer.apply(Cli::command());
    let matches = match command.clone().try_get_matches_from(args) {
        Ok(m) => m,
        // --help and --version are "errors" that print and exit 0; a real
        // one is printed with any password in a quoted value hidden.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let _ = write!(std::io::stderr(), "{}", config::clap_message(&e));
            return ExitCode::from(2);
        }
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Libraries log through tracing; lines go to standard error, at the
    // level WAYMARK_LOG (or the file's `log`) asks for, `info` by default.
    let filter = layer.log_filter();
    // Colours only for a person at a terminal, never into a log file.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false);
    if cli.log_format == "json" {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
    let db = db_cmd::Database {
        url: cli.database_url.clone(),
        files_dir: cli.files_dir.clone(),
    };
    let result = match cli.command {
        Command::Config(ConfigCommand::Check) => config::check(&command, &layer, &matches)
            .and_then(|text| {
                std::io::stdout().write_all(text.as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }),
        Command::Model(ModelCommand::Lint(a)) => model_cmd::lint(
            cli.model.as_deref(),
            &a.paths,
            matches!(a.format, LintFormat::Json),
            a.deny.is_some(),
        ),
        Command::Model(ModelCommand::Show(a)) => model_cmd::show(
            cli.model.as_deref(),
            &a.paths,
            matches!(a.format, ShowFormat::Json),
        ),
        Command::Model(ModelCommand::Diff(a)) => {
            model_cmd::diff(&a.old, &a.new, matches!(a.format, ShowFormat::Json))
        }
        Command::Site(SiteCommand::Build {
            out,
            templates,
            public_url,
            paths,
        }) => site_cmd::build(
            &origin::Origin::choose(cli.model.as_deref(), &paths),
            templates.as_deref(),
            &out,
            public_url.as_deref(),
            &db,
        ),
        Command::Serve {
            bind,
            templates,
            public_url,
            smtp_url,
            mail_from,
            metrics_bind,
            metrics_token_file,
            outbox_max_age,
            shutdown_grace,
            trusted_proxies,
            webhook_allow,
            community_domains,
            sign_in_providers,
            imap_url,
            imap_password_file,
            imap_folder,
            imap_poll,
            imap_lease,
            imap_ca_file,
            imap_insecure,
        } => site_cmd::imap_settings(
            imap_url.as_deref(),
            imap_password_file.as_deref(),
            site_cmd::ImapOptions {
                folder: imap_folder,
                poll: imap_poll,
                lease: imap_lease,
                ca_file: imap_ca_file,
                insecure: imap_insecure,
                from: mail_from.clone(),
            },
        )
        .and_then(|imap| {
            site_cmd::serve(
                origin::Origin::choose(cli.model.as_deref(), &[]),
                templates,
                bind,
                &db,
                public_url.map(|u| u.trim_end_matches('/').to_string()),
                site_cmd::MailSettings {
                    smtp_url,
                    from: mail_from,
                    imap,
                },
                site_cmd::OpsSettings {
                    metrics_bind,
                    metrics_token_file,
                    outbox_max_age: std::time::Duration::from_secs(outbox_max_age),
                    shutdown_grace: std::time::Duration::from_secs(shutdown_grace),
                    trusted_proxies: trusted_proxies.0,
                    webhook_allow: webhook_allow.0,
                    community_domains: community_domains.0,
                    sign_in_providers: sign_in_providers.map(|p| p.0).unwrap_or_default(),
                },
            )
        }),
        Command::Intake(IntakeCommand::Import { paths, acknowledge }) => {
            intake_cmd::import(&db, &paths, acknowledge)
        }
        Command::Db(DbCommand::Migrate) => db_cmd::migrate(&db),
        Command::Search(SearchCommand::Reindex) => {
            db_cmd::reindex(&db, &origin::Origin::choose(cli.model.as_deref(), &[]))
        }
        Command::Agency(AgencyCommand::Add {
            name,
            abbreviation,
            portfolio,
            agency_type,
        }) => db_cmd::agency_add(
            &db,
            &name,
            &abbreviation,
            &portfolio,
            agency_type.map(|t| match t {
                AgencyTypeArg::Lean => waymark_core::AgencyType::Lean,
                AgencyTypeArg::Aligned => waymark_core::AgencyType::Aligned,
                AgencyTypeArg::SelfDirected => waymark_core::AgencyType::SelfDirected,
                AgencyTypeArg::Complex => waymark_core::AgencyType::Complex,
            }),
        ),
        Command::User(UserCommand::Add {
            name,
            email,
            role,
            agency,
            password_stdin,
            public_url,
        }) => password_stdin
            .then(db_cmd::password_from_stdin)
            .transpose()
            .and_then(|password| {
                db_cmd::user_add(
                    &db,
                    &name,
                    &email,
                    role,
                    agency.as_deref(),
                    password,
                    &public_url,
                )
            }),
        Command::Engagement(EngagementCommand::Start {
            agency,
            as_email,
            diy,
        }) => db_cmd::engagement_start(
            &db,
            &origin::Origin::choose(cli.model.as_deref(), &[]),
            &agency,
            &as_email,
            diy,
        ),
        Command::Engagement(EngagementCommand::List {
            agency,
            limit,
            offset,
        }) => db_cmd::engagement_list(&db, agency.as_deref(), limit, offset),
        Command::Engagement(EngagementCommand::Show { id }) => {
            db_cmd::engagement_show(&db, &origin::Origin::choose(cli.model.as_deref(), &[]), id)
        }
        Command::Engagement(EngagementCommand::Run {
            id,
            as_email,
            expected_version,
            command,
        }) => db_cmd::engagement_run(&db, id, &as_email, expected_version, &command),
        Command::Audit(AuditCommand::Verify) => db_cmd::audit_verify(&db),
        Command::Token(TokenCommand::Create {
            email,
            name,
            read_only,
            expires_in_days,
        }) => db_cmd::token_create(&db, &email, &name, read_only, expires_in_days.as_deref()),
        Command::Token(TokenCommand::List { email }) => db_cmd::token_list(&db, &email),
        Command::Token(TokenCommand::Revoke { email, id }) => {
            db_cmd::token_revoke(&db, &email, &id)
        }
        Command::Backup { file } => db_cmd::backup(&db, &file),
        Command::Export { out } => db_cmd::export(&db, out.as_deref()),
        Command::Import { file } => db_cmd::import(&db, &file),
        Command::Dev(DevCommand::Seed {
            agencies,
            engagements,
            events,
            articles,
            questions,
            answers,
            survey_answers,
            seed,
        }) => db_cmd::seed(
            &db,
            &origin::Origin::choose(cli.model.as_deref(), &[]),
            waymark_store::generate::Size {
                agencies,
                engagements,
                events,
                articles,
                questions,
                answers,
                survey_answers,
                seed,
            },
        ),
        Command::Dev(DevCommand::Corpus {
            pages,
            seed,
            out,
            shape,
        }) => model_cmd::corpus(pages, seed, &shape, &out),
        Command::Dev(DevCommand::ManPages { dir }) => std::fs::create_dir_all(&dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
            .map(|()| ExitCode::SUCCESS)
            .with_context(|| format!("cannot write the manual pages into {}", dir.display())),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", said(&e));
            ExitCode::from(2)
        }
    }
}

/// An error as the user reads it: the message, then each cause it does not
/// already say. Most errors here put their cause's words in their own
/// message (`cannot read x: No such file`), and sqlx's do too, so the plain
/// chain (`{:#}`) said the same sentence up to four times.
pub(crate) fn said(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out.push_str(": ");
            out.push_str(&cause);
        }
    }
    out
}

/// `waymark model show | head` is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each sentence once: a store error that quotes sqlx, which quotes the
    /// database; and a context over an error it does not quote, kept whole.
    #[test]
    fn an_error_says_each_cause_once() {
        let db = sqlx::Error::Protocol("table people already exists".into());
        let e = anyhow::Error::from(waymark_store::StoreError::Migrate(
            sqlx::migrate::MigrateError::Execute(db),
        ));
        let text = said(&e);
        assert_eq!(
            text.matches("table people already exists").count(),
            1,
            "{text}"
        );
        assert!(
            text.starts_with("cannot bring the database schema up to date"),
            "{text}"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::from(io).context("cannot read pages.md");
        assert_eq!(said(&e), "cannot read pages.md: no such file");
    }

    /// The file's keys are the environment's names, so they must agree.
    #[test]
    fn every_setting_has_one_name_in_the_file_and_the_environment() {
        fn walk(cmd: &clap::Command, seen: &mut usize) {
            for arg in cmd.get_arguments() {
                if let Some(env) = arg.get_env() {
                    let expected =
                        format!("WAYMARK_{}", arg.get_id().as_str().to_ascii_uppercase());
                    assert_eq!(env.to_str(), Some(expected.as_str()));
                    *seen += 1;
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, seen);
            }
        }
        let mut seen = 0;
        walk(&Cli::command(), &mut seen);
        assert!(seen >= 15, "only {seen} settings");
        Cli::command().debug_assert();
    }
}
