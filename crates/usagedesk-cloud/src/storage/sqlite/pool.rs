//! A bounded pool of read connections: at most `max` open, a reader waits for a free one
//! (up to a deadline), and a connection comes back to the pool even when its user panics.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::storage::StoreError;

struct Idle {
    connections: Vec<Connection>,
    /// Connections open, idle or in use.
    open: usize,
}

pub(super) struct Readers {
    max: usize,
    wait: Duration,
    idle: Mutex<Idle>,
    freed: Condvar,
}

/// A connection taken from the pool; back in it when dropped.
pub(super) struct Lease<'a> {
    pool: &'a Readers,
    conn: Option<Connection>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Present from creation until drop.
        self.conn.as_ref().expect("a leased connection")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        match self.conn.take() {
            Some(c) if !std::thread::panicking() => idle.connections.push(c),
            // A connection whose user panicked may be mid-statement: close it.
            _ => idle.open -= 1,
        }
        drop(idle);
        self.pool.freed.notify_one();
    }
}

impl Readers {
    pub(super) fn new(max: usize, wait: Duration) -> Self {
        Self {
            max: max.max(1),
            wait,
            idle: Mutex::new(Idle {
                connections: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// An idle connection, a new one (`open`) while fewer than `max` are open, else the
    /// next one freed within the wait.
    pub(super) fn lease(
        &self,
        open: impl FnOnce() -> Result<Connection, StoreError>,
    ) -> Result<Lease<'_>, StoreError> {
        let deadline = Instant::now() + self.wait;
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = idle.connections.pop() {
                return Ok(Lease {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if idle.open < self.max {
                idle.open += 1;
                drop(idle);
                return match open() {
                    Ok(conn) => Ok(Lease {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "all {} database readers stayed busy for {} s; try again in a moment",
                    self.max,
                    self.wait.as_secs()
                )));
            }
            idle = self
                .freed
                .wait_timeout(idle, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.idle.lock().unwrap().open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Result<Connection, StoreError> {
        Ok(Connection::open_in_memory()?)
    }

    #[test]
    fn at_most_max_connections_and_a_busy_error_after_the_wait() {
        let pool = Readers::new(2, Duration::from_millis(50));
        let a = pool.lease(memory).unwrap();
        let b = pool.lease(memory).unwrap();
        assert_eq!(pool.open_count(), 2);
        let err = pool
            .lease(memory)
            .err()
            .expect("a third reader waits, then gives up");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
        drop(a);
        let c = pool
            .lease(|| panic!("an idle connection is reused, none opened"))
            .unwrap();
        assert_eq!(pool.open_count(), 2);
        drop((b, c));
    }

    #[test]
    fn a_waiting_reader_gets_the_connection_freed_by_another_thread() {
        let pool = Readers::new(1, Duration::from_secs(10));
        let held = pool.lease(memory).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.lease(memory).map(|_| ()));
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            assert!(waiter.join().unwrap().is_ok());
        });
        assert_eq!(pool.open_count(), 1);
    }

    #[test]
    fn a_panicking_reader_gives_its_place_back() {
        let pool = Readers::new(1, Duration::from_millis(10));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _lease = pool.lease(memory).unwrap();
            panic!("a reader fails");
        }));
        assert!(r.is_err());
        assert_eq!(pool.open_count(), 0);
        assert!(pool.lease(memory).is_ok());
    }
}
