//! Running the real binaries and measuring them: wall time, and the peak resident memory of
//! the whole process tree (a process and every descendant, e.g. the app and its WebKit
//! processes), sampled from `/proc`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::table::mib;

/// How often the tree's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// Where the release binaries are.
#[derive(Debug, Clone)]
pub struct Bins(pub PathBuf);

impl Bins {
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        let p = self.0.join(name);
        if !p.is_file() {
            bail!(
                "{} is missing: build it first (scripts/bench.sh does: cargo build --release -p {name})",
                p.display()
            );
        }
        Ok(p)
    }

    pub fn command(&self, name: &str) -> Result<Command> {
        Ok(Command::new(self.path(name)?))
    }
}

/// What one measured run of a command gave.
#[derive(Debug)]
pub struct Measured {
    pub wall: Duration,
    /// Peak resident memory of the process tree, bytes (see [`TreeSampler`]).
    pub peak_rss: u64,
    pub output: Output,
}

/// Runs `cmd` to completion (stdout captured, or sent to `stdout` when given), timing it and
/// sampling the resident memory of it and its descendants. Fails when it exits non-zero.
pub fn run_measured(cmd: &mut Command, stdout: Option<&Path>) -> Result<Measured> {
    match stdout {
        Some(p) => cmd.stdout(std::fs::File::create(p)?),
        None => cmd.stdout(Stdio::piped()),
    };
    cmd.stderr(Stdio::piped());
    let t = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    let sampler = TreeSampler::start(child.id());
    let output = child.wait_with_output()?;
    let wall = t.elapsed();
    let peak_rss = sampler.stop();
    if !output.status.success() {
        bail!(
            "{:?} {:?} failed ({}): {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(Measured {
        wall,
        peak_rss,
        output,
    })
}

/// Samples the resident memory of a process and all its descendants on a thread until
/// stopped. The peak is the larger of the largest sum of the tree's current RSS seen in one
/// sample and the largest single process's own high-water mark (`VmHWM`, which the kernel
/// keeps, so a short spike between two samples of a single process is not missed).
pub struct TreeSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<Mutex<u64>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TreeSampler {
    pub fn start(root: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new(0u64));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                let mut hwm: HashMap<u32, u64> = HashMap::new();
                loop {
                    let tree = process_tree(root);
                    let mut sum = 0;
                    for pid in &tree {
                        if let Some((rss, high)) = memory_of(*pid) {
                            sum += rss;
                            let h = hwm.entry(*pid).or_default();
                            *h = (*h).max(high);
                        }
                    }
                    let single = hwm.values().copied().max().unwrap_or(0);
                    if let Ok(mut p) = peak.lock() {
                        *p = (*p).max(sum).max(single);
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Self {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// The peak so far, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.lock().map_or(0, |p| *p)
    }

    /// Stops sampling and returns the peak, in bytes.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak()
    }
}

impl Drop for TreeSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `root` and every live descendant of it.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut seen: HashSet<u32> = HashSet::from([root]);
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for k in kids {
                if seen.insert(*k) {
                    out.push(*k);
                }
            }
        }
        i += 1;
    }
    out
}

/// The resident memory of `root` and its descendants now: one `(pid, name, RSS, PSS)` a
/// process, bytes. RSS counts shared pages in every process that maps them (what the targets
/// are written in); PSS splits them between the sharers.
pub fn tree_memory(root: u32) -> Vec<(u32, String, u64, u64)> {
    process_tree(root)
        .into_iter()
        .filter_map(|pid| {
            let (rss, _) = memory_of(pid)?;
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some((pid, name.trim().to_string(), rss, pss_of(pid).unwrap_or(0)))
        })
        .collect()
}

/// A process tree's memory at one moment, bytes: RSS and PSS summed over its processes, and
/// each physical page once ([`distinct_resident`]; `None` without the privilege to read page
/// frames).
#[derive(Debug, Clone, Copy)]
pub struct TreeMemory {
    pub rss: u64,
    pub pss: u64,
    pub once: Option<u64>,
}

impl TreeMemory {
    /// Of the processes [`tree_memory`] listed.
    pub fn of(procs: &[(u32, String, u64, u64)]) -> Self {
        let pids: Vec<u32> = procs.iter().map(|(pid, ..)| *pid).collect();
        Self {
            rss: procs.iter().map(|(_, _, rss, _)| rss).sum(),
            pss: procs.iter().map(|(_, _, _, pss)| pss).sum(),
            once: distinct_resident(&pids),
        }
    }

    /// "RSS … (PSS …; each physical page once: …)", for the bench's log.
    pub fn summary(&self) -> String {
        format!(
            "RSS {} (PSS {}; each physical page once: {})",
            mib(self.rss),
            mib(self.pss),
            self.once.map_or("not readable (needs root)".into(), mib)
        )
    }
}

