//! Kubewarden policy metadata: `policies/<policy>/metadata.yml`, checked against the crate,
//! and the `io.kubewarden.metadata` custom section that `kwctl annotate` writes into a module.
//!
//! The field names follow policy-evaluator's `Metadata`, so `kwctl inspect`, `kwctl
//! scaffold` and policy-server read what this module writes.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The custom section that carries the metadata inside an annotated module.
pub const CUSTOM_SECTION: &str = "io.kubewarden.metadata";

pub const TITLE: &str = "io.kubewarden.policy.title";
pub const VERSION: &str = "io.kubewarden.policy.version";
pub const DESCRIPTION: &str = "io.kubewarden.policy.description";
pub const AUTHOR: &str = "io.kubewarden.policy.author";
pub const URL: &str = "io.kubewarden.policy.url";
pub const SOURCE: &str = "io.kubewarden.policy.source";
pub const LICENSE: &str = "io.kubewarden.policy.license";
pub const SEVERITY: &str = "io.kubewarden.policy.severity";
pub const CATEGORY: &str = "io.kubewarden.policy.category";
pub const OCI_URL: &str = "io.kubewarden.policy.ociUrl";
pub const USAGE: &str = "io.kubewarden.policy.usage";
pub const DISPLAY_NAME: &str = "io.artifacthub.displayName";
pub const RESOURCES: &str = "io.artifacthub.resources";
pub const KEYWORDS: &str = "io.artifacthub.keywords";

/// Every annotation a policy's metadata.yml must set.
pub const REQUIRED_ANNOTATIONS: [&str; 13] = [
    TITLE,
    VERSION,
    DESCRIPTION,
    AUTHOR,
    URL,
    SOURCE,
    LICENSE,
    SEVERITY,
    CATEGORY,
    OCI_URL,
    DISPLAY_NAME,
    RESOURCES,
    KEYWORDS,
];

/// One admission rule, as in a webhook's `rules`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
}

/// A Kubernetes kind a context-aware policy may read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

fn default_true() -> bool {
    true
}

/// A policy's metadata; `protocol_version` is only set in annotated modules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default)]
    pub context_aware_resources: Vec<ContextAwareResource>,
    /// The host capabilities (`oci/v1/verify`, `kubernetes/*`, ...) the module may call;
    /// kwctl 1.35+ compares them with the module's imports at annotate time and
    /// policy-server denies the others. Required, so that every policy states it.
    pub host_capabilities: Vec<String>,
    pub execution_mode: String,
    pub policy_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
}

impl Metadata {
    pub fn annotation(&self, key: &str) -> Result<&str> {
        self.annotations
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("the metadata has no {key} annotation"))
    }

    /// The metadata embedded in a module, if it was annotated.
    pub fn from_module(bytes: &[u8]) -> Result<Option<Metadata>> {
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            if let wasmparser::Payload::CustomSection(reader) =
                payload.context("the module is not valid WebAssembly")?
                && reader.name() == CUSTOM_SECTION
            {
                let metadata = serde_json::from_slice(reader.data())
                    .with_context(|| format!("the {CUSTOM_SECTION} section is not valid"))?;
                return Ok(Some(metadata));
            }
        }
        Ok(None)
    }
}

/// A policy of this repository: its crate, metadata and README.
#[derive(Clone, Debug)]
pub struct PolicyDir {
    pub name: String,
    pub dir: PathBuf,
    pub metadata: Metadata,
    /// The crate's version, the one truth about the policy's version.
    pub version: String,
}

