//! `kepguard`: runs Kubewarden policy modules natively, as policy-server does.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kepguard::host::{Limits, Policy};
use kepguard::manifest::{ManifestKind, ManifestOptions};
use kepguard::metadata::{Metadata, PolicyDir, TITLE, VERSION};
use kepguard::{admission, annotate, artifacthub, bench, manifest, oci, suite};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kepguard",
    version,
    about = "Run and test Kubewarden policy modules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate one request with one policy, like `kwctl run`.
    Run(RunArgs),
    /// Run declarative test suites (default: every fixtures/*/suite.yaml).
    Test(TestArgs),
    /// Embed each policy's metadata in its module, like `kwctl annotate`:
    /// build/<policy>.wasm becomes build/annotated/<policy>.wasm.
    Annotate(AnnotateArgs),
    /// Print a ClusterAdmissionPolicy or AdmissionPolicy, like `kwctl scaffold manifest`.
    Manifest(ManifestArgs),
    /// Write artifacthub/<policy>/artifacthub-pkg.yml, like `kwctl scaffold artifacthub`.
    Artifacthub(ArtifacthubArgs),
    /// Push an annotated module to an OCI registry; prints registry/repo@sha256:...
    Push(PushArgs),
    /// Pull a policy module from an OCI registry.
    Pull(PullArgs),
    /// Push every annotated policy (or those named) to REGISTRY/<policy>:v<version>.
    Publish(PublishArgs),
    /// Measure every policy (or the suites named): module size and compile time, latency on
    /// fresh and warm instances, throughput, and the ratio to the native baseline.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Suite files; default: every fixtures/*/suite.yaml.
    suites: Vec<PathBuf>,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where criterion wrote the native baseline (target/criterion).
    #[arg(long)]
    native: Option<PathBuf>,
    /// Measure DIR/<policy>.wasm instead of the module each suite names (to compare builds).
    #[arg(long)]
    modules: Option<PathBuf>,
    /// Only write the payloads to measure, for the native benchmark, into this folder.
    #[arg(long)]
    write_inputs: Option<PathBuf>,
    /// Milliseconds of sampling per latency figure.
    #[arg(long, default_value_t = 400)]
    sample_ms: u64,
    /// Milliseconds of each throughput run.
    #[arg(long, default_value_t = 500)]
    throughput_ms: u64,
}

#[derive(Args)]
struct AnnotateArgs {
    /// Policies to annotate; default: every policy.
    policies: Vec<String>,
    /// Where the unannotated modules are.
    #[arg(long, default_value = "build")]
    build_dir: PathBuf,
    /// Where the annotated modules go.
    #[arg(long, default_value = "build/annotated")]
    output_dir: PathBuf,
}

#[derive(Args)]
struct ManifestArgs {
    policy: String,
    /// Settings as a YAML or JSON file; default: none.
    #[arg(long)]
    settings: Option<PathBuf>,
    /// ClusterAdmissionPolicy or AdmissionPolicy.
    #[arg(long = "type", default_value = "ClusterAdmissionPolicy")]
    kind: ManifestKind,
    /// The module URI; default: registry://<ociUrl>:v<version> from the metadata.
    #[arg(long)]
    module: Option<String>,
    /// protect (the default) or monitor.
    #[arg(long)]
    mode: Option<String>,
}

#[derive(Args)]
struct ArtifacthubArgs {
    /// Policies; default: every policy.
    policies: Vec<String>,
    /// Only check that the committed files are up to date.
    #[arg(long)]
    check: bool,
}

#[derive(Args)]
struct PushArgs {
    /// An annotated module (build/annotated/<policy>.wasm).
    module: PathBuf,
    /// registry/repository:tag, optionally with registry:// in front.
    reference: String,
}

