//! The repository's shape, answered in one place: which folders are policies, where their
//! suites are, and how their modules are built. `kepguard build`, `test`, `bench`, the
//! release commands and the tests all ask here, so adding a policy registers it nowhere.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Rust target of every policy module, the one Kubewarden's Rust policies use.
pub const TARGET: &str = "wasm32-wasip1";
/// The cargo profile of the modules (see the workspace's Cargo.toml).
pub const PROFILE: &str = "policy";
/// Binaryen's flags: `-O3`, with the features rustc enables for the target.
const WASM_OPT_FLAGS: [&str; 5] = [
    "-O3",
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
];
/// Where Debian's `wasi-libc` puts the target's C library (the fallback toolchain).
const DEBIAN_WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// Every policy: the folders under `policies/` with a `metadata.yml`, sorted by name.
pub fn policy_names(root: &Path) -> Result<Vec<String>> {
    let policies = root.join("policies");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&policies)
        .with_context(|| format!("cannot read {}", policies.display()))?
    {
        let entry = entry?;
        if entry.path().join("metadata.yml").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Every suite: `fixtures/<policy>/suite.yaml`, sorted.
pub fn suites(root: &Path) -> Result<Vec<PathBuf>> {
    let fixtures = root.join("fixtures");
    let mut suites = Vec::new();
    for entry in std::fs::read_dir(&fixtures)
        .with_context(|| format!("cannot read {}", fixtures.display()))?
    {
        let suite = entry?.path().join("suite.yaml");
        if suite.is_file() {
            suites.push(suite);
        }
    }
    suites.sort();
    Ok(suites)
}

/// Where cargo leaves a policy's module.
pub fn cargo_module(target_dir: &Path, policy: &str) -> PathBuf {
    target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", policy.replace('-', "_")))
}

/// Builds the named policies (every policy when none is named) into `<out>/<policy>.wasm`:
/// cargo for wasm32-wasip1, then Binaryen's `wasm-opt` when it is installed.
/// `scripts/setup.sh` installs the target (or Debian's fallback toolchain) and Binaryen.
pub fn build_modules(root: &Path, names: &[String], out: &Path) -> Result<Vec<PathBuf>> {
    let all = policy_names(root)?;
    let names = if names.is_empty() {
        all.clone()
    } else {
        names.to_vec()
    };
    if let Some(unknown) = names.iter().find(|name| !all.contains(name)) {
        bail!(
            "no policy named {unknown} (policies/{unknown}/metadata.yml is missing); the policies are {}",
            all.join(", ")
        );
    }
    let mut cargo = cargo_command(root)?;
    cargo.args(["build", "--target", TARGET, "--profile", PROFILE]);
    for name in &names {
        cargo.args(["-p", name]);
    }
    // cargo hands its stdin to rustc when it probes the target: give it nothing.
    let status = cargo
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo could not build the policies ({status})");
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let target_dir = target_dir(root);
    let wasm_opt = which("wasm-opt");
    if wasm_opt.is_none() {
        eprintln!("wasm-opt is missing (run scripts/setup.sh): the modules are not optimised");
    }
    let mut modules = Vec::new();
    for name in &names {
        let built = cargo_module(&target_dir, name);
        let module = out.join(format!("{name}.wasm"));
        match &wasm_opt {
            Some(wasm_opt) => {
                let status = Command::new(wasm_opt)
                    .args(WASM_OPT_FLAGS)
                    .arg(&built)
                    .arg("-o")
                    .arg(&module)
                    .status()
                    .context("cannot run wasm-opt")?;
                if !status.success() {
                    bail!("wasm-opt failed on {} ({status})", built.display());
                }
            }
            None => {
                std::fs::copy(&built, &module).with_context(|| {
                    format!("cannot copy {} to {}", built.display(), module.display())
                })?;
            }
        }
        modules.push(module);
    }
    Ok(modules)
}

/// rustup's cargo when the target is installed; otherwise Debian's Rust rebuilding std for
/// the target, the fallback where rustup cannot download it.
pub fn cargo_command(root: &Path) -> Result<Command> {
    if target_installed(root) {
        return Ok(Command::new(
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        ));
    }
    if Path::new("/usr/bin/cargo").is_file() && Path::new(DEBIAN_WASI_LIBC).is_dir() {
        eprintln!("rustup has no {TARGET}: using Debian's Rust and -Zbuild-std");
        let mut cargo = Command::new("/usr/bin/cargo");
        let path = std::env::var("PATH").unwrap_or_default();
        cargo
            .env("PATH", format!("/usr/bin:{path}"))
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env(
                "CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS",
                format!("-C link-self-contained=no -L native={DEBIAN_WASI_LIBC}"),
            )
            .arg("-Zbuild-std=std,panic_abort");
        return Ok(cargo);
    }
    bail!("the {TARGET} target is not installed: run scripts/setup.sh wasm")
}

/// Whether rustc can compile an empty crate for the target.
fn target_installed(root: &Path) -> bool {
    let scratch = target_dir(root).join("target-probe");
    let probe = Command::new("rustc")
        .args([
            "--target",
            TARGET,
            "--crate-type",
            "lib",
            "--emit=metadata",
            "--out-dir",
        ])
        .arg(&scratch)
        .arg("-")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    matches!(probe, Ok(status) if status.success())
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => root.join("target"),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn policies_are_the_folders_with_metadata() {
        let root = std::env::temp_dir().join(format!("kepguard-workspace-{}", std::process::id()));
        for folder in [
            "policies/b-policy",
            "policies/a-policy",
            "policies/not-a-policy",
        ] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        std::fs::write(root.join("policies/a-policy/metadata.yml"), "").unwrap();
        std::fs::write(root.join("policies/b-policy/metadata.yml"), "").unwrap();
        assert_eq!(policy_names(&root).unwrap(), ["a-policy", "b-policy"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn every_policy_has_a_suite() {
        let root = repo_root();
        let suites = suites(&root).unwrap();
        for policy in policy_names(&root).unwrap() {
            let suite = root.join("fixtures").join(&policy).join("suite.yaml");
            assert!(suites.contains(&suite), "{} is missing", suite.display());
        }
    }

    #[test]
    fn an_unknown_policy_is_refused_before_building() {
        let error = build_modules(
            &repo_root(),
            &["no-such-policy".into()],
            Path::new("unused"),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("no policy named no-such-policy"),
            "{error}"
        );
    }
}
