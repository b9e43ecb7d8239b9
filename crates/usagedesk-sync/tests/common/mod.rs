//! Comparing whole cache files.

use std::collections::BTreeMap;
use std::path::Path;

/// Every row of every table of a cache file, the local account keys replaced by account ids,
/// sorted. Left out: the sync bookkeeping (cursor, server URL, times, the sync log).
pub fn contents(path: &Path) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(path).expect("open cache file");
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT IN ('sqlite_sequence', 'sync_state', 'sync_log') ORDER BY name",
        )
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    let mut out = BTreeMap::new();
    for table in tables {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .expect("columns")
            .query_map([], |r| r.get(0))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("columns");
        let select: Vec<String> = columns
            .iter()
            .filter(|c| !(table == "accounts" && *c == "k"))
            .map(|c| match c.as_str() {
                // Local account keys (the entitlement tables' holder too).
                "account_k" | "holder_k" => format!("(SELECT id FROM accounts WHERE k = t.{c})"),
                other => format!("t.\"{other}\""),
            })
            .collect();
        let mut stmt = conn
            .prepare(&format!("SELECT {} FROM \"{table}\" t", select.join(", ")))
            .expect("select");
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("rows")
            .map(|r| format!("{:?}", r.expect("row")))
            .collect();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

/// The rows of `got` a fresh cache lacks (`+`) and those it has that `got` lacks (`-`),
/// by table.
pub fn difference(
    got: &BTreeMap<String, Vec<String>>,
    fresh: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let empty = Vec::new();
    let mut out = Vec::new();
    for table in got
        .keys()
        .chain(fresh.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (g, f) = (
            got.get(table).unwrap_or(&empty),
            fresh.get(table).unwrap_or(&empty),
        );
        out.extend(
            g.iter()
                .filter(|r| !f.contains(r))
                .map(|r| format!("{table} + {r}")),
        );
        out.extend(
            f.iter()
                .filter(|r| !g.contains(r))
                .map(|r| format!("{table} - {r}")),
        );
    }
    out
}
