//! The change feed's cursors: `{epoch}.{position}`, where the epoch names the dataset (a
//! restored or rotated database gets a new one) and the position is the last feed entry the
//! client read. The rules here hold for every engine; engines only read entries after a
//! position ([`Feed::feed_after`]).

use crate::storage::{Feed, FeedPage, StoreError, TokenScope};

/// The page of `scope`'s feed after `cursor` (`None` or empty: from the start).
///
/// - A cursor that is not `{16 hex digits}.{position}` was not issued here:
///   [`StoreError::BadCursor`].
/// - A cursor of another epoch belongs to another dataset: [`StoreError::CursorExpired`].
/// - A position beyond the feed's head was issued by a later state of this database (it was
///   restored from an older backup): [`StoreError::CursorAhead`].
pub fn page<S: Feed + ?Sized>(
    store: &S,
    scope: &TokenScope,
    cursor: Option<&str>,
    limit: usize,
    count: bool,
) -> Result<FeedPage, StoreError> {
    let epoch = store.feed_epoch()?;
    let after = position(&epoch, cursor)?;
    let rows = store.feed_after(scope, after, limit, count)?;
    if after > rows.head {
        return Err(StoreError::CursorAhead);
    }
    Ok(FeedPage {
        changes: rows.changes,
        next_cursor: cursor_text(&epoch, rows.last_seq),
        has_more: rows.has_more,
        remaining: rows.remaining,
    })
}

/// The cursor of position `seq` in dataset `epoch`.
pub fn cursor_text(epoch: &str, seq: u64) -> String {
    format!("{epoch}.{seq}")
}

/// The position a cursor names, checked against the dataset's epoch.
pub fn position(epoch: &str, cursor: Option<&str>) -> Result<u64, StoreError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    let bad = || StoreError::BadCursor(c.into());
    let (given, seq) = c.split_once('.').ok_or_else(bad)?;
    // Positions are stored as signed 64-bit integers by every engine.
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if given.len() != 16 || !given.bytes().all(|b| b.is_ascii_hexdigit()) || seq < 0 {
        return Err(bad());
    }
    if given != epoch {
        return Err(StoreError::CursorExpired);
    }
    Ok(seq as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: &str = "00112233aabbccdd";

    #[test]
    fn no_cursor_starts_at_the_beginning_and_a_cursor_names_its_position() {
        assert_eq!(position(EPOCH, None).unwrap(), 0);
        assert_eq!(position(EPOCH, Some("")).unwrap(), 0);
        let c = cursor_text(EPOCH, 42);
        assert_eq!(c, "00112233aabbccdd.42");
        assert_eq!(position(EPOCH, Some(&c)).unwrap(), 42);
    }

    #[test]
    fn malformed_cursors_are_bad_and_foreign_epochs_expired() {
        for c in [
            "x",
            "00112233aabbccdd",
            "00112233aabbccdd.-1",
            "0011.5",
            "zz112233aabbccdd.1",
        ] {
            assert!(
                matches!(position(EPOCH, Some(c)), Err(StoreError::BadCursor(_))),
                "{c} is not a cursor this service issues"
            );
        }
        assert!(matches!(
            position(EPOCH, Some("ffffffffffffffff.3")),
            Err(StoreError::CursorExpired)
        ));
    }
}
