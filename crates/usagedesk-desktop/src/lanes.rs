//! The app's reads, each reading connection's on a thread of its own.
//!
//! Reads through one connection run one at a time anyway (it sits behind a lock), so a thread
//! per connection loses nothing against a pool. It keeps the memory flat: glibc's allocator
//! gives each thread that allocates an arena of its own and hands little of it back. SQLite's
//! page cache and statements, filled by whichever pool thread ran a query, grew an arena per
//! thread: at 100k accounts six arenas of 4.8 MiB each after 54 view switches, while the live
//! heap never passed 13 MiB (heaptrack). On one thread, a connection's pages reuse one arena.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// A thread that runs the jobs sent to it in turn, for as long as the lane lives.
pub(crate) struct Lane {
    jobs: mpsc::Sender<Job>,
}

/// The job panicked (its lane goes on with the next one), or the lane's thread is gone.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stopped;

impl Lane {
    /// Starts the lane's thread, named `name` (as debuggers and `top -H` show it).
    pub(crate) fn start(name: &str) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Ends when the lane is dropped and the jobs sent before have run.
                for job in queue {
                    job();
                }
            })?;
        Ok(Self { jobs })
    }

    /// Queues `f` on the lane's thread now, behind the jobs sent before it; the future
    /// resolves to its result.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, Stopped>> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic ends this job only; the caller sees `Stopped` (its sender dropped).
            if let Ok(value) = catch_unwind(AssertUnwindSafe(f)) {
                let _ = answer.send(value);
            }
        });
        let sent = self.jobs.send(job).map_err(|_| Stopped);
        async move {
            sent?;
            answered.await.map_err(|_| Stopped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn every_job_runs_on_the_lanes_one_thread_in_the_order_sent() {
        let lane = Lane::start("test-lane").unwrap();
        let rt = runtime();
        let ran = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        // All twenty are queued before the first is awaited.
        let runs: Vec<_> = (0..20)
            .map(|i| {
                let ran = ran.clone();
                lane.run(move || {
                    ran.lock().unwrap().push(i);
                    std::thread::current().id()
                })
            })
            .collect();
        let threads: std::collections::HashSet<_> = rt
            .block_on(futures_join_all(runs))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(threads.len(), 1, "one thread, so one allocator arena");
        assert!(
            !threads.contains(&std::thread::current().id()),
            "not the caller's thread"
        );
        let order = ran.lock().unwrap().clone();
        assert_eq!(order, (0..20).collect::<Vec<_>>(), "run in the order sent");
    }

    #[test]
    fn a_job_that_panics_stops_alone_and_the_lane_runs_the_next() {
        let lane = Lane::start("test-lane").unwrap();
        let rt = runtime();
        let failed = rt.block_on(lane.run(|| -> u8 { panic!("a bug in one query") }));
        assert_eq!(failed, Err(Stopped), "the caller gets an error, not a hang");
        assert_eq!(rt.block_on(lane.run(|| 7)), Ok(7), "the thread lives on");
    }

    /// Awaits every future in turn (their jobs were queued when they were made).
    async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut out = Vec::new();
        for f in futures {
            out.push(f.await);
        }
        out
    }
}
