//! `kepguard`: runs Kubewarden policy modules natively, as policy-server does.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kepguard::host::{Limits, Policy};
use kepguard::{admission, suite};
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
