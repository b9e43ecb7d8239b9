//! `usagedesk-cloud`: the reference cloud reporting service.

mod cli;

/// mimalloc: a load's reading threads parse rows whose strings the loader frees on its own
/// thread, and the server's request threads hand buffers to each other; glibc's allocator
/// takes a lock and walks another thread's arena for every such free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use cli::db::{Db, DB_ENV, DB_HELP};
use cli::{demo_data, serve_args, token_cmd};
use usagedesk_cloud::limits::{Limits, StorageLimits};
use usagedesk_cloud::storage::{rotate_epoch, LoadError};
use usagedesk_cloud::{load, PgStorage};
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
    /// Serve the manager and ingest API, within the limits below (docs/operations.md).
    Serve {
        /// The database: a SQLite file (created if missing), or a PostgreSQL URL
        /// (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=verify-full; the database must
        /// exist, its tables are created); also from $USAGEDESK_CLOUD_DB.
        #[arg(long, env = DB_ENV, hide_env_values = true)]
        db: Db,
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        #[command(flatten)]
        limits: serve_args::ServeArgs,
    },
    /// Load a dataset folder (accounts.csv, daily_usage.csv; optional plans.csv,
    /// instances.csv, licenses.csv, instance_reports.csv, instance_events.csv,
    /// install_attempts.csv, install_steps.csv): all or nothing.
    Load {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        dir: PathBuf,
    },
    /// Write a realistic demo dataset in the load format.
    DemoData(demo_data::DemoDataArgs),
    /// Print the vendor root public key (first line) and its fingerprint (second line): the
    /// key every agent is given with `--vendor-key`. The secret key never leaves the database.
    VendorKey {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
    },
    /// Manage API tokens: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: token_cmd::TokenCommand,
    },
    /// The dataset epoch that every sync cursor carries.
    Epoch {
        #[command(subcommand)]
        command: EpochCommand,
    },
    /// Write a consistent copy of the database to a new file; the service may keep running.
    Backup {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        /// The backup file to write (must not exist).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write a license file for an instance of instances.csv: its license, account path and
    /// air-gapped flag, signed by the vendor root key, with a fresh enrollment secret. Hand it
    /// to the customer (`usagedesk-agent init --license-file`); only its public half is kept.
    LicenseFile {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        /// The instance id (instances.csv).
        #[arg(long, value_name = "ID")]
        instance: String,
        /// How long the file may set up agents and enroll the instance's key.
        #[arg(long, value_name = "DAYS", default_value_t = usagedesk_cloud::airgap::identity::DEFAULT_LICENSE_DAYS)]
        valid_days: i64,
        /// Who issues it, for the instance's key history (default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Where to write it (created with mode 0600; `-`: standard output).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// An instance's key: reset it, or show its history.
    Instance {
        #[command(subcommand)]
        command: InstanceCommand,
    },
}

#[derive(Subcommand)]
enum InstanceCommand {
    /// Remove the instance's registered key (a reinstalled instance, or one claimed by someone
    /// else): its next first contact must enroll again with a license file.
    ResetKey {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        #[arg(long, value_name = "ID")]
        instance: String,
        /// Also revoke every license file issued for it (one was copied): issue a new one.
        #[arg(long)]
        revoke_license_files: bool,
        /// Who resets it, for the instance's key history (default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Show the instance's key history: license files issued, keys enrolled, registered,
    /// reset; who and when.
    History {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        #[arg(long, value_name = "ID")]
        instance: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum EpochCommand {
    /// Give the database a new epoch, so every cache resyncs in full on its next sync. Run
    /// it after restoring a backup, with the service stopped (docs/operations.md).
    Rotate {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
    },
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
        Command::Serve { db, listen, limits } => {
            let (limits, storage) = limits.into_limits()?;
            serve(db, listen, limits, storage)
        }
        Command::Token { command } => token_cmd::run(command, &clock),
        Command::Epoch {
            command: EpochCommand::Rotate { db },
        } => {
            let (old, new) = match &db {
                Db::Sqlite(path) => rotate_epoch(path, &mut rand::rngs::OsRng),
                Db::Postgres(url) => PgStorage::rotate_epoch(url, &mut rand::rngs::OsRng),
            }
            .with_context(|| format!("cannot rotate the epoch of {db}"))?;
            println!("epoch of {db}: {old} -> {new}");
            eprintln!(
                "Every cache will resync in full on its next sync. Start the service again \
                 (a running one keeps the old epoch until restarted)."
            );
            Ok(())
        }
        Command::Backup { db, output } => {
            let db = db.sqlite_file("backup (use pg_dump for PostgreSQL)")?;
            if !db.is_file() {
                bail!(
                    "no database at {}: give the --db of the service",
                    db.display()
                );
            }
            usagedesk_cloud::storage::backup(db, &output).with_context(|| {
                format!("cannot back up {} to {}", db.display(), output.display())
            })?;
            println!("backed up {} to {}", db.display(), output.display());
            eprintln!(
                "To restore it: stop the service, put the backup in place of the database, run \
                 `usagedesk-cloud epoch rotate --db DB`, start the service (docs/operations.md)."
            );
            Ok(())
        }
        Command::Load { db, dir } => {
            let storage = db.open()?;
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
            if let Db::Sqlite(path) = &db {
                if !path.is_file() {
                    bail!(
                        "no database at {db}: give the --db of the running service (its vendor \
                         key is created with it)"
                    );
                }
            }
            let key = usagedesk_cloud::airgap::keys::vendor_key(db.open()?.as_ref())?;
            eprintln!("The vendor key of {db}: configure every agent with it (--vendor-key).");
            println!("{}", key.public_key);
            println!("{}", key.fingerprint);
            Ok(())
        }
        Command::DemoData(args) => demo_data::run(args, &clock),
        Command::LicenseFile {
            db,
            instance,
            valid_days,
            by,
            output,
        } => {
            use usagedesk_cloud::airgap::identity;
            let storage = db.open_existing()?;
            let issued = identity::issue_license_file(
                storage.as_ref(),
                &instance,
                chrono::Duration::days(valid_days),
                &operator(by),
                clock.now(),
                &mut rand::rngs::OsRng,
            )
            .map_err(refused)?;
            write_private(&output, &issued.text)?;
            let l = &issued.license;
            eprintln!(
                "Wrote the license file of instance {} (license {}, account {}, {}) to {}: it \
                 sets up the agent and enrolls its key until {}. It holds a secret: send it to \
                 the customer as you would a license key.",
                l.instance_id,
                l.license_id,
                l.account_path.join(" > "),
                if l.airgapped { "air-gapped" } else { "online" },
                output.display(),
                l.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            Ok(())
        }
        Command::Instance {
            command:
                InstanceCommand::ResetKey {
                    db,
                    instance,
                    revoke_license_files,
                    by,
                },
        } => {
            use usagedesk_cloud::airgap::identity;
            let storage = db.open_existing()?;
            let reset = identity::reset_key(
                storage.as_ref(),
                &instance,
                revoke_license_files,
                &operator(by),
                clock.now(),
            )
            .map_err(refused)?;
            match &reset.previous_key {
                Some(k) => println!("removed the key of instance {instance} ({k})"),
                None => println!("instance {instance} had no registered key"),
            }
            if revoke_license_files {
                println!(
                    "revoked {} license file{}",
                    reset.revoked,
                    plural(reset.revoked)
                );
            }
            match reset.usable_license_files {
                0 => println!(
                    "no license file can enroll it now: issue one (usagedesk-cloud license-file \
                     --instance {instance}) and have the agent set up with it"
                ),
                1 => println!(
                    "1 license file can enroll it: its next first contact (usagedesk-agent push, \
                     or its next usage data file) registers the key again"
                ),
                n => println!(
                    "{n} license files can enroll it: its next first contact (usagedesk-agent \
                     push, or its next usage data file) registers the key again"
                ),
            }
            Ok(())
        }
        Command::Instance {
            command: InstanceCommand::History { db, instance, json },
        } => {
            use usagedesk_cloud::airgap::identity;
            let storage = db.open_existing()?;
            let events = identity::history(storage.as_ref(), &instance).map_err(refused)?;
            if events.is_empty() && !json {
                println!("instance {instance}: no key events yet");
            }
            for e in events {
                if json {
                    println!("{}", serde_json::to_string(&e)?);
                } else {
                    println!(
                        "{}  {:<22} by {}{}{}",
                        e.at.format("%Y-%m-%d %H:%M:%S UTC"),
                        e.event,
                        e.actor,
                        e.public_key
                            .as_deref()
                            .map(|k| if e.event == "license_file_issued" {
                                format!("  enrollment key {k}")
                            } else {
                                format!("  key {k}")
                            })
                            .unwrap_or_default(),
                        if e.detail.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", e.detail)
                        }
                    );
                }
            }
            Ok(())
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The operator's name for the key history: `--by`, else `$USER`, else `operator`.
fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control))
        .unwrap_or_else(|| "operator".into())
}

fn refused(e: usagedesk_cloud::airgap::Refusal) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Writes `text` to `path` readable by its owner only, through a temporary file renamed into
/// place; `-` writes to standard output.
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    if path == std::path::Path::new("-") {
        print!("{text}");
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn serve(db: Db, listen: SocketAddr, limits: Limits, bounds: StorageLimits) -> Result<()> {
    let storage = db.open_with(bounds)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let server = usagedesk_cloud::spawn_with(storage, Arc::new(SystemClock), listen, limits)
            .await
            .with_context(|| {
                format!("cannot listen on {listen}; is another service using the port?")
            })?;
        tracing::info!(
            "usagedesk-cloud listening on {} (database {db})",
            server.url()
        );
        eprintln!("listening on {}", server.url());
        tokio::signal::ctrl_c().await?;
        tracing::info!("shutting down");
        server.stop().await?;
        Ok(())
    })
}
