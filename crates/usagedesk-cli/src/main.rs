//! `usagedesk-cli`: the UsageDesk manager tool, headless. Same core as the desktop app.

mod commands;
mod context;
mod output;

/// mimalloc: a sync's download thread parses the pages whose rows the writer frees on its
/// own thread (glibc's allocator locks another thread's arena for each such free), and a
/// long computation's freed memory goes back to the OS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use usagedesk_domain::{Scope, YearMonth};
use usagedesk_export::ExportReport;

#[derive(Parser)]
#[command(
    name = "usagedesk-cli",
    version,
    about = "UsageDesk manager CLI: sync, browse and report usage offline"
)]
struct Cli {
    /// Where the local cache lives (default: the OS's local data folder: ~/.local/share/usagedesk,
    /// %LOCALAPPDATA%\usagedesk, ~/Library/Application Support/usagedesk).
    #[arg(long, global = true, env = "USAGEDESK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store a cloud URL and its token (read from stdin) in the OS keyring, after checking both.
    Login {
        /// https://… (http:// only for a cloud on this computer, or with --allow-insecure-http).
        #[arg(long)]
        url: String,
        /// Switch even though imported usage data files are still queued for another cloud
        /// or account (they stay queued for theirs; the cache is cleared for the new one).
        #[arg(long)]
        force: bool,
        /// Allow http:// to another computer: the token crosses the network unencrypted.
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Remove the token and the air-gap signing key of the configured cloud from the
    /// keyring, and the signing certificate from the cache (queued files stay queued).
    Logout,
    /// Pull changes from the cloud into the local cache (pushing imported files first).
    Sync {
        /// The cloud to sync from (default: the one given to `login`).
        #[arg(long)]
        url: Option<String>,
        /// Switch cloud or account even though imported files are still queued for another
        /// (they stay queued for theirs, never sent here).
        #[arg(long)]
        force: bool,
        /// Allow http:// to another computer: the token crosses the network unencrypted.
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// What is cached, from where, and when it was last synced.
    Status,
    /// Browse the tenant tree.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Month-end usage of an account and its subtree aggregates per plan.
    Usage {
        #[arg(long)]
        account: String,
        /// A completed month, YYYY-MM.
        #[arg(long)]
        month: String,
        #[arg(long, default_value = "self", value_parser = parse_scope)]
        scope: Scope,
        /// One JSON object per account in scope, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Seats against used seats per license and plan, with utilization, overage and the
    /// forecast at expiry (docs/entitlements.md); offline, from the cache.
    Entitlements {
        #[arg(long)]
        account: String,
        /// A completed month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// Whose licenses: the account's own (self), with its direct children's, or its tree.
        #[arg(long, default_value = "self", value_parser = parse_entitlement_scope)]
        scope: usagedesk_entitlements::EntitlementScope,
        /// One JSON object per (license, plan), one per line.
        #[arg(long)]
        json: bool,
    },
    /// Customers by account health: one 0–100 score from six weighted factors, each shown
    /// with its score (docs/health.md); offline, from the cache.
    #[command(
        after_help = "Rows are written a page at a time. --json writes one JSON object per line \
        (NDJSON), each a CustomerHealth with every factor's weight, value, detail, score and \
        contribution (docs/ipc.md)."
    )]
    Health {
        /// score, or a factor: usage_trend, utilization, instance_status, version_lag,
        /// license_expiry, reporting_freshness. Lowest first; customers without data for the
        /// factor last.
        #[arg(long, default_value = "score", value_parser = commands::health::parse_sort)]
        sort: commands::health::SortBy,
        /// Highest first.
        #[arg(long)]
        desc: bool,
        /// Skip this many customers.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Write at most this many (default: all).
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Licenses ending in the next N months by month, with utilization (last completed month),
    /// the forecast at expiry and the customer's health (docs/health.md).
    Renewals {
        /// This month and the N − 1 after it.
        #[arg(long, default_value_t = usagedesk_health::DEFAULT_RENEWAL_MONTHS)]
        months: u32,
        /// One JSON object per license, one per line.
        #[arg(long)]
        json: bool,
        /// Write the calendar to this CSV file instead (written whole or not at all).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// What needs attention now: air-gapped instances overdue with their usage data file,
    /// licenses expiring within 30 days, licenses over their seats in the last completed month
    /// (docs/attention.md); offline, from the cache.
    #[command(
        after_help = "Items are written as they are read (overdue, then expiring, then over \
        seats), in the app's order. --json writes one JSON object per line (NDJSON), each an \
        AttentionItem (docs/ipc.md); the text output ends with the counts."
    )]
    Attention {
        /// Only one kind: overdue, expiring or over-seats.
        #[arg(long, value_parser = parse_attention_kind)]
        kind: Option<usagedesk_attention::AttentionKind>,
        /// Skip this many items first.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// At most this many items (default: all).
        #[arg(long)]
        limit: Option<u64>,
        /// One JSON object per item, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Exchange files with air-gapped instances: sync keys out, usage data files in (offline).
    Airgap {
        #[command(subcommand)]
        command: AirgapCommand,
    },
    /// Customers (accounts with a license): licenses, instances, status, overdue reporting.
    #[command(
        after_help = "Rows are written as they are read, so any number of customers \
        streams in flat memory. --json writes one JSON object per line (NDJSON), each a \
        CustomerSummary (docs/ipc.md); the text output ends with a count line."
    )]
    Customers {
        /// Part of the name, account id or license id.
        #[arg(long)]
        search: Option<String>,
        /// prod, trial, dev or community.
        #[arg(long, value_parser = parse_license_type)]
        license_type: Option<usagedesk_domain::customer::LicenseType>,
        /// Only customers with a license ending within this many days (or ended).
        #[arg(long)]
        expiring_within: Option<u32>,
        /// Only customers with an instance that is not Ready.
        #[arg(long)]
        not_ready: bool,
        /// Only customers with an air-gapped instance overdue with its usage file.
        #[arg(long)]
        overdue: bool,
        /// name, expiry (soonest end first) or attention (most instances not Ready first).
        #[arg(long, value_parser = parse_customer_sort, default_value = "name")]
        sort: usagedesk_customers::CustomerSort,
        /// Skip this many customers.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Write at most this many (default: all).
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// One customer: license and features, time to install, counts, a page of its instances
    /// with uptime and of its install attempts.
    Customer {
        account: String,
        /// Skip this many instances and install attempts.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Instances and install attempts to show (at most 100).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100))]
        limit: u64,
        /// One JSON object: the header, with `instances` and `install_attempts` as pages
        /// ({items, total, offset, limit}).
        #[arg(long)]
        json: bool,
    },
    /// One instance: status, version, cluster, uptime; `--events` for its history, newest first.
    Instance {
        id: String,
        #[arg(long)]
        events: bool,
        /// Skip this many events.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Events to show (at most 500).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=500))]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Write a report (monthly usage, or entitlements with --report entitlements) as CSV with
    /// its manifest beside it, from the local cache, signed with this computer's certified key
    /// when it holds one; `export verify FILE` checks one.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Columns and manifest: docs/export-format.md. Works offline. The manifest \
        is FILE.manifest (signed) or, when this computer holds no signing certificate in force, \
        FILE.manifest.json (unsigned, saying why)."
    )]
    Export {
        #[command(subcommand)]
        command: Option<ExportCommand>,
        #[command(flatten)]
        write: Option<ExportWrite>,
    },
}