#[derive(Args)]
struct PullArgs {
    /// registry/repository:tag or registry/repository@sha256:...
    reference: String,
    /// Where to write the module.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Args)]
struct PublishArgs {
    /// Policies; default: every policy.
    policies: Vec<String>,
    /// registry/path that receives <policy>:v<version>; default: each policy's ociUrl.
    #[arg(long)]
    registry: Option<String>,
    /// Refuse to publish unless every policy's crate has this version.
    #[arg(long)]
    version: Option<String>,
    /// Where the annotated modules are.
    #[arg(long, default_value = "build/annotated")]
    annotated_dir: PathBuf,
}

#[derive(Args)]
struct HostArgs {
    /// Stop an evaluation after this many milliseconds, like policy-server's --policy-timeout.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// The most memory one instance may use, in MiB.
    #[arg(long, default_value_t = 512)]
    memory_limit_mb: usize,
    /// Print the policy's log lines on stderr.
    #[arg(long, short)]
    verbose: bool,
}

impl HostArgs {
    fn limits(&self) -> Limits {
        Limits {
            timeout: Duration::from_millis(self.timeout_ms),
            memory_bytes: self.memory_limit_mb << 20,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// The policy module (.wasm).
    module: PathBuf,
    /// A file holding an AdmissionRequest or a whole AdmissionReview (JSON).
    #[arg(long, short)]
    request_path: PathBuf,
    /// Settings as a YAML or JSON file.
    #[arg(long, short, conflicts_with = "settings_json")]
    settings_path: Option<PathBuf>,
    /// Settings as a JSON string.
    #[arg(long)]
    settings_json: Option<String>,
    #[command(flatten)]
    host: HostArgs,
}

#[derive(Args)]
struct TestArgs {
    /// Suite files; default: every fixtures/*/suite.yaml.
    suites: Vec<PathBuf>,
    /// Also write the results as JUnit XML.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Run the suites against this module instead of the one each suite names.
    #[arg(long)]
    module: Option<PathBuf>,
    #[command(flatten)]
    host: HostArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run(args),
        Command::Test(args) => test(args),
        Command::Annotate(args) => annotate_policies(args),
        Command::Manifest(args) => print_manifest(args),
        Command::Artifacthub(args) => artifacthub_files(args),
        Command::Push(args) => push(args),
        Command::Pull(args) => pull(args),
        Command::Publish(args) => publish(args),
        Command::Bench(args) => bench(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
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
    println!("{}", serde_json::to_string(&response)?);
    Ok(ExitCode::SUCCESS)
}

fn test(args: TestArgs) -> Result<ExitCode> {
    let suites = if args.suites.is_empty() {
        default_suites(Path::new("fixtures"))?
    } else {
        args.suites
    };
    if suites.is_empty() {
        bail!("no suites found: pass suite files or run from the repository root");
    }
    let options = suite::RunOptions {
        limits: args.host.limits(),
        verbose: args.host.verbose,
        module_override: args.module,
    };
    let results: Vec<_> = suites
        .iter()
        .flat_map(|path| suite::run_suite(path, &options))
        .collect();
    print!("{}", suite::report(&results));
    if let Some(path) = &args.junit {
        std::fs::write(path, suite::junit(&results))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if results.iter().all(|r| r.failure.is_none()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench(args: BenchArgs) -> Result<ExitCode> {
    let suites = if args.suites.is_empty() {
        default_suites(Path::new("fixtures"))?
    } else {
        args.suites
    };
    let mut workloads = suites
        .iter()
        .map(|path| bench::workload(path))
        .collect::<Result<Vec<_>>>()?;
    if let Some(dir) = &args.modules {
        for workload in &mut workloads {
            workload.module = dir.join(format!("{}.wasm", workload.policy));
        }
    }
    if let Some(dir) = &args.write_inputs {
        bench::write_inputs(&workloads, dir)?;
        println!("wrote the benchmark inputs to {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let options = bench::BenchOptions {
        sample_time: Duration::from_millis(args.sample_ms),
        throughput_time: Duration::from_millis(args.throughput_ms),
        native_dir: args.native,
    };
    let mut reports = Vec::new();
    for workload in &workloads {
        eprintln!("measuring {}", workload.policy);
        reports.push(bench::measure(workload, &options)?);
    }
    print!("{}", bench::table(&reports));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn default_suites(fixtures: &Path) -> Result<Vec<PathBuf>> {
    let mut suites = Vec::new();
    for entry in std::fs::read_dir(fixtures)
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

/// The named policies, or every policy; each one checked (metadata complete, versions agree).
fn policies(names: &[String]) -> Result<Vec<PolicyDir>> {
    let root = Path::new(".");
    if names.is_empty() {
        PolicyDir::all(root)
    } else {
        names
            .iter()
            .map(|name| PolicyDir::load(root, name))
            .collect()
    }
}

fn annotate_policies(args: AnnotateArgs) -> Result<ExitCode> {
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

fn print_manifest(args: ManifestArgs) -> Result<ExitCode> {
    let policy = PolicyDir::load(Path::new("."), &args.policy)?;
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

fn artifacthub_files(args: ArtifacthubArgs) -> Result<ExitCode> {
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

fn push(args: PushArgs) -> Result<ExitCode> {
    let module = std::fs::read(&args.module)
        .with_context(|| format!("cannot read {}", args.module.display()))?;
    let reference = oci::push(&module, &args.reference)
        .with_context(|| format!("cannot push {}", args.module.display()))?;
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}

fn pull(args: PullArgs) -> Result<ExitCode> {
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

fn publish(args: PublishArgs) -> Result<ExitCode> {
    let policies = policies(&args.policies)?;
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
    }
    Ok(ExitCode::SUCCESS)
}
