//! Customer reporting on PostgreSQL: reading licenses, reports, events and install attempts
//! back, writing check-ins, and the API's reads.

use sqlx::postgres::PgConnection;
use usagedesk_domain::customer::{InstanceEvent, InstanceReport};

use super::customer_rows::{event_row, report_row, EVENT_COLS, REPORT_COLS};
use super::feed::touch;
use super::opt_time_col;
use crate::customers::rules::time_text;
use crate::storage::{
    CheckInRecord, CheckInWritten, Conflict, LastCheckIn, StoreError, TokenScope,
};

/// Inserts or replaces a report, keeping the signed time of the last check-in.
const REPORT_UPSERT: &str = "INSERT INTO instance_reports(instance_id, status,
       app_version, distribution, kubernetes_version, embedded_cluster, nodes_ready, nodes_total,
       agent_version, cloud_provider, region, first_check_in, last_check_in)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status,
       app_version = excluded.app_version, distribution = excluded.distribution,
       kubernetes_version = excluded.kubernetes_version,
       embedded_cluster = excluded.embedded_cluster, nodes_ready = excluded.nodes_ready,
       nodes_total = excluded.nodes_total, agent_version = excluded.agent_version,
       cloud_provider = excluded.cloud_provider, region = excluded.region,
       first_check_in = excluded.first_check_in, last_check_in = excluded.last_check_in";

async fn write_report(conn: &mut PgConnection, r: &InstanceReport) -> Result<(), StoreError> {
    let c = &r.cluster;
    sqlx::query(REPORT_UPSERT)
        .bind(&r.instance_id)
        .bind(r.status.as_str())
        .bind(&r.app_version)
        .bind(&c.distribution)
        .bind(&c.kubernetes_version)
        .bind(c.embedded_cluster)
        .bind(c.nodes_ready.map(i64::from))
        .bind(c.nodes_total.map(i64::from))
        .bind(&c.agent_version)
        .bind(&c.cloud_provider)
        .bind(&c.region)
        .bind(time_text(&r.first_check_in))
        .bind(time_text(&r.last_check_in))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sends the customer data of `account_id` again (its account moved into new scopes).
pub(super) async fn touch_customer_data_of(
    conn: &mut PgConnection,
    account_id: &str,
) -> Result<(), StoreError> {
    for (kind, sql) in [
        ("license", "SELECT id FROM licenses WHERE account_id = $1"),
        (
            "attempt",
            "SELECT t.id FROM install_attempts t JOIN licenses l ON l.id = t.license_id
             WHERE l.account_id = $1",
        ),
        (
            "report",
            "SELECT r.instance_id FROM instance_reports r JOIN instances i ON i.id = r.instance_id
             WHERE i.account_id = $1",
        ),
        (
            "event",
            "SELECT CAST(e.id AS TEXT) FROM instance_events e
             JOIN instances i ON i.id = e.instance_id WHERE i.account_id = $1 ORDER BY e.id",
        ),
    ] {
        let keys: Vec<String> = sqlx::query_scalar(sql)
            .bind(account_id)
            .fetch_all(&mut *conn)
            .await?;
        let touches: Vec<(&str, String, String)> = keys
            .into_iter()
            .map(|k| (kind, account_id.to_owned(), k))
            .collect();
        super::feed::touch_all(conn, &touches).await?;
    }
    Ok(())
}

pub(super) async fn last_check_in(
    conn: &mut PgConnection,
    instance_id: &str,
) -> Result<Option<LastCheckIn>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {REPORT_COLS}, r.signed_at FROM instance_reports r WHERE r.instance_id = $1"
    ))
    .bind(instance_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(LastCheckIn {
            report: report_row(&r, 0, instance_id.to_owned())?,
            signed_at: opt_time_col(&r, 12)?,
        })
    })
    .transpose()
}

/// The body of [`crate::storage::Customers::write_check_in`], in a transaction holding the
/// write lock.
pub(super) async fn write_check_in(
    tx: &mut PgConnection,
    c: &CheckInRecord,
) -> Result<CheckInWritten, StoreError> {
    let id = &c.report.instance_id;
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT account_id, public_key FROM instances WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((account, pinned)) = row else {
        return Err(Conflict::InstanceRemoved {
            instance: id.clone(),
        }
        .into());
    };
    // The key was checked before this transaction; a reset since then voids the signature.
    c.still_pinned(pinned.as_deref())?;
    if last_check_in(tx, id).await? != c.judged_against {
        return Ok(CheckInWritten::Stale);
    }
    write_report(tx, &c.report).await?;
    sqlx::query("UPDATE instance_reports SET signed_at = $2 WHERE instance_id = $1")
        .bind(id)
        .bind(time_text(&c.signed_at))
        .execute(&mut *tx)
        .await?;
    touch(tx, "report", &account, id).await?;
    for e in &c.events {
        let event_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO instance_events(instance_id, field, previous, new, received_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (instance_id, received_at, field) DO NOTHING RETURNING id",
        )
        .bind(&e.instance_id)
        .bind(&e.field)
        .bind(&e.previous)
        .bind(&e.new)
        .bind(time_text(&e.received_at))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(event_id) = event_id else {
            return Err(Conflict::SameMillisecond {
                instance: id.clone(),
            }
            .into());
        };
        touch(tx, "event", &account, &event_id.to_string()).await?;
    }
    Ok(CheckInWritten::Written)
}

/// The condition that the instance `$1` exists and (`$2`) the scope sees it.
fn visible_instance_sql(scope: &TokenScope) -> &'static str {
    match scope {
        TokenScope::All => "EXISTS (SELECT 1 FROM instances i WHERE i.id = $1)",
        TokenScope::Subtree(_) => {
            "EXISTS (SELECT 1 FROM instances i JOIN closure c
                     ON c.descendant = i.account_id AND c.ancestor = $2 WHERE i.id = $1)"
        }
    }
}

pub(super) async fn instance_report(
    conn: &mut PgConnection,
    scope: &TokenScope,
    instance_id: &str,
) -> Result<Option<InstanceReport>, StoreError> {
    let sql = format!(
        "SELECT {REPORT_COLS} FROM instance_reports r WHERE r.instance_id = $1 AND {}",
        visible_instance_sql(scope)
    );
    let mut q = sqlx::query(&sql).bind(instance_id);
    if let Some(root) = super::scope_root(scope) {
        q = q.bind(root);
    }
    q.fetch_optional(&mut *conn)
        .await?
        .map(|r| report_row(&r, 0, instance_id.to_owned()))
        .transpose()
}

pub(super) async fn instance_events(
    conn: &mut PgConnection,
    scope: &TokenScope,
    instance_id: &str,
) -> Result<Vec<InstanceEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLS} FROM instance_events e WHERE e.instance_id = $1 AND {}
         ORDER BY e.received_at, e.id",
        visible_instance_sql(scope)
    );
    let mut q = sqlx::query(&sql).bind(instance_id);
    if let Some(root) = super::scope_root(scope) {
        q = q.bind(root);
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| event_row(r, 0))
        .collect()
}
