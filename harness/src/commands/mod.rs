//! The bodies of the `kepguard` subcommands, one module per group; `main.rs` only parses
//! and dispatches.

pub mod bench;
pub mod build;
pub mod check;
pub mod playground;
pub mod release;
pub mod run;
pub mod signing;
pub mod test;

use crate::host::Limits;
use crate::release::metadata::PolicyDir;
use crate::workspace;
use anyhow::Result;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct HostArgs {
    /// Stop an evaluation after this many milliseconds, like policy-server's --policy-timeout.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// The most memory one instance may use, in MiB.
    #[arg(long, default_value_t = 512)]
    pub memory_limit_mb: usize,
    /// Print the policy's log lines on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

impl HostArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: Duration::from_millis(self.timeout_ms),
            memory_bytes: self.memory_limit_mb << 20,
        }
    }
}

/// The suites named, or every suite of the repository.
fn suites_or_all(suites: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    if suites.is_empty() {
        workspace::suites(Path::new("."))
    } else {
        Ok(suites)
    }
}

/// The named policies, or every policy; each one checked (metadata complete, versions agree).
fn policies(names: &[String]) -> Result<Vec<PolicyDir>> {
    let root = Path::new(".");
    if names.is_empty() {
        PolicyDir::all(root)
    } else {
        names
            .iter()
            .map(|name| PolicyDir::load(root, name))
            .collect()
    }
}
