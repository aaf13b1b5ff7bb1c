//! The release commands: annotate, manifest, artifacthub, push, pull and publish.

use super::policies;
use crate::release::manifest::{ManifestKind, ManifestOptions};
use crate::release::metadata::{Metadata, PolicyDir, TITLE, VERSION};
use crate::release::verification::{self, Requirement};
use crate::release::{annotate, artifacthub, manifest, oci, sbom, signing};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct AnnotateArgs {
    /// Policies to annotate; default: every policy.
    pub policies: Vec<String>,
    /// Where the unannotated modules are.
    #[arg(long, default_value = "build")]
    pub build_dir: PathBuf,
    /// Where the annotated modules go.
    #[arg(long, default_value = "build/annotated")]
    pub output_dir: PathBuf,
}

#[derive(Args)]
pub struct ManifestArgs {
    /// The policy; not needed with --verification-config.
    #[arg(required_unless_present = "verification_config")]
    pub policy: Option<String>,
    /// Instead of a policy, print the policy-server verification config (the format of
    /// `kwctl scaffold verification-config`) that requires a signature by this public key.
    #[arg(long, value_name = "PUBLIC_KEY", conflicts_with_all = ["settings", "module", "mode"])]
    pub verification_config: Option<PathBuf>,
    /// With --verification-config: also require a keyless signature made by a GitHub Actions
    /// workflow of this owner (the release workflow's).
    #[arg(long, requires = "verification_config")]
    pub github_owner: Option<String>,
    /// With --github-owner: only workflows of this repository.
    #[arg(long, requires = "github_owner")]
    pub github_repo: Option<String>,
    /// Settings as a YAML or JSON file; default: none.
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// ClusterAdmissionPolicy or AdmissionPolicy.
    #[arg(long = "type", default_value = "ClusterAdmissionPolicy")]
    pub kind: ManifestKind,
    /// The module URI; default: registry://<ociUrl>:v<version> from the metadata.
    #[arg(long)]
    pub module: Option<String>,
    /// protect (the default) or monitor.
    #[arg(long)]
    pub mode: Option<String>,
}

