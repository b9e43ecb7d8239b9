//! Tokens on PostgreSQL: hashes only, with public ids, expiry and revocation.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgRow};

use super::{col, opt_time_col, time_col, time_text};
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

pub(super) async fn add(conn: &mut PgConnection, t: &NewToken) -> Result<(), StoreError> {
    let account = match &t.scope {
        TokenScope::All => None,
        TokenScope::Subtree(id) => {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
            if !exists {
                return Err(StoreError::Invalid(format!(
                    "account '{id}' does not exist; load it first or check the id"
                )));
            }
            Some(id.as_str())
        }
    };
    sqlx::query(
        "INSERT INTO tokens(hash, id, account_id, name, kind, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(t.hash.as_slice())
    .bind(&t.id)
    .bind(account)
    .bind(&t.name)
    .bind(t.kind.as_str())
    .bind(time_text(&t.created_at))
    .bind(t.expires_at.as_ref().map(time_text))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn authenticate(
    conn: &mut PgConnection,
    hash: [u8; 32],
) -> Result<Option<TokenGrant>, StoreError> {
    let row = sqlx::query(
        "SELECT id, account_id, kind, name, expires_at, revoked_at FROM tokens WHERE hash = $1",
    )
    .bind(hash.as_slice())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(TokenGrant {
            id: col(&r, 0)?,
            scope: col::<Option<String>>(&r, 1)?.map_or(TokenScope::All, TokenScope::Subtree),
            kind: kind_of(&col::<String>(&r, 2)?),
            name: col(&r, 3)?,
            expires_at: opt_time_col(&r, 4)?,
            revoked_at: opt_time_col(&r, 5)?,
        })
    })
    .transpose()
}

const INFO_COLS: &str = "id, name, kind, account_id, created_at, expires_at, revoked_at";

fn info(r: &PgRow) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: col(r, 0)?,
        name: col(r, 1)?,
        kind: kind_of(&col::<String>(r, 2)?),
        scope: col::<Option<String>>(r, 3)?.map_or(TokenScope::All, TokenScope::Subtree),
        created_at: time_col(r, 4)?,
        expires_at: opt_time_col(r, 5)?,
        revoked_at: opt_time_col(r, 6)?,
    })
}

pub(super) async fn list(conn: &mut PgConnection) -> Result<Vec<TokenInfo>, StoreError> {
    sqlx::query(&format!(
        "SELECT {INFO_COLS} FROM tokens ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(info)
    .collect()
}

pub(super) async fn revoke(
    conn: &mut PgConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<TokenInfo, StoreError> {
    let changed =
        sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(time_text(&now))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    let row = sqlx::query(&format!("SELECT {INFO_COLS} FROM tokens WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => {
            if changed > 0 {
                tracing::info!(token = id, "revoked a token");
            }
            info(&row)
        }
        None => Err(StoreError::NotFound(format!(
            "no token has the id '{id}'; `usagedesk-cloud token list` shows the ids"
        ))),
    }
}

pub(super) async fn revoked_certificate(
    conn: &mut PgConnection,
    certificate_sha256: &str,
) -> Result<Option<RevokedCertificate>, StoreError> {
    let row = sqlx::query(
        "SELECT t.id, d.subject, t.revoked_at FROM delegations d
         JOIN tokens t ON t.id = d.token_id
         WHERE d.certificate_sha256 = $1 AND t.revoked_at IS NOT NULL
         LIMIT 1",
    )
    .bind(certificate_sha256)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(RevokedCertificate {
            token_id: col(&r, 0)?,
            subject: col(&r, 1)?,
            revoked_at: time_col(&r, 2)?,
        })
    })
    .transpose()
}
