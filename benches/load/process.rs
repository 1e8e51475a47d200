//! Memory and CPU time of a running process from `/proc/<pid>/status` and
//! `/proc/<pid>/stat` (Linux only).

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Resident memory of one process, in KiB.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Memory {
    /// Peak resident set size since the process started (`VmHWM`).
    pub peak_kib: u64,
    /// Resident set size when it was read (`VmRSS`).
    pub current_kib: u64,
}

/// Reads `VmHWM` and `VmRSS` of `pid`.
pub fn read_memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| {
        format!("could not read {path}: is process {pid} still running on this Linux machine?")
    })?;
    parse_status(&status).with_context(|| format!("{path} has no VmHWM or VmRSS line"))
}

/// Reads the CPU time `pid` has used so far, user and system, of all its threads, in
/// seconds. `ticks_per_second` is the kernel's USER_HZ (`getconf CLK_TCK`, 100 on Linux).
pub fn read_cpu_seconds(pid: u32, ticks_per_second: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| {
        format!("could not read {path}: is process {pid} still running on this Linux machine?")
    })?;
    let ticks =
        parse_cpu_ticks(&stat).with_context(|| format!("{path} has no utime and stime fields"))?;
    Ok(ticks as f64 / f64::from(ticks_per_second.max(1)))
}

/// Sums utime and stime, fields 14 and 15 of `/proc/<pid>/stat`. The command name in field
/// 2 may contain spaces and parentheses, so the fields are counted after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (the state), so field 14 is fields[11].
    let user = fields.get(11)?.parse::<u64>().ok()?;
    let system = fields.get(12)?.parse::<u64>().ok()?;
    Some(user + system)
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
    };
    Some(Memory {
        peak_kib: field("VmHWM")?,
        current_kib: field("VmRSS")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_status_reads_kib() {
        let status = "Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  654321 kB\nVmRSS:\t  600000 kB\n";
        let memory = parse_status(status).unwrap();
        assert_eq!(memory.peak_kib, 654_321);
        assert_eq!(memory.current_kib, 600_000);
    }

    #[test]
    fn parse_status_needs_both_lines() {
        assert!(parse_status("VmRSS:\t 1 kB\n").is_none());
    }

    #[test]
    fn parse_cpu_ticks_skips_odd_names() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194304 129 0 0 0 250 30 0 0 20 0 4 0";
        assert_eq!(parse_cpu_ticks(stat), Some(280));
    }

    #[test]
    fn parse_cpu_ticks_rejects_short_lines() {
        assert_eq!(parse_cpu_ticks("42 (x) S 1 2"), None);
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn read_cpu_seconds_of_this_process() {
        let seconds = read_cpu_seconds(std::process::id(), 100).unwrap();
        assert!(seconds >= 0.0);
    }

    #[test]
    fn read_memory_of_this_process() {
        let memory = read_memory(std::process::id()).unwrap();
        assert!(memory.peak_kib >= memory.current_kib);
    }
}
