//! Memory of a running process from `/proc/<pid>/status` (Linux only).

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
    fn read_memory_of_this_process() {
        let memory = read_memory(std::process::id()).unwrap();
        assert!(memory.peak_kib >= memory.current_kib);
    }
}
