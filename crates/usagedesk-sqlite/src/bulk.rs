//! Bulk writes:
//! - many rows per statement ([`insert_batched`]): SQLite's work per statement is paid once
//!   per [`ROWS_PER_STATEMENT`] rows;
//! - a table's secondary indexes dropped before many rows go in and created again after,
//!   from their own definitions, inside the caller's transaction ([`drop_indexes`]).
//!   Creating an index sorts its keys once; keeping it up to date row by row writes each key
//!   at a random place (on a 600k-row table, most of the cost of filling it).

use rusqlite::{Connection, Statement};

/// Rows one statement of [`insert_batched`] writes.
pub const ROWS_PER_STATEMENT: usize = 64;

/// `n` groups of `width` parameters: `(?, ?), (?, ?)` for the VALUES of a multi-row INSERT.
pub fn values(n: usize, width: usize) -> String {
    let one = format!("({})", vec!["?"; width].join(", "));
    vec![one; n].join(", ")
}

/// Writes `rows` in order, [`ROWS_PER_STATEMENT`] per statement: `sql(n)` is the statement
/// for `n` rows of `width` parameters each (see [`values`]), and `bind` binds one row's from
/// the index given. The result is that of one statement per row, in the same order.
pub fn insert_batched<T>(
    conn: &Connection,
    sql: impl Fn(usize) -> String,
    width: usize,
    rows: &[T],
    bind: impl Fn(&mut Statement<'_>, usize, &T) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut full = if rows.len() >= ROWS_PER_STATEMENT {
        Some(conn.prepare_cached(&sql(ROWS_PER_STATEMENT))?)
    } else {
        None
    };
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut rest;
        let st: &mut Statement<'_> = match full.as_mut() {
            Some(full) if chunk.len() == ROWS_PER_STATEMENT => full,
            _ => {
                rest = conn.prepare(&sql(chunk.len()))?;
                &mut rest
            }
        };
        for (i, row) in chunk.iter().enumerate() {
            bind(st, i * width + 1, row)?;
        }
        st.raw_execute()?;
    }
    Ok(())
}

/// The indexes [`drop_indexes`] dropped, to be created again with [`Dropped::restore`].
#[must_use = "restore() creates the dropped indexes again"]
pub struct Dropped(Vec<String>);

/// Drops every explicitly created index of `table` (not the primary key or UNIQUE
/// constraints). Call inside a transaction: a rollback brings them back.
pub fn drop_indexes(conn: &Connection, table: &str) -> rusqlite::Result<Dropped> {
    let list: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
        )?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &list {
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(Dropped(list.into_iter().map(|(_, sql)| sql).collect()))
}

impl Dropped {
    /// Creates the indexes again, as they were defined.
    pub fn restore(self, conn: &Connection) -> rusqlite::Result<()> {
        for sql in &self.0 {
            conn.execute_batch(sql)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn batches_write_what_one_statement_per_row_would() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        // Two full statements and a rest; key 7 written again in the same statement (row 10)
        // and in a later one (row 100): the last value stays, as with one INSERT OR REPLACE
        // per row in order.
        let rows: Vec<(i64, String)> = (0..2 * ROWS_PER_STATEMENT as i64 + 5)
            .map(|i| (if i == 10 || i == 100 { 7 } else { i }, format!("v{i}")))
            .collect();
        insert_batched(
            &conn,
            |n| format!("INSERT OR REPLACE INTO t (k, v) VALUES {}", values(n, 2)),
            2,
            &rows,
            |st, at, (k, v)| {
                st.raw_bind_parameter(at, k)?;
                st.raw_bind_parameter(at + 1, v)
            },
        )
        .unwrap();
        let stored: Vec<(i64, String)> = conn
            .prepare("SELECT k, v FROM t ORDER BY k")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut expected: std::collections::BTreeMap<i64, String> = Default::default();
        for (k, v) in &rows {
            expected.insert(*k, v.clone());
        }
        assert_eq!(stored, expected.into_iter().collect::<Vec<_>>());
        assert_eq!(stored[7].1, "v100", "the later of two rows of one key");
    }

    #[test]
    fn indexes_come_back_as_defined_and_keep_answering() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT UNIQUE, c INTEGER);
             CREATE INDEX t_c ON t (c DESC, b);
             CREATE TABLE u (x INTEGER);
             CREATE INDEX u_x ON u (x);",
        )
        .unwrap();
        let before = schema(&conn);
        let dropped = drop_indexes(&conn, "t").unwrap();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // Only t's own index goes: the UNIQUE constraint's and u's stay.
        assert_eq!(names, ["sqlite_autoindex_t_1", "u_x"]);
        conn.execute_batch("INSERT INTO t (b, c) VALUES ('x', 2), ('y', 1)")
            .unwrap();
        dropped.restore(&conn).unwrap();
        assert_eq!(
            schema(&conn),
            before,
            "the same definitions, in the same place"
        );
        let by_c: Vec<String> = conn
            .prepare("SELECT b FROM t INDEXED BY t_c WHERE c > 0 ORDER BY c DESC")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            by_c,
            ["x", "y"],
            "the rebuilt index holds the rows written meanwhile"
        );
    }
}
