//! `usagedesk-cloud token create | list | revoke`.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use usagedesk_cloud::storage::{NewToken, TokenInfo, TokenKind, TokenScope};
use usagedesk_cloud::tokens;

use super::db::{Db, DB_ENV, DB_HELP};
use usagedesk_domain::duration::{describe, parse_duration};
use usagedesk_domain::Clock;

/// The longest validity a token may be given.
const MAX_VALIDITY: chrono::Duration = chrono::Duration::days(3650);

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (last line of stdout, shown this once). Only its hash is
    /// stored; its id (tok-…) names it in `list` and `revoke`.
    Create {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        /// The account whose subtree the token may see; `*` for every account.
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "manager")]
        name: String,
        #[arg(long, value_enum, default_value_t = Kind::Manager)]
        kind: Kind,
        /// How long the token is valid, e.g. 90d, 12h, 1y (at most 10y), or `never`.
        #[arg(long, default_value = "90d")]
        expires_in: String,
    },
    /// Every token: id, name, kind, scope, created, expires, state. Never the token itself.
    List {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id: it is refused from now on (401 token_revoked), and usage
    /// files signed under certificates issued to it are no longer accepted.
    Revoke {
        #[arg(long, env = DB_ENV, hide_env_values = true, help = DB_HELP)]
        db: Db,
        /// The token's id, as `token list` shows it (tok-…).
        id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Manager,
    Ingest,
}

/// `never`, or a bounded duration from now.
fn expiry(text: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    if text.trim().eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let valid = parse_duration(text, MAX_VALIDITY, "--expires-in")?;
    Ok(Some(now + valid))
}

fn day(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn scope_text(scope: &TokenScope) -> &str {
    match scope {
        TokenScope::All => "*",
        TokenScope::Subtree(a) => a,
    }
}

pub fn run(command: TokenCommand, clock: &dyn Clock) -> Result<()> {
    match command {
        TokenCommand::Create {
            db,
            account,
            name,
            kind,
            expires_in,
        } => {
            let now = clock.now();
            let expires_at = expiry(&expires_in, now)?;
            let storage = db.open()?;
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
            let id = tokens::generate_id(&mut rand::rngs::OsRng);
            storage.add_token(&NewToken {
                hash: tokens::hash(&token),
                id: id.clone(),
                scope,
                kind,
                name: name.clone(),
                created_at: now,
                expires_at,
            })?;
            eprintln!(
                "Created {} token {id} '{name}', {}. It is shown once; store it safely.",
                kind.as_str(),
                match expires_at {
                    Some(t) => format!("valid until {} ({})", day(&t), describe(t - now)),
                    None => "valid until revoked".into(),
                }
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { db, json } => {
            let storage = db.open_existing()?;
            let now = clock.now();
            let list = storage.tokens()?;
            if json {
                for t in &list {
                    println!("{}", token_json(t, now));
                }
            } else {
                print_table(&list, now);
            }
            Ok(())
        }
        TokenCommand::Revoke { db, id } => {
            if !tokens::is_id(&id) {
                bail!(
                    "'{}' is not a token id (tok- and 12 hex digits): revoke by the id that \
                     `usagedesk-cloud token list` shows, never by the token itself",
                    if id.starts_with(tokens::TOKEN_PREFIX) {
                        "udk_…"
                    } else {
                        id.as_str()
                    }
                );
            }
            let storage = db.open_existing()?;
            let t = storage.revoke_token(&id, clock.now())?;
            println!(
                "token {} '{}' revoked on {}",
                t.id,
                t.name,
                t.revoked_at.as_ref().map(day).unwrap_or_default()
            );
            Ok(())
        }
    }
}

fn token_json(t: &TokenInfo, now: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "name": t.name,
        "kind": t.kind.as_str(),
        "scope": scope_text(&t.scope),
        "created_at": t.created_at.to_rfc3339(),
        "expires_at": t.expires_at.map(|e| e.to_rfc3339()),
        "revoked_at": t.revoked_at.map(|e| e.to_rfc3339()),
        "state": t.state(now).as_str(),
    })
}

fn print_table(list: &[TokenInfo], now: DateTime<Utc>) {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header(["id", "name", "kind", "scope", "created", "expires", "state"]);
    for t in list {
        table.add_row([
            t.id.clone(),
            t.name.clone(),
            t.kind.as_str().to_string(),
            scope_text(&t.scope).to_string(),
            day(&t.created_at),
            t.expires_at.as_ref().map_or("never".into(), day),
            t.state(now).as_str().to_string(),
        ]);
    }
    if list.is_empty() {
        println!("no tokens yet: `usagedesk-cloud token create --db DB --account ID` makes one");
    } else {
        println!("{table}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_never_or_a_bounded_duration() {
        let now = Utc::now();
        assert_eq!(expiry("never", now).unwrap(), None);
        assert_eq!(
            expiry("90d", now).unwrap(),
            Some(now + chrono::Duration::days(90))
        );
        let e = expiry("100000000y", now).unwrap_err().to_string();
        assert!(e.contains("too long") && e.contains("3650 days"), "{e}");
        assert!(expiry("soon", now).is_err());
    }
}
