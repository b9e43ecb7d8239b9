//! Size-limited reads and atomic writes.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{AgentError, Result};

/// Reads all of `reader`, refusing more than `limit` bytes. `Ok(None)` when over the limit.
pub(crate) fn read_capped<R: Read>(reader: R, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Reads the file at `path`, which must be at most `limit` bytes of `what` ("a sync key").
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| AgentError::io("open", path, e))?;
    let too_large = || AgentError::TooLarge {
        file: path.display().to_string(),
        what,
        limit,
        hint: "",
    };
    // Cheap refusal first; the capped read below also covers files that grow while read.
    if file.metadata().map(|m| m.len() > limit).unwrap_or(false) {
        return Err(too_large());
    }
    read_capped(file, limit)
        .map_err(|e| AgentError::io("read", path, e))?
        .ok_or_else(too_large)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed to disk, then
/// renamed over `path`. A reader sees the old file or the whole new one, never a part. On
/// Unix the file gets `mode` (e.g. `0o600` for a secret key).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let temp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode.unwrap_or(0o644));
        }
        // Windows: no mode bits; the file takes the ACL of the (private) state folder.
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options
            .open(&temp)
            .map_err(|e| AgentError::io("create", &temp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| AgentError::io("write", &temp, e))?;
        fs::rename(&temp, path).map_err(|e| AgentError::io("write", path, e))?;
        // Make the rename itself durable (best effort). Windows cannot open a folder to sync
        // it; NTFS journals the rename's metadata itself.
        #[cfg(unix)]
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, vec![b'x'; 100]).unwrap();
        assert_eq!(read_limited(&path, 100, "a test file").unwrap().len(), 100);
        let e = read_limited(&path, 99, "a test file").unwrap_err();
        assert_eq!(e.code(), "too_large");
        assert!(
            e.to_string().contains("99-byte limit for a test file"),
            "{e}"
        );
        assert_eq!(read_capped(&b"abc"[..], 2).unwrap(), None);
        assert_eq!(read_capped(&b"ab"[..], 2).unwrap().unwrap(), b"ab");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"one", None).unwrap();
        write_atomic(&path, b"two", None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["out.txt"],
            "the temporary file was renamed, not left behind"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"x").unwrap();
        assert!(write_atomic(&target, b"data", None).is_err());
        assert!(target.join("inside").exists());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temporary file was removed");
    }

    #[cfg(unix)]
    #[test]
    fn the_mode_is_set_on_creation() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_atomic(&path, b"s", Some(0o600)).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "a secret key is never readable by others, not even briefly"
        );
    }
}
