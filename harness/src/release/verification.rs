//! The policy-server verification config (`kwctl scaffold verification-config` format, read by
//! policy-server's `--verification-path` and `kwctl verify --verification-config-path`): which
//! signatures a policy must carry before it is run.

use anyhow::{Result, bail};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationConfig {
    api_version: &'static str,
    all_of: Vec<Requirement>,
}

/// One signature every policy must have.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Requirement {
    /// Signed with the private key of this PEM public key (`kepguard sign`, `cosign sign --key`).
    PubKey {
        #[serde(skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        key: String,
    },
    /// Signed keyless by a GitHub Actions workflow of this owner (and repository).
    GithubAction {
        owner: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        repo: Option<String>,
    },
}

/// The config as YAML: every requirement under `allOf`.
pub fn render(requirements: Vec<Requirement>) -> Result<String> {
    if requirements.is_empty() {
        bail!("a verification config needs a public key or a GitHub owner to trust");
    }
    Ok(serde_norway::to_string(&VerificationConfig {
        api_version: "v1",
        all_of: requirements,
    })?)
}
