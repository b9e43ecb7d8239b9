//! Rows read by `COPY (query) TO STDOUT (FORMAT binary)`, decoded by hand as they arrive: for
//! the feed's largest kinds, whose rows are many and narrow. The driver's row machinery (a
//! row object, its column metadata and a checked decode per value) was about half of the
//! client's time reading the feed; a tuple of the binary format is a field count and, per
//! field, a length and the value's bytes.
//!
//! The format: <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>

use futures_util::TryStreamExt;
use sqlx::postgres::PgConnection;

use crate::storage::StoreError;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The fields of one tuple, in the query's column order.
pub(super) struct Tuple<'b> {
    fields: &'b [Option<&'b [u8]>],
}

impl<'b> Tuple<'b> {
    fn field(&self, i: usize) -> Result<&'b [u8], StoreError> {
        match self.fields.get(i) {
            Some(Some(bytes)) => Ok(bytes),
            Some(None) => Err(malformed(&format!("column {i} is NULL"))),
            None => Err(malformed(&format!("the tuple has no column {i}"))),
        }
    }

    /// A `bigint` column.
    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        let b: [u8; 8] = self
            .field(i)?
            .try_into()
            .map_err(|_| malformed(&format!("column {i} is not 8 bytes")))?;
        Ok(i64::from_be_bytes(b))
    }

    /// A `text` column.
    pub fn str(&self, i: usize) -> Result<&'b str, StoreError> {
        std::str::from_utf8(self.field(i)?)
            .map_err(|_| malformed(&format!("column {i} is not UTF-8")))
    }

    /// A nullable `text` column.
    pub fn opt_str(&self, i: usize) -> Result<Option<&'b str>, StoreError> {
        match self.fields.get(i) {
            Some(None) => Ok(None),
            _ => self.str(i).map(Some),
        }
    }
}

fn malformed(what: &str) -> StoreError {
    StoreError::other(format!(
        "PostgreSQL sent a binary COPY the service cannot read: {what}"
    ))
}

