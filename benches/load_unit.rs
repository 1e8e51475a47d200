//! Unit tests of the load generator in `benches/load/`, which `cargo test` runs.
//!
//! The generator is a bench target without the test harness, so its own `#[test]`
//! functions never run. This target compiles the same modules with the harness.

// The command-line entry point lives in `load/main.rs`, so much of each module is unused here.
#![allow(dead_code)]

#[path = "load/check.rs"]
mod check;
#[path = "load/fanout.rs"]
mod fanout;
#[path = "load/ids.rs"]
mod ids;
#[path = "load/load.rs"]
mod load;
#[path = "load/process.rs"]
mod process;
#[path = "load/report.rs"]
mod report;
#[path = "load/target.rs"]
mod target;
#[path = "load/upstream.rs"]
mod upstream;
