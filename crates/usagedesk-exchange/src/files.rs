//! Reading and writing exchange files on the manager's computer: bounded reads (a wrong pick
//! of a huge file is refused before it is read) and writes that never leave half a file.

use std::path::Path;

use crate::ExchangeError;

/// The largest file read as an exchange file (each format's own, smaller limit is checked
/// again when it is parsed).
pub const MAX_EXCHANGE_FILE_BYTES: u64 = 8 << 20;

/// The bytes of the exchange file at `path`, refused unread when it is larger than
/// [`MAX_EXCHANGE_FILE_BYTES`].
pub fn read_exchange_file(path: &Path) -> Result<Vec<u8>, ExchangeError> {
    let io = |source| ExchangeError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_EXCHANGE_FILE_BYTES {
        return Err(ExchangeError::NotAnExchangeFile {
            path: path.to_owned(),
            len,
        });
    }
    std::fs::read(path).map_err(io)
}

/// Writes `bytes` at `path` through a temporary file in the same folder, renamed into place
/// when complete.
pub fn write_exchange_file(path: &Path, bytes: &[u8]) -> Result<(), ExchangeError> {
    let io = |source| ExchangeError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_refuses_oversized_ones_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inst.usagedesk-synckey");
        write_exchange_file(&path, b"key").unwrap();
        assert_eq!(read_exchange_file(&path).unwrap(), b"key");
        write_exchange_file(&path, b"new").unwrap();
        assert_eq!(read_exchange_file(&path).unwrap(), b"new", "replaced whole");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left behind"
        );

        let big = dir.path().join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_EXCHANGE_FILE_BYTES + 1)
            .unwrap();
        let err = read_exchange_file(&big).unwrap_err();
        assert!(
            matches!(err, ExchangeError::NotAnExchangeFile { len, .. } if len == MAX_EXCHANGE_FILE_BYTES + 1)
        );
        assert!(err.to_string().contains("right file"), "{err}");

        let err = read_exchange_file(&dir.path().join("missing")).unwrap_err();
        assert!(
            matches!(err, ExchangeError::Io { action: "read", .. }),
            "{err}"
        );
        let err = write_exchange_file(&dir.path().join("no/such/dir/f"), b"x").unwrap_err();
        assert!(
            matches!(
                err,
                ExchangeError::Io {
                    action: "write",
                    ..
                }
            ),
            "{err}"
        );
    }
}
