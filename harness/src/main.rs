//! `kepguard`: runs Kubewarden policy modules natively, as policy-server does.

use clap::{Parser, Subcommand};
use kepguard::commands::{bench, build, check, playground, release, run, test};
use std::process::ExitCode;

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
    /// Build every policy (or those named) into build/<policy>.wasm for wasm32-wasip1.
    Build(build::BuildArgs),
    /// Evaluate one request with one policy, like `kwctl run`.
    Run(run::RunArgs),
    /// Run the policy resources (ClusterAdmissionPolicy, AdmissionPolicy) a cluster enforces
    /// against manifests, as the apiserver would on create; exit 1 on a rejection.
    Check(check::CheckArgs),
    /// Run declarative test suites (default: every fixtures/*/suite.yaml).
    Test(test::TestArgs),
    /// Embed each policy's metadata in its module, like `kwctl annotate`:
    /// build/<policy>.wasm becomes build/annotated/<policy>.wasm.
    Annotate(release::AnnotateArgs),
    /// Print a ClusterAdmissionPolicy or AdmissionPolicy, like `kwctl scaffold manifest`.
    Manifest(release::ManifestArgs),
    /// Write artifacthub/<policy>/artifacthub-pkg.yml, like `kwctl scaffold artifacthub`.
    Artifacthub(release::ArtifacthubArgs),
    /// Push an annotated module to an OCI registry; prints registry/repo@sha256:...
    Push(release::PushArgs),
    /// Pull a policy module from an OCI registry.
    Pull(release::PullArgs),
    /// Push every annotated policy (or those named) to REGISTRY/<policy>:v<version>.
    Publish(release::PublishArgs),
    /// Measure every policy (or the suites named): module size and compile time, latency on
    /// fresh and warm instances, throughput, and the ratio to the native baseline.
    Bench(bench::BenchArgs),
    /// Serve the browser playground (built by `make playground`) on 127.0.0.1.
    Playground(playground::PlaygroundArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build(args) => build::build(args),
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::test(args),
        Command::Check(args) => check::check(args),
        Command::Annotate(args) => release::annotate_policies(args),
        Command::Manifest(args) => release::print_manifest(args),
        Command::Artifacthub(args) => release::artifacthub_files(args),
        Command::Push(args) => release::push(args),
        Command::Pull(args) => release::pull(args),
        Command::Publish(args) => release::publish(args),
        Command::Bench(args) => bench::bench(args),
        Command::Playground(args) => playground::playground(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