/// Runs `query` (the engine's own SQL, no parameters) as a binary `COPY` and hands each tuple
/// to `each` as it arrives; returns how many tuples were read.
pub(super) async fn each_tuple(
    conn: &mut PgConnection,
    query: &str,
    columns: usize,
    mut each: impl FnMut(&Tuple<'_>) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let mut stream = conn
        .copy_out_raw(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await?;
    let mut parser = Parser::new(columns);
    let mut failed = None;
    while let Some(chunk) = stream.try_next().await? {
        // After a failure the stream is still read to its end: the connection stays usable.
        if failed.is_none() {
            if let Err(e) = parser.feed(&chunk, &mut each) {
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => parser.finish(),
    }
}

/// The binary format's state between chunks: a tuple may be cut across them.
struct Parser {
    columns: usize,
    header_read: bool,
    ended: bool,
    tuples: usize,
    /// The unread tail of the previous chunks (empty when they ended on a tuple's end).
    carry: Vec<u8>,
}

impl Parser {
    fn new(columns: usize) -> Self {
        Self {
            columns,
            header_read: false,
            ended: false,
            tuples: 0,
            carry: Vec::new(),
        }
    }

    fn feed(
        &mut self,
        chunk: &[u8],
        each: &mut impl FnMut(&Tuple<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if self.carry.is_empty() {
            let used = self.parse(chunk, each)?;
            self.carry.extend_from_slice(&chunk[used..]);
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(chunk);
            let used = self.parse(&joined, each)?;
            joined.drain(..used);
            self.carry = joined;
        }
        Ok(())
    }

    /// Reads every whole part of `buf`; returns how many bytes it used.
    fn parse(
        &mut self,
        buf: &[u8],
        each: &mut impl FnMut(&Tuple<'_>) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError> {
        let mut at = 0;
        if !self.header_read {
            // Signature, flags, then the header extension's length and bytes.
            let Some(ext_len) = read_i32(buf, SIGNATURE.len() + 4) else {
                return Ok(0);
            };
            if !buf.starts_with(SIGNATURE) {
                return Err(malformed("no binary COPY signature"));
            }
            let ext_len = usize::try_from(ext_len).map_err(|_| malformed("header length"))?;
            let end = SIGNATURE.len() + 8 + ext_len;
            if buf.len() < end {
                return Ok(0);
            }
            at = end;
            self.header_read = true;
        }
        let mut fields: Vec<Option<&[u8]>> = Vec::with_capacity(self.columns);
        while !self.ended {
            let Some(count) = read_i16(buf, at) else {
                break;
            };
            if count == -1 {
                self.ended = true;
                at += 2;
                break;
            }
            if usize::try_from(count).ok() != Some(self.columns) {
                return Err(malformed(&format!(
                    "a tuple of {count} columns where {} were asked for",
                    self.columns
                )));
            }
            fields.clear();
            let mut p = at + 2;
            let mut whole = true;
            for _ in 0..self.columns {
                let Some(len) = read_i32(buf, p) else {
                    whole = false;
                    break;
                };
                p += 4;
                if len == -1 {
                    fields.push(None);
                    continue;
                }
                let len = usize::try_from(len).map_err(|_| malformed("a negative length"))?;
                let Some(value) = buf.get(p..p + len) else {
                    whole = false;
                    break;
                };
                fields.push(Some(value));
                p += len;
            }
            if !whole {
                break;
            }
            each(&Tuple { fields: &fields })?;
            self.tuples += 1;
            at = p;
        }
        Ok(at)
    }

    fn finish(self) -> Result<usize, StoreError> {
        if !self.ended || !self.carry.is_empty() {
            return Err(malformed(
                "the COPY ended inside a tuple or without its trailer",
            ));
        }
        Ok(self.tuples)
    }
}

fn read_i16(buf: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY written by hand from the format's document: header with an empty
    /// extension, tuples, trailer.
    fn copy_of(tuples: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes()); // flags
        out.extend_from_slice(&0i32.to_be_bytes()); // extension length
        for t in tuples {
            out.extend_from_slice(&(t.len() as i16).to_be_bytes());
            for f in t {
                match f {
                    Some(b) => {
                        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        out.extend_from_slice(b);
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn read_all(chunks: &[&[u8]]) -> Result<Vec<(i64, Option<String>)>, StoreError> {
        let mut parser = Parser::new(2);
        let mut seen = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut |t: &Tuple<'_>| {
                seen.push((t.i64(0)?, t.opt_str(1)?.map(str::to_owned)));
                Ok(())
            })?;
        }
        assert_eq!(parser.finish()?, seen.len(), "every tuple read is counted");
        Ok(seen)
    }

    fn sample() -> (Vec<u8>, Vec<(i64, Option<String>)>) {
        let seven = 7i64.to_be_bytes();
        let minus = (-42i64).to_be_bytes();
        let bytes = copy_of(&[
            vec![Some(&seven[..]), Some("a\tb é".as_bytes())],
            vec![Some(&minus[..]), None],
            vec![Some(&seven[..]), Some(b"")],
        ]);
        let expected = vec![
            (7, Some("a\tb é".to_owned())),
            (-42, None),
            (7, Some(String::new())),
        ];
        (bytes, expected)
    }

    #[test]
    fn tuples_are_read_whole_however_the_stream_is_cut() {
        let (bytes, expected) = sample();
        // Every cut into two chunks, and one byte a chunk: a tuple or the header split
        // anywhere reads the same.
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(read_all(&[a, b]).unwrap(), expected, "cut at byte {cut}");
        }
        let bytes_one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_all(&bytes_one_by_one).unwrap(), expected);
    }

    #[test]
    fn a_cut_short_copy_is_refused() {
        let (bytes, _) = sample();
        // Without its trailer, or ending inside a tuple: never a shorter answer.
        for end in [bytes.len() - 2, bytes.len() - 5] {
            assert!(read_all(&[&bytes[..end]]).is_err(), "ends at {end}");
        }
    }

    #[test]
    fn a_wrong_signature_or_width_is_refused() {
        let (mut bytes, _) = sample();
        let wrong_width = {
            let one = 1i64.to_be_bytes();
            copy_of(&[vec![Some(&one[..])]])
        };
        assert!(
            read_all(&[&wrong_width]).is_err(),
            "one column where two were asked"
        );
        bytes[0] = b'X';
        assert!(read_all(&[&bytes]).is_err(), "no signature");
        let short_int = copy_of(&[vec![Some(&[1u8, 2][..]), None]]);
        assert!(read_all(&[&short_int]).is_err(), "a bigint of 2 bytes");
    }
}
