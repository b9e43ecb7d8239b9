//! The tokens table: hashes only, with public ids, expiry and revocation; and the link from a
//! manager's certificate to its token.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{parse_time, time_text};
use crate::storage::{
    NewToken, RevokedCertificate, StoreError, TokenGrant, TokenInfo, TokenKind, TokenScope,
};

fn kind_of(text: &str) -> TokenKind {
    if text == "ingest" {
        TokenKind::Ingest
    } else {
        TokenKind::Manager
    }
}

fn time(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|t| {
        parse_time(&t)
            .map_err(|e| StoreError::other(format!("a stored time '{t}' is unreadable: {e}")))
    })
    .transpose()
}

pub(super) fn add(conn: &Connection, t: &NewToken) -> Result<(), StoreError> {
    let account = match &t.scope {
        TokenScope::All => None,
        TokenScope::Subtree(id) => {
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)",
                [id],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::Invalid(format!(
                    "account '{id}' does not exist; load it first or check the id"
                )));
            }
            Some(id.as_str())
        }
    };
    conn.execute(
        "INSERT INTO tokens(hash, id, account_id, name, kind, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            t.hash.as_slice(),
            t.id,
            account,
            t.name,
            t.kind.as_str(),
            time_text(&t.created_at),
            t.expires_at.as_ref().map(time_text)
        ],
    )?;
    Ok(())
}

pub(super) fn authenticate(
    conn: &Connection,
    hash: [u8; 32],
) -> Result<Option<TokenGrant>, StoreError> {
    type Row = (
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT id, account_id, kind, name, expires_at, revoked_at FROM tokens WHERE hash = ?1",
        )?
        .query_row([hash.as_slice()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let Some((id, account, kind, name, expires_at, revoked_at)) = row else {
        return Ok(None);
    };
    Ok(Some(TokenGrant {
        id,
        scope: account.map_or(TokenScope::All, TokenScope::Subtree),
        kind: kind_of(&kind),
        name,
        expires_at: time(expires_at)?,
        revoked_at: time(revoked_at)?,
    }))
}

const INFO_COLS: &str = "id, name, kind, account_id, created_at, expires_at, revoked_at";

fn info_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<[Option<String>; 7]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ])
}

fn info(row: [Option<String>; 7]) -> Result<TokenInfo, StoreError> {
    let [id, name, kind, account, created, expires, revoked] = row;
    Ok(TokenInfo {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        kind: kind_of(kind.as_deref().unwrap_or_default()),
        scope: account.map_or(TokenScope::All, TokenScope::Subtree),
        created_at: time(created)?.unwrap_or_default(),
        expires_at: time(expires)?,
        revoked_at: time(revoked)?,
    })
}

pub(super) fn list(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = conn
        .prepare(&format!(
            "SELECT {INFO_COLS} FROM tokens ORDER BY created_at, id"
        ))?
        .query_map([], info_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(info).collect()
}

pub(super) fn revoke(
    conn: &Connection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<TokenInfo, StoreError> {
    let changed = conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, time_text(&now)],
    )?;
    let row = conn
        .query_row(
            &format!("SELECT {INFO_COLS} FROM tokens WHERE id = ?1"),
            [id],
            info_row,
        )
        .optional()?;
    match row {
        Some(row) => {
            if changed > 0 {
                tracing::info!(token = id, "revoked a token");
            }
            info(row)
        }
        None => Err(StoreError::NotFound(format!(
            "no token has the id '{id}'; `usagedesk-cloud token list` shows the ids"
        ))),
    }
}

pub(super) fn revoked_certificate(
    conn: &Connection,
    certificate_sha256: &str,
) -> Result<Option<RevokedCertificate>, StoreError> {
    let row: Option<(String, String, String)> = conn
        .prepare_cached(
            "SELECT t.id, d.subject, t.revoked_at FROM delegations d
             JOIN tokens t ON t.id = d.token_id
             WHERE d.certificate_sha256 = ?1 AND t.revoked_at IS NOT NULL
             LIMIT 1",
        )?
        .query_row([certificate_sha256], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(token_id, subject, revoked_at)| {
        Ok(RevokedCertificate {
            token_id,
            subject,
            revoked_at: time(Some(revoked_at))?.unwrap_or_default(),
        })
    })
    .transpose()
}
