//! `kepguard run`: one request, one policy, like `kwctl run`.

use super::HostArgs;
use crate::admission;
use crate::host::Policy;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArgs {
    /// The policy module (.wasm).
    pub module: PathBuf,
    /// A file holding an AdmissionRequest or a whole AdmissionReview (JSON).
    #[arg(long, short)]
    pub request_path: PathBuf,
    /// Settings as a YAML or JSON file.
    #[arg(long, short, conflicts_with = "settings_json")]
    pub settings_path: Option<PathBuf>,
    /// Settings as a JSON string.
    #[arg(long)]
    pub settings_json: Option<String>,
    #[command(flatten)]
    pub host: HostArgs,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let settings = match (&args.settings_path, &args.settings_json) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read settings file {}", path.display()))?;
            admission::parse_settings(&text, &format!("in {}", path.display()))?
        }
        (None, Some(json)) => admission::parse_settings(json, "given with --settings-json")?,
        (None, None) => serde_json::json!({}),
    };
    let request = admission::load_request(&args.request_path)?;
    let policy = Policy::load(&args.module, args.host.limits(), args.host.verbose)?;
    let verdict = admission::validate_settings(&policy, &settings)
        .map_err(|error| anyhow::anyhow!("module {}: {error}", policy.name()))?;
    if !verdict.valid {
        eprintln!(
            "Provided settings are not valid: {}",
            verdict.message.unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }
    let response = admission::evaluate(&policy, &request, &settings)?;
    println!("{}", response.to_json());
    Ok(ExitCode::SUCCESS)
}
