//! Measuring: a lock-free latency histogram, seen-message bitsets, and the
//! CPU time and memory of a process read from `/proc`.

use std::{
    cell::Cell,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    time::Duration,
};

/// Values below this are counted exactly (microseconds); above, with 9
/// significant bits (0.2 % precision), up to any u64.
const LINEAR: usize = 1024;
const HALF: usize = LINEAR / 2;
const BUCKETS: usize = LINEAR + 55 * HALF;
/// Shards so that worker threads never share a counter's cache line for long.
const SHARDS: usize = 8;

/// A histogram of microsecond values, recorded from many threads without
/// locks: each thread counts into its own shard.
pub struct Histogram {
    shards: Vec<Box<[AtomicU64]>>,
    max: AtomicU64,
}

thread_local! {
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

fn shard() -> usize {
    SHARD.with(|s| match s.get() {
        Some(i) => i,
        None => {
            let i = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
            s.set(Some(i));
            i
        }
    })
}

fn bucket(v: u64) -> usize {
    if v < LINEAR as u64 {
        return v as usize;
    }
    let bits = 64 - v.leading_zeros() as usize; // >= 11
    let shift = bits - 10;
    LINEAR + (shift - 1) * HALF + ((v >> shift) as usize - HALF)
}

fn bucket_value(i: usize) -> u64 {
    if i < LINEAR {
        return i as u64;
    }
    let shift = (i - LINEAR) / HALF + 1;
    let mantissa = ((i - LINEAR) % HALF + HALF) as u64;
    // The middle of the bucket.
    (mantissa << shift) + (1u64 << (shift - 1))
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            shards: (0..SHARDS)
                .map(|_| (0..BUCKETS).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            max: AtomicU64::new(0),
        }
    }

    pub fn record_us(&self, us: u64) {
        self.shards[shard()][bucket(us)].fetch_add(1, Relaxed);
        if us > self.max.load(Relaxed) {
            self.max.fetch_max(us, Relaxed);
        }
    }

    pub fn summary(&self) -> Summary {
        let mut counts = vec![0u64; BUCKETS];
        for shard in &self.shards {
            for (total, c) in counts.iter_mut().zip(shard.iter()) {
                *total += c.load(Relaxed);
            }
        }
        let n: u64 = counts.iter().sum();
        let at = |q: f64| -> Duration {
            if n == 0 {
                return Duration::ZERO;
            }
            let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_micros(bucket_value(i));
                }
            }
            Duration::ZERO
        };
        // Buckets report their middle: never more than the exact maximum.
        let max = Duration::from_micros(self.max.load(Relaxed));
        Summary {
            count: n,
            p50: at(0.50).min(max),
            p99: at(0.99).min(max),
            p999: at(0.999).min(max),
            max,
        }
    }
}

pub struct Summary {
    pub count: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} | p99 {} | p99.9 {} | max {} (n = {})",
            ms(self.p50),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            self.count
        )
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Which message numbers one client has seen.
pub struct Seen {
    bits: Vec<u64>,
}

impl Seen {
    pub fn new(messages: usize) -> Seen {
        Seen {
            bits: vec![0; messages.div_ceil(64)],
        }
    }

    /// Marks `i`; false when it was already marked or out of range.
    pub fn mark(&mut self, i: usize) -> Option<bool> {
        let word = self.bits.get_mut(i / 64)?;
        let bit = 1u64 << (i % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        Some(fresh)
    }

    pub fn has(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// CPU time (user + system, all threads) of a process, from /proc.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    cpu_of_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU time of a process's threads named `name` (as `/proc/<pid>/task/*/comm`
/// has it), added up: the storage writer's, apart from delivery's.
pub fn thread_cpu_time(pid: u32, name: &str) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = Duration::ZERO;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            total += cpu_of_stat(&stat)?;
        }
    }
    Some(total)
}

/// User and system time of a `stat(5)` line.
fn cpu_of_stat(stat: &str) -> Option<Duration> {
    // The command name may hold spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counting from 1 with pid and comm.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(Duration::from_secs_f64((utime + stime) as f64 / ticks))
}

/// Resident memory of a process, from /proc.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Raises this process's open-file soft limit to its hard limit.
pub fn raise_nofile_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_close() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            1023,
            1024,
            1500,
            2047,
            2048,
            99_999,
            10_000_000,
            u64::MAX / 2,
        ] {
            let b = bucket(v);
            assert!(b >= last && b < BUCKETS);
            last = b;
            let back = bucket_value(b);
            assert!(back.abs_diff(v) <= v / 256 + 1, "{v} -> {back}");
        }
    }
}
