//! `kepguard check`: policy resources against manifests, for CI (docs/check.md).

use super::HostArgs;
use crate::check::{self, modules, report};
use crate::release::oci::Sources;
use crate::release::signing;
use anyhow::Result;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Junit,
}

#[derive(Args)]
pub struct CheckArgs {
    /// A file or folder of ClusterAdmissionPolicy and AdmissionPolicy resources (repeat for
    /// more); their modules are registry://, https:// or file:// URIs.
    #[arg(long = "policies", short = 'p', required = true)]
    pub policies: Vec<PathBuf>,
    /// Manifest files or folders (YAML or JSON, multi-document, List kinds); `-` reads
    /// standard input.
    #[arg(required = true)]
    pub manifests: Vec<PathBuf>,
    /// The namespace of namespaced objects that name none (and of AdmissionPolicies).
    #[arg(long, short, default_value = "default")]
    pub namespace: String,
    /// The userInfo.username of the requests.
    #[arg(long, default_value = "kepguard-check")]
    pub user: String,
    /// The userInfo.groups of the requests (repeat for more).
    #[arg(long = "group", default_values_t = ["system:authenticated".to_string()])]
    pub groups: Vec<String>,
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Also print the objects as the mutating policies left them.
    #[arg(long)]
    pub show_mutated: bool,
    /// Where pulled and compiled modules are kept; default $XDG_CACHE_HOME/kepguard or
    /// ~/.cache/kepguard.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// kwctl's sources.yml: insecure_sources and source_authorities of registries.
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// Refuse any module without a cosign signature made with this public key (cosign.pub),
    /// as a policy-server verification config would; only registry:// modules can pass.
    #[arg(long)]
    pub verify_key: Option<PathBuf>,
    #[command(flatten)]
    pub host: HostArgs,
}

/// Exit 0: nothing rejected in protect mode; 1: something was; 2: the input is wrong (the
/// message names the file and line), and nothing is reported.
pub fn check(args: CheckArgs) -> Result<ExitCode> {
    match run(args) {
        Ok(code) => Ok(code),
        Err(error) => {
            eprintln!("Error: {error:#}");
            Ok(ExitCode::from(2))
        }
    }
}

fn run(args: CheckArgs) -> Result<ExitCode> {
    let options = check::Options {
        policies: args.policies,
        manifests: args.manifests,
        namespace: args.namespace,
        user: args.user,
        groups: args.groups,
        cache_dir: match args.cache_dir {
            Some(dir) => dir,
            None => modules::default_cache_dir()?,
        },
        sources: match &args.sources {
            Some(path) => Sources::load(path)?,
            None => Sources::default(),
        },
        limits: args.host.limits(),
        verbose: args.host.verbose,
        verify_key: match &args.verify_key {
            Some(path) => Some(signing::load_public_key(path)?),
            None => None,
        },
    };
    let outcome = check::check(&options)?;
    for module in &outcome.modules {
        eprintln!(
            "policy {}: {} is {}",
            module.policy, module.module, module.resolved
        );
    }
    let cache = &outcome.cache;
    eprintln!(
        "modules: {} pulled, {} downloaded, {} from the module cache; {} compiled, {} from the compile cache ({})",
        cache.pulled,
        cache.downloaded,
        cache.from_module_cache,
        cache.compiled,
        cache.from_compile_cache,
        options.cache_dir.display()
    );
    let seconds = outcome.elapsed.as_secs_f64();
    eprintln!(
        "checked {} objects in {seconds:.3} s ({:.0} objects/s), {:.1}% of it compiling or loading compiled modules",
        outcome.objects,
        outcome.objects as f64 / seconds.max(1e-9),
        100.0 * cache.compile_time.as_secs_f64() / seconds.max(1e-9)
    );
    match args.output {
        Output::Table => {
            print!("{}", report::table(&outcome));
            if args.show_mutated {
                print!("{}", report::mutated_manifests(&outcome));
            }
        }
        Output::Json => print!("{}", report::json(&outcome, args.show_mutated)),
        Output::Junit => print!("{}", report::junit(&outcome)),
    }
    Ok(if outcome.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
