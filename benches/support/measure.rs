//! One measured run for the benches' printed figures: wall time, CPU time (less
//! sensitive to other load on a shared machine than wall time) and peak memory, from
//! /proc (Linux). `None` where /proc is not available.

// Each bench uses only part of this.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// A `kB` line of /proc/self/status, in MiB.
pub fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// User plus system CPU time of this process so far, in seconds (clock ticks of 1/100 s).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the ")" that ends the command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// What one run of `f` cost.
pub struct Run<T> {
    pub output: T,
    pub wall: Duration,
    pub cpu_secs: Option<f64>,
    /// Peak resident memory during the run (VmHWM after resetting it), MiB.
    pub peak_mib: Option<f64>,
    /// Resident memory before the run, MiB.
    pub before_mib: Option<f64>,
}

/// Runs `f` once, measuring it.
pub fn measure<T>(f: impl FnOnce() -> T) -> Run<T> {
    let before_mib = status_mib("VmRSS:");
    // "5" resets VmHWM to the current RSS, so the peak read afterwards is this run's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let output = f();
    let wall = started.elapsed();
    let cpu_secs = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let peak_mib = if reset { status_mib("VmHWM:") } else { None };
    Run {
        output,
        wall,
        cpu_secs,
        peak_mib,
        before_mib,
    }
}

impl<T> Run<T> {
    /// One line: wall, CPU and memory figures.
    pub fn describe(&self) -> String {
        let cpu = self
            .cpu_secs
            .map(|c| format!(", {c:.2} s CPU"))
            .unwrap_or_default();
        let mem = match (self.before_mib, self.peak_mib) {
            (Some(b), Some(p)) => {
                format!(", RSS {b:.1} MiB before, peak {p:.1} MiB (+{:.1})", p - b)
            }
            _ => String::new(),
        };
        format!("{:.3} s wall{cpu}{mem}", self.wall.as_secs_f64())
    }
}
