//! `kepguard test`: the declarative suites, with a verdict table and JUnit XML.

use super::{HostArgs, suites_or_all};
use crate::suite;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TestArgs {
    /// Suite files; default: every fixtures/*/suite.yaml.
    pub suites: Vec<PathBuf>,
    /// Also write the results as JUnit XML.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Run the suites against this module instead of the one each suite names.
    #[arg(long)]
    pub module: Option<PathBuf>,
    #[command(flatten)]
    pub host: HostArgs,
}

pub fn test(args: TestArgs) -> Result<ExitCode> {
    let suites = suites_or_all(args.suites)?;
    if suites.is_empty() {
        bail!("no suites found: pass suite files or run from the repository root");
    }
    let options = suite::RunOptions {
        limits: args.host.limits(),
        verbose: args.host.verbose,
        module_override: args.module,
    };
    let results: Vec<_> = suites
        .iter()
        .flat_map(|path| suite::run_suite(path, &options))
        .collect();
    print!("{}", suite::report(&results));
    if let Some(path) = &args.junit {
        std::fs::write(path, suite::junit(&results))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if results.iter().all(|r| r.failure.is_none()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
