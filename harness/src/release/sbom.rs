//! `kepguard sbom`: an SPDX 2.3 JSON SBOM of what is compiled into a policy module: the
//! policy crate and every crate its `wasm32-wasip1` build links, from `cargo metadata`
//! (normal dependencies only: no build scripts, proc-macros or dev-dependencies), with the
//! versions, declared licenses and `Cargo.lock` checksums.

use crate::workspace::TARGET;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use serde_spdx::spdx::v_2_3 as spdx;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// A crate linked into a module.
#[derive(Clone, Debug)]
pub struct LinkedCrate {
    /// cargo's package id.
    pub id: String,
    pub name: String,
    pub version: String,
    /// The SPDX license expression of its Cargo.toml, if it has one.
    pub license: Option<String>,
    /// Where it comes from (`registry+...`), none for a workspace crate.
    pub source: Option<String>,
    /// The SHA-256 of its `.crate` file, from Cargo.lock.
    pub checksum: Option<String>,
    /// The ids of the crates it links.
    pub dependencies: Vec<String>,
}

/// Where `make sbom` writes a policy's SBOM.
pub fn sbom_path(output_dir: &Path, policy: &str) -> PathBuf {
    output_dir.join(format!("{policy}.spdx.json"))
}

/// `cargo metadata` of the workspace at `root`, for the wasm target.
pub fn cargo_metadata(root: &Path) -> Result<Value> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
            TARGET,
        ])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("cargo metadata printed invalid JSON")
}

/// The SHA-256 of every registry package in `Cargo.lock`, by (name, version).
pub fn lock_checksums(cargo_lock: &str) -> BTreeMap<(String, String), String> {
    let mut checksums = BTreeMap::new();
    for block in cargo_lock.split("[[package]]") {
        let field = |key: &str| {
            block.lines().find_map(|line| {
                let value = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_string())
            })
        };
        if let (Some(name), Some(version), Some(checksum)) =
            (field("name"), field("version"), field("checksum"))
        {
            checksums.insert((name, version), checksum);
        }
    }
    checksums
}

/// The policy crate and every crate linked into its module, the policy first, then by name.
pub fn linked_crates(
    metadata: &Value,
    checksums: &BTreeMap<(String, String), String>,
    policy: &str,
) -> Result<Vec<LinkedCrate>> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or_else(|| anyhow!("cargo metadata has no packages"))?;
    let by_id: BTreeMap<&str, &Value> = packages
        .iter()
        .filter_map(|package| Some((package["id"].as_str()?, package)))
        .collect();
    let is_proc_macro = |package: &Value| {
        package["targets"].as_array().is_some_and(|targets| {
            targets.iter().any(|target| {
                target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "proc-macro"))
            })
        })
    };
    let root = packages
        .iter()
        .find(|package| {
            package["name"] == policy
                && package["source"].is_null()
                && package["manifest_path"]
                    .as_str()
                    .is_some_and(|path| path.contains("/policies/"))
        })
        .and_then(|package| package["id"].as_str())
        .ok_or_else(|| anyhow!("no policy crate named {policy} in the workspace"))?;
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or_else(|| anyhow!("cargo metadata has no dependency graph"))?
        .iter()
        .filter_map(|node| Some((node["id"].as_str()?, node)))
        .collect();

    let mut crates = Vec::new();
    let mut seen = BTreeSet::from([root]);
    let mut queue = VecDeque::from([root]);
    while let Some(id) = queue.pop_front() {
        let package = by_id
            .get(id)
            .ok_or_else(|| anyhow!("cargo metadata lacks the package {id}"))?;
        let node = nodes
            .get(id)
            .ok_or_else(|| anyhow!("cargo metadata lacks the node {id}"))?;
        let mut dependencies = Vec::new();
        for dependency in node["deps"].as_array().into_iter().flatten() {
            // Linked: a normal dependency (kind null), not a proc-macro run by the compiler.
            let normal = dependency["dep_kinds"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind["kind"].is_null()));
            let Some(dependency_id) = dependency["pkg"].as_str() else {
                continue;
            };
            if !normal || by_id.get(dependency_id).is_some_and(|p| is_proc_macro(p)) {
                continue;
            }
            dependencies.push(dependency_id.to_string());
            if seen.insert(dependency_id) {
                queue.push_back(dependency_id);
            }
        }
        let text = |key: &str| package[key].as_str().map(str::to_string);
        let name = text("name").unwrap_or_default();
        let version = text("version").unwrap_or_default();
        crates.push(LinkedCrate {
            id: id.to_string(),
            checksum: checksums.get(&(name.clone(), version.clone())).cloned(),
            license: text("license").map(|license| license.replace('/', " OR ")),
            source: text("source"),
            name,
            version,
            dependencies,
        });
    }
    crates[1..].sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(crates)
}

