//! Checkpoints on a thread of their own during a long run of write transactions (a sync).
//!
//! By default the connection that commits also checkpoints, whenever the write-ahead log has
//! grown past SQLite's threshold: the commit that crosses it copies the log into the database
//! file and waits for two `fsync`s. A full sync commits a few hundred megabytes, so its
//! apply loop would stop for a checkpoint every few pages. While a [`Checkpointer`] runs, the
//! cache's connection does not checkpoint; a second connection on another thread checkpoints
//! (`PASSIVE`: it never blocks the writer or readers) whenever the log has grown by
//! [`STEP_BYTES`] since the last time, and once more when it stops. Nothing about durability
//! or consistency changes: commits are in the log either way, and a checkpoint copies only
//! committed frames.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::{Result, SyncHandleMut};

/// SQLite's default `wal_autocheckpoint` (pages), restored when the checkpointer stops.
const AUTOCHECKPOINT_PAGES: u32 = 1000;
/// Log growth (bytes) after which the thread checkpoints.
const STEP_BYTES: u64 = 16 << 20;
/// How often the thread looks at the size of the log.
const POLL: Duration = Duration::from_millis(50);

/// The checkpoint thread of one cache file; stopped (and joined) when dropped.
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(db: &Path) -> Result<Self> {
        // Opened as every cache connection is (WAL, busy timeout, the log's size limit).
        let conn = usagedesk_sqlite::open(db, &crate::settings()).map_err(|e| {
            crate::CacheError::Invalid(format!("cannot open the checkpoint connection: {e}"))
        })?;
        let wal = wal_path(db);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cache-checkpoint".into())
            .spawn(move || run(&conn, &wal, &stopped))
            .map_err(|e| crate::CacheError::Invalid(format!("cannot start a thread: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn run(conn: &Connection, wal: &Path, stopped: &mpsc::Receiver<()>) {
    // The log's size when last checkpointed (a reset log starts small again).
    let mut at = 0u64;
    loop {
        let stopping = match stopped.recv_timeout(POLL) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        let size = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        if size < at {
            at = 0;
        }
        if stopping || size >= at + STEP_BYTES {
            // A failed checkpoint only leaves its frames to the next one (this thread's, or
            // the writer's once it checkpoints again).
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            at = size;
        }
        if stopping {
            return;
        }
    }
}

impl SyncHandleMut<'_> {
    /// Moves checkpoints to a thread of their own until [`SyncHandleMut::checkpoint_inline`] (or
    /// the cache is dropped): for a long run of write transactions such as a sync. Does nothing
    /// for a cache in memory, or when already on.
    pub fn checkpoint_in_background(&mut self) -> Result<()> {
        let Some(path) = self.cache.path.clone() else {
            return Ok(());
        };
        if self.cache.checkpointer.is_some() {
            return Ok(());
        }
        let ckpt = Checkpointer::start(&path)?;
        self.cache
            .conn
            .pragma_update(None, "wal_autocheckpoint", 0)?;
        self.cache.checkpointer = Some(ckpt);
        Ok(())
    }

    /// Stops the checkpoint thread after its last checkpoint; this connection checkpoints
    /// again as it commits.
    pub fn checkpoint_inline(&mut self) -> Result<()> {
        if let Some(ckpt) = self.cache.checkpointer.take() {
            drop(ckpt);
            self.cache
                .conn
                .pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        }
        Ok(())
    }
}