#[derive(clap::Args)]
struct ExportWrite {
    /// usage: one row per account and month; entitlements: one row per license, plan and
    /// month (the rows of `entitlements --json`).
    #[arg(long, default_value = "usage", value_parser = parse_report)]
    report: ExportReport,
    #[arg(long)]
    account: String,
    /// self: the account only; children: with its direct children; tree: its whole subtree
    /// (for entitlements: the licenses those accounts hold).
    #[arg(long, value_parser = parse_scope)]
    scope: Scope,
    /// First completed month, YYYY-MM.
    #[arg(long)]
    from: YearMonth,
    /// Last completed month, YYYY-MM (inclusive).
    #[arg(long)]
    to: YearMonth,
    /// The CSV file to write; `-` writes the CSV to stdout and no manifest.
    #[arg(short = 'o', long = "output")]
    output: String,
    /// Fail, writing nothing, when the manifest cannot be signed (no signing certificate in
    /// force here) instead of writing it unsigned.
    #[arg(long)]
    require_signature: bool,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Check an export: the CSV's SHA-256 against its manifest, the manifest's signature and
    /// its certificate up to the vendor root key.
    #[command(
        after_help = "Exit codes: 0 verified (signed, and everything holds); 1 refused \
        (the CSV or the manifest was changed, or the signature does not lead to the trusted \
        root key); 2 bad arguments; 3 the CSV matches an unsigned manifest (nothing proves who \
        wrote it); 4 could not check (no manifest beside the file, unreadable, no root key). \
        The trusted root key is --root-key FILE, else the vendor key the local cache holds \
        from its last sync."
    )]
    Verify {
        /// The CSV file; its manifest is FILE.manifest or FILE.manifest.json beside it.
        file: PathBuf,
        /// A file holding the vendor's root public key (`ed25519:…`), e.g. from the vendor's
        /// website; without it, the key from this computer's last sync.
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
        /// One JSON object: status (verified, unsigned, refused, error), and the manifest and
        /// signer, or the refusal's code and reason.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AirgapCommand {
    /// Issue a sync key for an instance (signed offline with this computer's certified key).
    IssueSyncKey {
        #[arg(long)]
        instance: String,
        /// How long the customer has to answer it, e.g. 30d or 72h (at most 365d).
        #[arg(long, default_value = "30d")]
        expires_in: String,
        /// Where to write it (default: INSTANCE-YYYYMMDD.usagedesk-synckey here).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Check and import a usage data file, and write the verification key for the customer.
    Import {
        file: PathBuf,
        /// Only check the file and show what it holds.
        #[arg(long)]
        dry_run: bool,
        /// Where to write the verification key (default: INSTANCE-YYYYMMDD.usagedesk-verification
        /// here).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Every sync key issued and file imported here, newest first (streamed).
    Ledger {
        #[arg(long)]
        instance: Option<String>,
        #[arg(long)]
        json: bool,
        /// Skip this many entries.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// List at most this many entries.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Air-gapped instances (all with --all), with their last report and overdue mark
    /// (streamed, page by page).
    Instances {
        /// Online instances too.
        #[arg(long)]
        all: bool,
        /// Only air-gapped instances overdue with their usage data file.
        #[arg(long)]
        overdue: bool,
        /// Part of the instance id, account id or account name.
        #[arg(long)]
        search: Option<String>,
        /// status (air-gapped, overdue first), id, account, last-exchange or mark.
        #[arg(long, default_value = "status", value_parser = commands::airgap_lists::parse_sort)]
        sort: usagedesk_cache::InstanceSort,
        /// Reverse the order.
        #[arg(long)]
        desc: bool,
        #[arg(long)]
        json: bool,
        /// Skip this many instances.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// List at most this many instances.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Imported files not yet accepted by the cloud: queued, retrying or refused, and for
    /// which cloud and account.
    Outbox {
        #[arg(long)]
        json: bool,
    },
    /// Queue a kept file again (after the cause of a refusal was fixed) and send it now.
    Retry {
        /// The ledger id of the import (see `airgap outbox`).
        ledger_id: i64,
    },
    /// Drop a kept file for good: the usage it holds is lost (the ledger keeps the entry).
    Discard {
        ledger_id: i64,
        /// Confirm: without it nothing is discarded.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Print the tree (from the roots, or from one account).
    Tree {
        #[arg(long)]
        account: Option<String>,
        /// Levels below the start to print.
        #[arg(long, default_value_t = 2)]
        depth: usize,
    },
    /// Find accounts by id prefix or part of the name.
    Search {
        text: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

fn parse_customer_sort(s: &str) -> Result<usagedesk_customers::CustomerSort, String> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase()))
        .map_err(|_| format!("'{s}' is not a sort: name, expiry or attention"))
}

fn parse_license_type(s: &str) -> Result<usagedesk_domain::customer::LicenseType, String> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase()))
        .map_err(|_| format!("'{s}' is not a license type: prod, trial, dev or community"))
}

fn parse_entitlement_scope(s: &str) -> Result<usagedesk_entitlements::EntitlementScope, String> {
    s.parse()
        .map_err(|e: usagedesk_cache::CacheError| e.to_string())
}

fn parse_report(s: &str) -> Result<ExportReport, String> {
    match s {
        "usage" => Ok(ExportReport::Usage),
        "entitlements" => Ok(ExportReport::Entitlements),
        _ => Err(format!("'{s}' is neither usage nor entitlements")),
    }
}

fn parse_attention_kind(s: &str) -> Result<usagedesk_attention::AttentionKind, String> {
    s.parse()
        .map_err(|e: usagedesk_cache::CacheError| e.to_string())
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse().map_err(|e: usagedesk_domain::ParseError| e.0)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("USAGEDESK_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Runs the command; the exit code (0 but for `export verify`).
fn run(cli: Cli) -> Result<i32> {
    let ctx = context::Context::new(cli.data_dir)?;
    if let Command::Export {
        command:
            Some(ExportCommand::Verify {
                file,
                root_key,
                json,
            }),
        ..
    } = cli.command
    {
        let args = commands::export_verify::VerifyArgs {
            csv: file,
            root_key,
            json,
        };
        return match commands::export_verify::verify(&ctx, &args) {
            Ok(code) => Ok(code),
            Err(e) => {
                eprintln!("error: {e:#}");
                Ok(commands::export_verify::EXIT_UNCHECKED)
            }
        };
    }
    run_command(&ctx, cli.command).map(|()| 0)
}

fn run_command(ctx: &context::Context, command: Command) -> Result<()> {
    match command {
        Command::Login {
            url,
            force,
            allow_insecure_http,
        } => commands::login::login(ctx, &url, force, allow_insecure_http),
        Command::Logout => commands::login::logout(ctx),
        Command::Sync {
            url,
            force,
            allow_insecure_http,
        } => commands::sync::sync(ctx, url.as_deref(), force, allow_insecure_http),
        Command::Status => commands::sync::status(ctx),
        Command::Accounts {
            command: AccountsCommand::Tree { account, depth },
        } => commands::accounts::tree(ctx, account.as_deref(), depth),
        Command::Accounts {
            command: AccountsCommand::Search { text, limit },
        } => commands::accounts::search(ctx, &text, limit),
        Command::Usage {
            account,
            month,
            scope,
            json,
        } => commands::usage::usage(ctx, &account, &month, scope, json),
        Command::Entitlements {
            account,
            month,
            scope,
            json,
        } => commands::entitlements::entitlements(ctx, &account, &month, scope, json),
        Command::Health {
            sort,
            desc,
            offset,
            limit,
            json,
        } => commands::health::health(ctx, sort.0, desc, offset, limit, json),
        Command::Renewals { months, json, csv } => {
            commands::health::renewal_calendar(ctx, months, json, csv.as_deref())
        }
        Command::Attention {
            kind,
            offset,
            limit,
            json,
        } => commands::attention::attention(ctx, kind, offset, limit, json),
        Command::Airgap { command } => match command {
            AirgapCommand::IssueSyncKey {
                instance,
                expires_in,
                output,
            } => commands::airgap::issue(ctx, &instance, &expires_in, output.as_deref()),
            AirgapCommand::Import {
                file,
                dry_run,
                output,
            } => commands::airgap::import_file(ctx, &file, dry_run, output.as_deref()),
            AirgapCommand::Ledger {
                instance,
                json,
                offset,
                limit,
            } => commands::airgap_lists::ledger(
                ctx,
                instance.as_deref(),
                false,
                json,
                commands::airgap_lists::window(offset, limit)?,
            ),
            AirgapCommand::Instances {
                all,
                overdue,
                search,
                sort,
                desc,
                json,
                offset,
                limit,
            } => commands::airgap_lists::instances(
                ctx,
                &commands::airgap_lists::InstanceArgs {
                    all,
                    overdue,
                    search,
                    sort,
                    desc,
                    json,
                },
                commands::airgap_lists::window(offset, limit)?,
            ),
            AirgapCommand::Outbox { json } => {
                commands::airgap_lists::outbox(ctx, json, commands::airgap_lists::window(0, None)?)
            }
            AirgapCommand::Retry { ledger_id } => commands::airgap::retry(ctx, ledger_id),
            AirgapCommand::Discard { ledger_id, yes } => {
                commands::airgap::discard(ctx, ledger_id, yes)
            }
        },
        Command::Customers {
            search,
            license_type,
            expiring_within,
            not_ready,
            overdue,
            sort,
            offset,
            limit,
            json,
        } => commands::customers::list(
            ctx,
            commands::customers::ListArgs {
                filter: usagedesk_customers::CustomerFilter {
                    text: search,
                    license_type,
                    expiring_within_days: expiring_within,
                    not_ready,
                    reporting_overdue: overdue,
                },
                sort,
                offset,
                limit,
                json,
            },
        ),
        Command::Customer {
            account,
            offset,
            limit,
            json,
        } => commands::customers::show(
            ctx,
            &account,
            commands::customers::Paging { offset, limit },
            json,
        ),
        Command::Instance {
            id,
            events,
            offset,
            limit,
            json,
        } => commands::customers::show_instance(
            ctx,
            &id,
            events.then_some(commands::customers::Paging { offset, limit }),
            json,
        ),
        Command::Export {
            command: Some(ExportCommand::Verify { .. }),
            ..
        } => unreachable!("handled in run"),
        Command::Export {
            command: None,
            write: None,
        } => anyhow::bail!(
            "say what to export (--account, --scope, --from, --to, -o FILE), or \
             `export verify FILE` to check one; see `usagedesk-cli export --help`"
        ),
        Command::Export {
            command: None,
            write: Some(w),
        } => commands::export::export(
            ctx,
            commands::export::ExportArgs {
                report: w.report,
                account: w.account,
                scope: w.scope,
                from: w.from,
                to: w.to,
                output: w.output,
                require_signature: w.require_signature,
            },
        ),
    }
}
