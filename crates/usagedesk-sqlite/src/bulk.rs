//! Bulk writes: a table's secondary indexes dropped before many rows go in and created
//! again after, from their own definitions, inside the caller's transaction. Creating an
//! index sorts its keys once; keeping it up to date row by row writes each key at a random
//! place (on a 600k-row table, most of the cost of filling it).

use rusqlite::Connection;

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