#[derive(Args)]
pub struct ArtifacthubArgs {
    /// Policies; default: every policy.
    pub policies: Vec<String>,
    /// Only check that the committed files are up to date.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args)]
pub struct SbomArgs {
    /// Policies; default: every policy.
    pub policies: Vec<String>,
    /// Where <policy>.spdx.json goes.
    #[arg(long, default_value = "build/sbom")]
    pub output_dir: PathBuf,
}

#[derive(Args)]
pub struct PushArgs {
    /// An annotated module (build/annotated/<policy>.wasm).
    pub module: PathBuf,
    /// registry/repository:tag, optionally with registry:// in front.
    pub reference: String,
}

#[derive(Args)]
pub struct PullArgs {
    /// registry/repository:tag or registry/repository@sha256:...
    pub reference: String,
    /// Where to write the module.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(Args)]
pub struct PublishArgs {
    /// Policies; default: every policy.
    pub policies: Vec<String>,
    /// registry/path that receives <policy>:v<version>; default: each policy's ociUrl.
    #[arg(long)]
    pub registry: Option<String>,
    /// Refuse to publish unless every policy's crate has this version.
    #[arg(long)]
    pub version: Option<String>,
    /// Where the annotated modules are.
    #[arg(long, default_value = "build/annotated")]
    pub annotated_dir: PathBuf,
    /// Sign each pushed module with this cosign private key ($COSIGN_PASSWORD).
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
}

pub fn annotate_policies(args: AnnotateArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.output_dir)
        .with_context(|| format!("cannot create {}", args.output_dir.display()))?;
    for policy in policies(&args.policies)? {
        let input = args.build_dir.join(format!("{}.wasm", policy.name));
        let module = std::fs::read(&input).with_context(|| {
            format!(
                "cannot read {}: build it first (make policies)",
                input.display()
            )
        })?;
        let annotated = annotate::annotate(
            &input.display().to_string(),
            &module,
            &policy.metadata,
            &policy.readme()?,
        )?;
        let output = args.output_dir.join(format!("{}.wasm", policy.name));
        std::fs::write(&output, &annotated)
            .with_context(|| format!("cannot write {}", output.display()))?;
        println!(
            "{}: {} bytes, version {}",
            output.display(),
            annotated.len(),
            policy.version
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_manifest(args: ManifestArgs) -> Result<ExitCode> {
    if let Some(public_key) = &args.verification_config {
        let key = String::from_utf8(signing::load_public_key(public_key)?)
            .with_context(|| format!("{} is not text", public_key.display()))?;
        let mut requirements = vec![Requirement::PubKey { owner: None, key }];
        if let Some(owner) = args.github_owner {
            requirements.push(Requirement::GithubAction {
                owner,
                repo: args.github_repo,
            });
        }
        print!("{}", verification::render(requirements)?);
        return Ok(ExitCode::SUCCESS);
    }
    let name = args
        .policy
        .as_deref()
        .context("name the policy whose manifest to print")?;
    let policy = PolicyDir::load(Path::new("."), name)?;
    let settings = match &args.settings {
        None => serde_norway::Mapping::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read settings file {}", path.display()))?;
            serde_norway::from_str(&text).with_context(|| {
                format!(
                    "settings file {} must hold a YAML or JSON mapping",
                    path.display()
                )
            })?
        }
    };
    let module = match args.module {
        Some(module) => module,
        None => format!("registry://{}", policy.image()?),
    };
    let options = ManifestOptions {
        kind: args.kind,
        module,
        settings,
        mode: args.mode,
    };
    print!("{}", manifest::render(&policy.metadata, options)?);
    Ok(ExitCode::SUCCESS)
}

pub fn artifacthub_files(args: ArtifacthubArgs) -> Result<ExitCode> {
    let root = Path::new(".");
    let mut stale = Vec::new();
    for policy in policies(&args.policies)? {
        let path = artifacthub::package_path(root, &policy.name);
        if args.check {
            if let Some(reason) = artifacthub::staleness(root, &policy)? {
                stale.push(reason);
            }
        } else if artifacthub::write(root, &policy)? {
            println!("{}: written", path.display());
        } else {
            println!("{}: up to date", path.display());
        }
    }
    if stale.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for reason in &stale {
        eprintln!("{reason}");
    }
    eprintln!("Run `make artifacthub` and commit the result.");
    Ok(ExitCode::FAILURE)
}

pub fn sboms(args: SbomArgs) -> Result<ExitCode> {
    for path in sbom::write(Path::new("."), &policies(&args.policies)?, &args.output_dir)? {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn push(args: PushArgs) -> Result<ExitCode> {
    let module = std::fs::read(&args.module)
        .with_context(|| format!("cannot read {}", args.module.display()))?;
    let reference = oci::push(&module, &args.reference)
        .with_context(|| format!("cannot push {}", args.module.display()))?;
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}

pub fn pull(args: PullArgs) -> Result<ExitCode> {
    let pulled = oci::pull(&args.reference)?;
    let metadata = Metadata::from_module(&pulled.module)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} holds a module without Kubewarden metadata",
            args.reference
        )
    })?;
    if let Some(parent) = args.output.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.output, &pulled.module)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("{}", pulled.reference);
    eprintln!(
        "{}: {} version {}, {} bytes",
        args.output.display(),
        metadata.annotation(TITLE).unwrap_or("an untitled policy"),
        metadata.annotation(VERSION).unwrap_or("unknown"),
        pulled.module.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn publish(args: PublishArgs) -> Result<ExitCode> {
    let policies = policies(&args.policies)?;
    // A key that cannot be opened stops the publication before anything is pushed.
    let signing_key = args
        .sign_key
        .as_deref()
        .map(super::signing::signing_key)
        .transpose()?;
    if let Some(version) = &args.version {
        let version = version.strip_prefix('v').unwrap_or(version);
        let differing: Vec<_> = policies
            .iter()
            .filter(|policy| policy.version != version)
            .map(|policy| format!("{} is {}", policy.name, policy.version))
            .collect();
        if !differing.is_empty() {
            bail!(
                "VERSION {version} is not the crate version of every policy published ({}): \
                 the crate's version is the policy's version",
                differing.join(", ")
            );
        }
    }
    for policy in &policies {
        let path = args.annotated_dir.join(format!("{}.wasm", policy.name));
        let module = std::fs::read(&path)
            .with_context(|| format!("cannot read {}: run make annotate", path.display()))?;
        let embedded = Metadata::from_module(&module)?
            .ok_or_else(|| anyhow::anyhow!("{} is not annotated", path.display()))?;
        if embedded.annotation(VERSION)? != policy.version {
            bail!(
                "{} was annotated for version {}, but the crate is {}: run make annotate",
                path.display(),
                embedded.annotation(VERSION)?,
                policy.version
            );
        }
        let target = match &args.registry {
            Some(registry) => format!(
                "{}/{}:v{}",
                registry.trim_end_matches('/'),
                policy.name,
                policy.version
            ),
            None => policy.image()?,
        };
        let reference = oci::push(&module, &target)
            .with_context(|| format!("cannot publish {}", policy.name))?;
        println!("{reference}");
        if let Some(key) = &signing_key {
            let signature = signing::sign(&reference, key)
                .with_context(|| format!("cannot sign {reference}"))?;
            eprintln!("{}: signed, {signature}", policy.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