impl PolicyDir {
    /// Loads `policies/<name>` under the repository root, and checks that the metadata is
    /// complete and agrees with the crate.
    pub fn load(root: &Path, name: &str) -> Result<PolicyDir> {
        let dir = root.join("policies").join(name);
        let metadata_path = dir.join("metadata.yml");
        let text = std::fs::read_to_string(&metadata_path).with_context(|| {
            format!(
                "no policy named {name}: cannot read {}",
                metadata_path.display()
            )
        })?;
        let metadata: Metadata = serde_norway::from_str(&text)
            .with_context(|| format!("{} is not valid policy metadata", metadata_path.display()))?;
        let cargo_path = dir.join("Cargo.toml");
        let cargo = std::fs::read_to_string(&cargo_path)
            .with_context(|| format!("cannot read {}", cargo_path.display()))?;
        let version = crate_version(&cargo).with_context(|| {
            format!(
                "cannot find the package version in {}",
                cargo_path.display()
            )
        })?;
        let policy = PolicyDir {
            name: name.to_string(),
            dir,
            metadata,
            version,
        };
        policy
            .check()
            .with_context(|| format!("{} is not consistent", metadata_path.display()))?;
        Ok(policy)
    }

    /// Every policy of the repository ([`crate::workspace::policy_names`]), each checked.
    pub fn all(root: &Path) -> Result<Vec<PolicyDir>> {
        crate::workspace::policy_names(root)?
            .iter()
            .map(|name| PolicyDir::load(root, name))
            .collect()
    }

    pub fn readme(&self) -> Result<String> {
        let path = self.dir.join("README.md");
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// The image reference of this version: `<ociUrl>:v<version>`.
    pub fn image(&self) -> Result<String> {
        Ok(format!(
            "{}:v{}",
            self.metadata.annotation(OCI_URL)?,
            self.version
        ))
    }

    fn check(&self) -> Result<()> {
        let metadata = &self.metadata;
        let missing: Vec<_> = REQUIRED_ANNOTATIONS
            .iter()
            .filter(|key| {
                metadata
                    .annotations
                    .get(**key)
                    .is_none_or(|v| v.trim().is_empty())
            })
            .collect();
        if !missing.is_empty() {
            bail!(
                "annotations missing or empty: {}",
                missing
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let declared = metadata.annotation(VERSION)?;
        if declared != self.version {
            bail!(
                "{VERSION} is {declared} but the crate policies/{}/Cargo.toml has version {}: \
                 the crate's version is the policy's version, set the annotation to {}",
                self.name,
                self.version,
                self.version
            );
        }
        let title = metadata.annotation(TITLE)?;
        if title != self.name {
            bail!("{TITLE} is {title}, but the policy is {}", self.name);
        }
        if metadata.execution_mode != "kubewarden-wapc" {
            bail!(
                "executionMode is {}, but every kepguard policy is a waPC module: kubewarden-wapc",
                metadata.execution_mode
            );
        }
        if metadata.policy_type != "kubernetes" {
            bail!(
                "policyType is {}, expected kubernetes",
                metadata.policy_type
            );
        }
        if metadata.rules.is_empty() {
            bail!("rules: a policy must name the resources it judges");
        }
        if !metadata.host_capabilities.is_empty() {
            bail!(
                "hostCapabilities is {:?}, but kepguard policies call no host capability (the harness \
                 answers none, so a policy using one could not be tested): declare hostCapabilities: []",
                metadata.host_capabilities
            );
        }
        if metadata.protocol_version.is_some() {
            bail!("protocolVersion is read from the module when annotating; remove it");
        }
        Ok(())
    }
}

/// The `version` of the `[package]` table of a Cargo.toml.
fn crate_version(cargo_toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in cargo_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some(value) = line.strip_prefix("version") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            let value = value.strip_prefix('"')?;
            return value.split('"').next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_version_is_read_from_the_package_table_only() {
        let toml =
            "[package]\nname = \"x\"\nversion = \"1.2.3\"\n\n[dependencies]\nversion = \"9\"\n";
        assert_eq!(crate_version(toml).as_deref(), Some("1.2.3"));
        let toml = "[dependencies]\nversion = \"9\"\n[package]\nname = \"x\"\n";
        assert_eq!(crate_version(toml), None);
        // A version inherited from the workspace is not a literal the check can compare.
        assert_eq!(crate_version("[package]\nversion.workspace = true\n"), None);
    }
}