/// The SPDX element id of a crate: `SPDXRef-Package-<name>-<version>`, with the characters SPDX
/// ids do not allow replaced.
fn spdx_id(name: &str, version: &str) -> String {
    let id: String = format!("{name}-{version}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-Package-{id}")
}

fn download_location(linked: &LinkedCrate) -> String {
    match linked.source.as_deref() {
        Some(CRATES_IO) => format!(
            "https://crates.io/api/v1/crates/{}/{}/download",
            linked.name, linked.version
        ),
        Some(other) => other.to_string(),
        None => "NOASSERTION".to_string(),
    }
}

/// The SPDX 2.3 document of `crates` (the policy first), created at `created` (RFC 3339).
pub fn document(crates: &[LinkedCrate], repository: &str, created: &str) -> Result<spdx::Spdx> {
    let policy = crates.first().context("no crates")?;
    let ids: BTreeMap<&str, String> = crates
        .iter()
        .map(|linked| (linked.id.as_str(), spdx_id(&linked.name, &linked.version)))
        .collect();
    let mut packages = Vec::new();
    let mut relationships = vec![
        spdx::SpdxItemRelationshipsBuilder::default()
            .spdx_element_id("SPDXRef-DOCUMENT")
            .relationship_type("DESCRIBES")
            .related_spdx_element(&ids[policy.id.as_str()])
            .build()?,
    ];
    for linked in crates {
        let mut package = spdx::SpdxItemPackagesBuilder::default();
        package
            .spdxid(&ids[linked.id.as_str()])
            .name(&linked.name)
            .version_info(&linked.version)
            .download_location(download_location(linked))
            .files_analyzed(false)
            .license_concluded("NOASSERTION")
            .license_declared(linked.license.as_deref().unwrap_or("NOASSERTION"))
            .copyright_text("NOASSERTION")
            .external_refs(vec![
                spdx::SpdxItemPackagesItemExternalRefsBuilder::default()
                    .reference_category("PACKAGE-MANAGER")
                    .reference_type("purl")
                    .reference_locator(format!("pkg:cargo/{}@{}", linked.name, linked.version))
                    .build()?,
            ]);
        if let Some(checksum) = &linked.checksum {
            package.checksums(vec![
                spdx::SpdxItemPackagesItemChecksumsBuilder::default()
                    .algorithm("SHA256")
                    .checksum_value(checksum)
                    .build()?,
            ]);
        }
        packages.push(package.build()?);
        for dependency in &linked.dependencies {
            relationships.push(
                spdx::SpdxItemRelationshipsBuilder::default()
                    .spdx_element_id(&ids[linked.id.as_str()])
                    .relationship_type("DEPENDS_ON")
                    .related_spdx_element(&ids[dependency.as_str()])
                    .build()?,
            );
        }
    }
    let name = format!("{}-{}", policy.name, policy.version);
    Ok(spdx::SpdxBuilder::default()
        .spdx_version("SPDX-2.3")
        .data_license("CC0-1.0")
        .spdxid("SPDXRef-DOCUMENT")
        .document_namespace(format!("{repository}/spdx/{name}"))
        .creation_info(
            spdx::SpdxCreationInfoBuilder::default()
                .created(created)
                .creators(vec![format!(
                    "Tool: kepguard-{}",
                    env!("CARGO_PKG_VERSION")
                )])
                .build()?,
        )
        .name(name)
        .packages(packages)
        .relationships(relationships)
        .build()?)
}

/// Writes `<output_dir>/<policy>.spdx.json` for each policy of the workspace at `root`; returns
/// the paths.
pub fn write(
    root: &Path,
    policies: &[crate::release::metadata::PolicyDir],
    output_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let metadata = cargo_metadata(root)?;
    let lock_path = root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .with_context(|| format!("cannot read {}", lock_path.display()))?;
    let checksums = lock_checksums(&lock);
    std::fs::create_dir_all(output_dir)
        .with_context(|| format!("cannot create {}", output_dir.display()))?;
    let created = crate::release::artifacthub::now_rfc3339();
    let mut written = Vec::new();
    for policy in policies {
        let crates = linked_crates(&metadata, &checksums, &policy.name)?;
        let repository = policy
            .metadata
            .annotation(crate::release::metadata::SOURCE)?;
        let document = document(&crates, repository, &created)?;
        let path = sbom_path(output_dir, &policy.name);
        std::fs::write(&path, serde_json::to_vec_pretty(&document)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
