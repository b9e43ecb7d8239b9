//! `usagedesk-cloud`: the reference cloud reporting service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use usagedesk_cloud::storage::{LoadError, TokenKind, TokenScope};
use usagedesk_cloud::{load, tokens, SqliteStorage, Storage};
use usagedesk_domain::{Clock, SystemClock};

#[derive(Parser)]
#[command(
    name = "usagedesk-cloud",
    version,
    about = "UsageDesk cloud reporting service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the manager and ingest API.
    Serve {
        /// The SQLite database file (created if missing).
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
    },
    /// Load a dataset folder (accounts.csv, daily_usage.csv; optional plans.csv,
    /// instances.csv, licenses.csv, instance_reports.csv, instance_events.csv,
    /// install_attempts.csv, install_steps.csv): all or nothing.
    Load {
        #[arg(long)]
        db: PathBuf,
        dir: PathBuf,
    },
    /// Write a realistic demo dataset in the load format.
    DemoData {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 2000)]
        accounts: usize,
        #[arg(long, default_value_t = 24)]
        months: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Generate as if today were this date (YYYY-MM-DD); default: the real today.
        #[arg(long)]
        today: Option<String>,
    },
    /// Print the vendor root public key (first line) and its fingerprint (second line): the
    /// key every agent is given with `--vendor-key`. The secret key never leaves the database.
    VendorKey {
        /// The SQLite database file of the service (must exist).
        #[arg(long)]
        db: PathBuf,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (last line of stdout). Only its hash is stored.
    Create {
        #[arg(long)]
        db: PathBuf,
        /// The account whose subtree the token may see; `*` for every account.
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "manager")]
        name: String,
        #[arg(long, value_enum, default_value_t = Kind::Manager)]
        kind: Kind,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Manager,
    Ingest,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "usagedesk_cloud=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let clock = SystemClock;
    match cli.command {
        Command::Serve { db, listen } => serve(db, listen),
        Command::Load { db, dir } => {
            let storage = open(&db)?;
            let dataset = load::read_dataset(&dir)?;
            let stats = storage.load(dataset, clock.today()).map_err(|e| match e {
                LoadError::Row(r) => anyhow::anyhow!("nothing was loaded: {r}"),
                LoadError::Store(s) => anyhow::anyhow!("nothing was loaded: {s}"),
            })?;
            println!(
                "loaded {}: {} accounts changed, {} instances changed, {} daily rows, {} month-end rows changed",
                dir.display(),
                stats.accounts_changed,
                stats.instances_changed,
                stats.daily_rows,
                stats.months_changed
            );
            println!(
                "customer reporting: {} licenses, {} instance reports, {} instance events, {} install attempts changed",
                stats.licenses_changed,
                stats.reports_changed,
                stats.events_changed,
                stats.attempts_changed
            );
            Ok(())
        }
        Command::VendorKey { db } => {
            if !db.is_file() {
                bail!(
                    "no database at {}: give the --db of the running service (its vendor key is \
                     created with it)",
                    db.display()
                );
            }
            let key = usagedesk_cloud::airgap::keys::vendor_key(&open(&db)?)?;
            eprintln!(
                "The vendor key of {}: configure every agent with it (--vendor-key).",
                db.display()
            );
            println!("{}", key.public_key);
            println!("{}", key.fingerprint);
            Ok(())
        }
        Command::DemoData {
            out,
            accounts,
            months,
            seed,
            today,
        } => {
            let today = match today {
                Some(t) => usagedesk_domain::month::parse_date(&t)?,
                None => clock.today(),
            };
            if accounts == 0 || months == 0 {
                bail!("--accounts and --months must be at least 1");
            }
            let opts = usagedesk_demo::DemoOptions {
                accounts,
                months,
                seed,
                today,
                snapshots_per_month: usagedesk_demo::SnapshotDensity::MonthEndOnly,
            };
            let s = usagedesk_demo::write_demo(&opts, &out)?;
            println!(
                "wrote {} accounts, {} instances and {} daily rows to {}",
                s.accounts,
                s.instances,
                s.daily_rows,
                out.display()
            );
            println!(
                "customer reporting: {} licenses, {} instance reports, {} instance events, {} install attempts",
                s.licenses, s.instance_reports, s.instance_events, s.install_attempts
            );
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    db,
                    account,
                    name,
                    kind,
                },
        } => {
            let storage = open(&db)?;
            let scope = if account == "*" {
                TokenScope::All
            } else {
                TokenScope::Subtree(account)
            };
            let kind = match kind {
                Kind::Manager => TokenKind::Manager,
                Kind::Ingest => TokenKind::Ingest,
            };
            let token = tokens::generate(&mut rand::rngs::OsRng);
            storage.create_token(tokens::hash(&token), &scope, kind, &name, clock.now())?;
            eprintln!(
                "Created a {} token '{name}'. It is shown once; store it safely.",
                kind.as_str()
            );
            println!("{token}");
            Ok(())
        }
    }
}

fn open(db: &std::path::Path) -> Result<SqliteStorage> {
    SqliteStorage::open(db).with_context(|| format!("cannot open the database {}", db.display()))
}

fn serve(db: PathBuf, listen: SocketAddr) -> Result<()> {
    let storage: Arc<dyn Storage> = Arc::new(open(&db)?);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let server = usagedesk_cloud::spawn(storage, Arc::new(SystemClock), listen)
            .await
            .with_context(|| {
                format!("cannot listen on {listen}; is another service using the port?")
            })?;
        tracing::info!(
            "usagedesk-cloud listening on {} (database {})",
            server.url(),
            db.display()
        );
        eprintln!("listening on {}", server.url());
        tokio::signal::ctrl_c().await?;
        tracing::info!("shutting down");
        server.stop().await?;
        Ok(())
    })
}
