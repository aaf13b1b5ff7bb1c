//! The SBOM of each policy (`kepguard sbom`, `make sbom`) names every crate that cargo compiles
//! into the module, as cargo itself reports them when it builds the module.

use kepguard::release::metadata::PolicyDir;
use kepguard::workspace::{PROFILE, TARGET, cargo_command};
use serde_spdx::spdx::v_2_3::Spdx;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (name, version) of every library cargo compiles for the module's target when it builds the
/// policy: what the module links. Build scripts and proc-macros run on the host and are left
/// out, as is the standard library a fallback toolchain rebuilds.
fn compiled_into_module(root: &Path, policy: &str) -> BTreeSet<(String, String)> {
    let output = cargo_command(root)
        .unwrap()
        .args([
            "build",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
            "-p",
            policy,
        ])
        .arg("--message-format=json")
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo could not build {policy}");
    let mut crates = BTreeSet::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let message: serde_json::Value = serde_json::from_str(line).unwrap();
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        // Host artifacts (proc-macros, build scripts and their libraries) land outside the
        // target's folder.
        let for_target = message["filenames"]
            .as_array()
            .unwrap()
            .iter()
            .any(|file| file.as_str().unwrap().contains(&format!("/{TARGET}/")));
        if !for_target {
            continue;
        }
        let id = message["package_id"].as_str().unwrap();
        if id.contains("/library/") {
            continue;
        }
        // `<source>#<name>@<version>`, or `<source>/<name>#<version>` for a path crate.
        let (source, fragment) = id.rsplit_once('#').unwrap();
        let (name, version) = match fragment.split_once('@') {
            Some((name, version)) => (name.to_string(), version.to_string()),
            None => (
                source.rsplit('/').next().unwrap().to_string(),
                fragment.to_string(),
            ),
        };
        crates.insert((name, version));
    }
    assert!(crates.len() > 5, "{policy}: cargo reported {crates:?}");
    crates
}

#[test]
fn each_sbom_names_every_crate_compiled_into_its_module() {
    let root = repo_root();
    let out = std::env::temp_dir().join(format!("kepguard-sbom-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_kepguard"))
        .args(["sbom", "--output-dir"])
        .arg(&out)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for policy in PolicyDir::all(&root).unwrap() {
        let path = out.join(format!("{}.spdx.json", policy.name));
        let text = std::fs::read_to_string(&path).unwrap();
        // The document reads back through the SPDX 2.3 model.
        let document: Spdx = serde_json::from_str(&text).unwrap();
        assert_eq!(document.spdx_version, "SPDX-2.3");
        let packages = document.packages.clone().unwrap_or_default();
        let named: BTreeSet<(String, String)> = packages
            .iter()
            .map(|package| {
                (
                    package.name.clone(),
                    package.version_info.clone().unwrap_or_default(),
                )
            })
            .collect();
        let compiled = compiled_into_module(&root, &policy.name);
        let missing: Vec<_> = compiled.difference(&named).collect();
        assert!(
            missing.is_empty(),
            "{}: the SBOM lacks {missing:?}",
            path.display()
        );
        assert!(named.contains(&(policy.name.clone(), policy.version.clone())));

        // Registry crates carry their Cargo.lock checksum, and every crate a license.
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        for package in json["packages"].as_array().unwrap() {
            let name = package["name"].as_str().unwrap();
            if package["downloadLocation"]
                .as_str()
                .unwrap()
                .starts_with("https://crates.io/")
            {
                let checksum = &package["checksums"][0];
                assert_eq!(checksum["algorithm"], "SHA256", "{name}");
                assert_eq!(
                    checksum["checksumValue"].as_str().unwrap().len(),
                    64,
                    "{name}"
                );
            }
            assert_ne!(package["licenseDeclared"], "NOASSERTION", "{name}");
        }
        let describes: Vec<_> = json["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|relationship| relationship["relationshipType"] == "DESCRIBES")
            .collect();
        assert_eq!(describes.len(), 1);
        assert_eq!(
            describes[0]["relatedSpdxElement"],
            format!("SPDXRef-Package-{}-{}", policy.name, policy.version)
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}
