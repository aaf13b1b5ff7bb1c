//! `kepguard manifest`: a ClusterAdmissionPolicy or AdmissionPolicy for a policy, in the shape
//! `kwctl scaffold manifest` writes: rules and mutating from the metadata, the category and
//! severity annotations, and backgroundAudit and mode only where they differ from the defaults.

use crate::release::metadata::{CATEGORY, ContextAwareResource, Metadata, Rule, SEVERITY};
use anyhow::{Result, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    ClusterAdmissionPolicy,
    AdmissionPolicy,
}

impl FromStr for ManifestKind {
    type Err = anyhow::Error;

    fn from_str(value: &str) -> Result<Self> {
        match value {
            "ClusterAdmissionPolicy" => Ok(ManifestKind::ClusterAdmissionPolicy),
            "AdmissionPolicy" => Ok(ManifestKind::AdmissionPolicy),
            other => bail!(
                "unknown manifest type {other}: use ClusterAdmissionPolicy or AdmissionPolicy"
            ),
        }
    }
}

impl fmt::Display for ManifestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ManifestKind::ClusterAdmissionPolicy => "ClusterAdmissionPolicy",
            ManifestKind::AdmissionPolicy => "AdmissionPolicy",
        })
    }
}

/// What the metadata does not say.
pub struct ManifestOptions {
    pub kind: ManifestKind,
    /// `registry://...`; the policy's published image by default.
    pub module: String,
    pub settings: serde_norway::Mapping,
    /// `protect` (the default, left out) or `monitor`.
    pub mode: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource<'a> {
    api_version: &'static str,
    kind: String,
    metadata: ObjectMeta,
    spec: Spec<'a>,
}

/// Serialised like Kubernetes' ObjectMeta, whose fields come in alphabetical order.
#[derive(Serialize)]
struct ObjectMeta {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    module: String,
    settings: serde_norway::Mapping,
    rules: &'a [Rule],
    mutating: bool,
    #[serde(skip_serializing_if = "is_true")]
    background_audit: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    context_aware_resources: &'a [ContextAwareResource],
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
}

fn is_true(value: &bool) -> bool {
    *value
}

/// The manifest as YAML.
pub fn render(metadata: &Metadata, options: ManifestOptions) -> Result<String> {
    let name = metadata
        .annotation(crate::release::metadata::TITLE)?
        .to_string();
    let annotations = [CATEGORY, SEVERITY]
        .into_iter()
        .filter_map(|key| {
            metadata
                .annotations
                .get(key)
                .map(|value| (key.to_string(), value.clone()))
        })
        .collect();
    let mode = match options.mode.as_deref() {
        None | Some("protect") => None,
        Some("monitor") => Some("monitor".to_string()),
        Some(other) => bail!("unknown mode {other}: use protect or monitor"),
    };
    if !options.module.starts_with("registry://")
        && !options.module.starts_with("file://")
        && !options.module.starts_with("https://")
    {
        bail!(
            "module {} must be a registry://, https:// or file:// URI",
            options.module
        );
    }
    let resource = Resource {
        api_version: "policies.kubewarden.io/v1",
        kind: options.kind.to_string(),
        metadata: ObjectMeta { annotations, name },
        spec: Spec {
            module: options.module,
            settings: options.settings,
            rules: &metadata.rules,
            mutating: metadata.mutating,
            background_audit: metadata.background_audit,
            // Like kwctl, an AdmissionPolicy cannot be granted context-aware access.
            context_aware_resources: match options.kind {
                ManifestKind::ClusterAdmissionPolicy => &metadata.context_aware_resources,
                ManifestKind::AdmissionPolicy => &[],
            },
            mode,
        },
    };
    Ok(serde_norway::to_string(&resource)?)
}
