//! Moving many entities to the head of the change feed, as a load does: one multi-row
//! statement per [`BATCH`] entities instead of one per entity. Each statement on `feed` also
//! reads and rewrites its AUTOINCREMENT counter, which cost more than the row itself.

use rusqlite::{Connection, Statement};

/// Entities per statement (three parameters each).
pub(super) const BATCH: usize = 64;

/// `INSERT OR REPLACE INTO feed` of `n` rows `(kind, account_id, key)`, in order: the
/// entities get increasing `seq` values in the order given, exactly as `n` single touches.
pub(super) fn insert_sql(n: usize) -> String {
    format!(
        "INSERT OR REPLACE INTO feed (kind, account_id, key) VALUES {}",
        vec!["(?, ?, ?)"; n].join(", ")
    )
}

/// Buffers touches and writes them [`BATCH`] at a time; [`FeedWriter::finish`] writes the
/// rest. Nothing must read the feed between a touch and the write that holds it.
#[must_use = "finish() writes the touches still buffered"]
pub(super) struct FeedWriter<'c> {
    conn: &'c Connection,
    batch: Statement<'c>,
    pending: Vec<(&'static str, String, String)>,
}

impl<'c> FeedWriter<'c> {
    pub(super) fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Self {
            conn,
            batch: conn.prepare(&insert_sql(BATCH))?,
            pending: Vec::with_capacity(BATCH),
        })
    }

    /// Moves an entity to the head of the feed (see `super::touch`).
    pub(super) fn touch(
        &mut self,
        kind: &'static str,
        account_id: &str,
        key: &str,
    ) -> rusqlite::Result<()> {
        self.pending
            .push((kind, account_id.to_owned(), key.to_owned()));
        if self.pending.len() == BATCH {
            write(&mut self.batch, &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes the touches still buffered.
    pub(super) fn finish(self) -> rusqlite::Result<()> {
        if !self.pending.is_empty() {
            let mut stmt = self.conn.prepare(&insert_sql(self.pending.len()))?;
            write(&mut stmt, &self.pending)?;
        }
        Ok(())
    }
}

fn write(
    stmt: &mut Statement<'_>,
    rows: &[(&'static str, String, String)],
) -> rusqlite::Result<()> {
    for (i, (kind, account_id, key)) in rows.iter().enumerate() {
        stmt.raw_bind_parameter(i * 3 + 1, kind)?;
        stmt.raw_bind_parameter(i * 3 + 2, account_id)?;
        stmt.raw_bind_parameter(i * 3 + 3, key)?;
    }
    stmt.raw_execute()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE feed (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
                 account_id TEXT NOT NULL, key TEXT NOT NULL DEFAULT '',
                 UNIQUE (account_id, kind, key));",
        )
        .unwrap();
        conn
    }

    fn rows(conn: &Connection) -> Vec<(i64, String, String, String)> {
        conn.prepare("SELECT seq, kind, account_id, key FROM feed ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn batched_touches_give_the_feed_of_single_touches() {
        let touches: Vec<(&'static str, String, String)> = (0..BATCH * 2 + 5)
            .map(|i| {
                // Every seventh touch repeats an earlier entity: it moves to a later seq.
                let n = if i % 7 == 6 { i / 2 } else { i };
                (
                    "month",
                    format!("acc-{}", n % 40),
                    format!("2024-{:02}", n % 12 + 1),
                )
            })
            .collect();
        let single = feed();
        for (kind, account, key) in &touches {
            single
                .execute(
                    "INSERT OR REPLACE INTO feed (kind, account_id, key) VALUES (?1, ?2, ?3)",
                    (kind, account, key),
                )
                .unwrap();
        }
        let batched = feed();
        let mut w = FeedWriter::new(&batched).unwrap();
        for (kind, account, key) in &touches {
            w.touch(kind, account, key).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            rows(&batched),
            rows(&single),
            "same entities, same order, same seq values"
        );
    }
}
