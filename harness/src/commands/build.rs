//! `kepguard build`: the policy modules, `build/<policy>.wasm`.

use crate::workspace;
use anyhow::Result;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct BuildArgs {
    /// Policies to build; default: every policy.
    pub policies: Vec<String>,
    /// Where the modules go.
    #[arg(long, default_value = "build")]
    pub output_dir: PathBuf,
}

pub fn build(args: BuildArgs) -> Result<ExitCode> {
    for module in workspace::build_modules(Path::new("."), &args.policies, &args.output_dir)? {
        let bytes = std::fs::metadata(&module)?.len();
        println!("{}: {bytes} bytes", module.display());
    }
    Ok(ExitCode::SUCCESS)
}