/// The physical memory a set of processes occupies, bytes: every resident page counted once,
/// however many of the processes map it (a shared library's code is one copy in RAM, where
/// the sum of RSS counts it in each process). From `/proc/PID/pagemap`, whose page frame
/// numbers only a privileged reader sees: `None` otherwise (or when a process has gone).
pub fn distinct_resident(pids: &[u32]) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const PAGE: u64 = 4096;
    const PRESENT: u64 = 1 << 63;
    const PFN: u64 = (1 << 55) - 1;
    let mut frames: HashSet<u64> = HashSet::new();
    for pid in pids {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
        let mut pagemap = std::fs::File::open(format!("/proc/{pid}/pagemap")).ok()?;
        let mut any_frame = false;
        for line in maps.lines() {
            let Some((start, end)) = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, b)| {
                    Some((
                        u64::from_str_radix(a, 16).ok()?,
                        u64::from_str_radix(b, 16).ok()?,
                    ))
                })
            else {
                continue;
            };
            if line.ends_with("[vsyscall]") {
                continue;
            }
            let mut entries = vec![0u8; ((end - start) / PAGE * 8) as usize];
            pagemap.seek(SeekFrom::Start(start / PAGE * 8)).ok()?;
            if pagemap.read_exact(&mut entries).is_err() {
                continue;
            }
            for e in entries.chunks_exact(8) {
                let e = u64::from_le_bytes(e.try_into().ok()?);
                if e & PRESENT != 0 {
                    any_frame |= e & PFN != 0;
                    frames.insert(e & PFN);
                }
            }
        }
        if !any_frame {
            // Unprivileged: present pages read as frame 0, so nothing can be told apart.
            return None;
        }
    }
    Some(frames.len() as u64 * PAGE)
}

/// The proportional set size of a process, bytes (`/proc/PID/smaps_rollup`).
fn pss_of(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
    let kib: u64 = line["Pss:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The parent pid from `/proc/PID/stat` (the field after the parenthesised command name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// This process's resident memory now.
pub fn own_rss() -> Option<u64> {
    memory_of(std::process::id()).map(|(rss, _)| rss)
}

/// (VmRSS, VmHWM) of a process, bytes.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((kib("VmRSS:")? * 1024, kib("VmHWM:")? * 1024))
}

/// This process's resident memory now, and the kernel's high-water mark of it reset to that
/// (`/proc/self/clear_refs`, 5): [`own_peak_since_reset`] then reads the peak from here on,
/// however short. `None` when the kernel refuses the reset.
pub fn reset_own_peak() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    memory_of(std::process::id()).map(|(rss, _)| rss)
}

/// This process's peak resident memory since [`reset_own_peak`], bytes.
pub fn own_peak_since_reset() -> Option<u64> {
    memory_of(std::process::id()).map(|(_, hwm)| hwm)
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / clock_ticks()))
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// A child process stopped (by its own pid) when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_held_by_a_grandchild_counts_toward_the_tree() {
        // The outer shell holds nothing; the inner one keeps a 48 MB string for a moment.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "sh -c 'x=$(head -c 48000000 /dev/zero | tr \"\\\\000\" a); sleep 0.3; echo ${#x}'",
        ]);
        let m = run_measured(&mut cmd, None).unwrap();
        let out = String::from_utf8_lossy(&m.output.stdout);
        assert_eq!(
            out.trim(),
            "48000000",
            "the inner shell held the whole string"
        );
        assert!(m.wall >= Duration::from_millis(300), "it slept 0.3 s");
        assert!(
            m.peak_rss >= 48_000_000,
            "the grandchild's 48 MB string is in the tree's peak ({} bytes)",
            m.peak_rss
        );
    }

    #[test]
    fn pages_two_processes_share_are_counted_once() {
        // An idle child (`sleep`): its pages do not change between two readings, where this
        // process's do while the other tests run on their threads.
        let child = Command::new("sleep").arg("5").spawn().unwrap();
        let guard = Guard(child);
        std::thread::sleep(Duration::from_millis(100));
        let sleeper = guard.0.id();
        let Some(alone) = distinct_resident(&[sleeper]) else {
            // Not privileged: the page frame numbers are hidden, so there is nothing to check.
            return;
        };
        let (rss, _) = memory_of(sleeper).unwrap();
        assert!(
            alone <= rss + (1 << 20),
            "one process's distinct pages ({alone}) are at most its RSS ({rss}) give or take a page table's worth"
        );
        // The same process twice is the same pages: listing it again adds nothing.
        let twice = distinct_resident(&[sleeper, sleeper]).unwrap();
        assert_eq!(twice, alone, "a process listed twice is counted once");
        // This process shares libc's pages with the child: the pair is less than the sum.
        // This process's RSS read on either side of the pair: the larger bounds its pages then.
        let me = std::process::id();
        let before = memory_of(me).unwrap().0;
        let pair = distinct_resident(&[me, sleeper]).unwrap();
        let my_rss = memory_of(me).unwrap().0.max(before);
        assert!(
            pair < my_rss + rss,
            "the shared libc pages count once: {pair} < {my_rss} + {rss}"
        );
    }

    #[test]
    fn a_process_is_its_own_tree_and_a_parent_finds_its_child() {
        let child = Command::new("sleep").arg("2").spawn().unwrap();
        let me = std::process::id();
        let tree = process_tree(me);
        let guard = Guard(child);
        assert_eq!(tree[0], me);
        assert!(
            tree.contains(&guard.0.id()),
            "the sleep started here is a descendant"
        );
        assert!(cpu_time(me).is_some());
    }
}
