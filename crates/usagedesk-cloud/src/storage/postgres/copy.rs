//! Rows for `COPY … FROM STDIN` (PostgreSQL's text format), sent in chunks of [`CHUNK`] as
//! they are made: a bulk load streams its rows instead of binding parameters.

use sqlx::postgres::{PgConnection, PgCopyIn};

use crate::storage::StoreError;

/// 128 KiB: the server works on one chunk while the next is made (with a megabyte, sending
/// waited for the server to take most of it before the client made more).
const CHUNK: usize = 1 << 17;

/// Appends `s` as a field of the text format: backslash, tab, newline and carriage return
/// escaped, the bytes between them as one slice each.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let mut rest = s.as_bytes();
    while let Some(at) = rest
        .iter()
        .position(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        buf.extend_from_slice(&rest[..at]);
        buf.extend_from_slice(match rest[at] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        rest = &rest[at + 1..];
    }
    buf.extend_from_slice(rest);
}

/// A `COPY` in progress: fields are escaped into a buffer that is sent when full.
pub(super) struct Copy<'c> {
    copy: PgCopyIn<&'c mut PgConnection>,
    buf: Vec<u8>,
    first: bool,
    rows: u64,
}

impl<'c> Copy<'c> {
    /// Starts `COPY table (columns) FROM STDIN`.
    pub(super) async fn start(
        conn: &'c mut PgConnection,
        table_and_columns: &str,
    ) -> Result<Copy<'c>, StoreError> {
        Self::start_frozen_if(false, conn, table_and_columns).await
    }

    /// Starts `COPY table (columns) FROM STDIN WITH (FREEZE)` when `frozen` (else as
    /// [`start`](Self::start)): the rows are written already frozen and visible to all, so the
    /// first readers after the commit need not look up and mark every row's transaction. The
    /// table must have been truncated (or created) in this transaction.
    pub(super) async fn start_frozen_if(
        frozen: bool,
        conn: &'c mut PgConnection,
        table_and_columns: &str,
    ) -> Result<Copy<'c>, StoreError> {
        let with = if frozen { " WITH (FREEZE)" } else { "" };
        let copy = conn
            .copy_in_raw(&format!("COPY {table_and_columns} FROM STDIN{with}"))
            .await?;
        Ok(Self {
            copy,
            buf: Vec::with_capacity(CHUNK + 4096),
            first: true,
            rows: 0,
        })
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    /// A text field.
    pub(super) fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        escape_into(&mut self.buf, s);
        self
    }

    /// A text field or NULL.
    pub(super) fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => {
                self.sep();
                self.buf.extend_from_slice(b"\\N");
                self
            }
        }
    }

    /// An integer field.
    pub(super) fn int(&mut self, n: i64) -> &mut Self {
        self.sep();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self
    }

    /// An integer field or NULL.
    pub(super) fn opt_int(&mut self, n: Option<i64>) -> &mut Self {
        match n {
            Some(n) => self.int(n),
            None => self.opt_text(None),
        }
    }

    /// A boolean field.
    pub(super) fn bool(&mut self, b: bool) -> &mut Self {
        self.text(if b { "t" } else { "f" })
    }

    /// Ends the row; sends the buffer when it is full.
    pub(super) async fn end_row(&mut self) -> Result<(), StoreError> {
        self.buf.push(b'\n');
        self.first = true;
        self.rows += 1;
        if self.buf.len() >= CHUNK {
            self.copy.send(std::mem::take(&mut self.buf)).await?;
            self.buf.reserve(CHUNK + 4096);
        }
        Ok(())
    }

    /// Sends the rest and ends the `COPY`; returns the rows copied.
    pub(super) async fn finish(mut self) -> Result<u64, StoreError> {
        if !self.buf.is_empty() {
            self.copy.send(std::mem::take(&mut self.buf)).await?;
        }
        self.copy.finish().await?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    /// The text format's rule, one character at a time (PostgreSQL's `COPY` documentation:
    /// backslash, newline, carriage return and tab are written as `\\`, `\n`, `\r`, `\t`).
    fn by_the_rule(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '\\' => "\\\\".to_string(),
                '\n' => "\\n".to_string(),
                '\r' => "\\r".to_string(),
                '\t' => "\\t".to_string(),
                c => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn fields_are_escaped_as_the_text_format_says() {
        for s in [
            "",
            "plain",
            "\\",
            "a\tb\nc\rd\\e",
            "\t\t",
            "ends with \\",
            "\nstarts",
            "naïve \u{1F600}\tüñí",
        ] {
            let mut buf = Vec::new();
            escape_into(&mut buf, s);
            assert_eq!(String::from_utf8(buf).unwrap(), by_the_rule(s), "{s:?}");
        }
    }
}
