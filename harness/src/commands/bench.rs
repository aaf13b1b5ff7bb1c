//! `kepguard bench`: module size, compile time, latency, throughput and the native ratio.

use super::suites_or_all;
use crate::bench;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct BenchArgs {
    /// Suite files; default: every fixtures/*/suite.yaml.
    pub suites: Vec<PathBuf>,
    /// Also write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where criterion wrote the native baseline (target/criterion).
    #[arg(long)]
    pub native: Option<PathBuf>,
    /// Measure DIR/<policy>.wasm instead of the module each suite names (to compare builds).
    #[arg(long)]
    pub modules: Option<PathBuf>,
    /// Only write the payloads to measure, for the native benchmark, into this folder.
    #[arg(long)]
    pub write_inputs: Option<PathBuf>,
    /// Milliseconds of sampling per latency figure.
    #[arg(long, default_value_t = 400)]
    pub sample_ms: u64,
    /// Milliseconds of each throughput run.
    #[arg(long, default_value_t = 500)]
    pub throughput_ms: u64,
}

pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    let suites = suites_or_all(args.suites)?;
    let mut workloads = suites
        .iter()
        .map(|path| bench::workload(path))
        .collect::<Result<Vec<_>>>()?;
    if let Some(dir) = &args.modules {
        for workload in &mut workloads {
            workload.module = dir.join(format!("{}.wasm", workload.policy));
        }
    }
    if let Some(dir) = &args.write_inputs {
        bench::write_inputs(&workloads, dir)?;
        println!("wrote the benchmark inputs to {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let options = bench::BenchOptions {
        sample_time: Duration::from_millis(args.sample_ms),
        throughput_time: Duration::from_millis(args.throughput_ms),
        native_dir: args.native,
    };
    let mut reports = Vec::new();
    for workload in &workloads {
        eprintln!("measuring {}", workload.policy);
        reports.push(bench::measure(workload, &options)?);
    }
    print!("{}", bench::table(&reports));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
