//! `kepguard bench`: what a policy costs on the request path.
//!
//! For every suite it measures the module's size and compile time, then, on a representative
//! set of the suite's fixtures (its first accepted, rejected and mutated cases with the suite's
//! default settings) and on generated objects of growing size, the latency of an evaluation on
//! a fresh instance (policy-server's model) and on a reused warm instance (`kwctl bench`'s
//! model), and the throughput of one evaluation thread per core on fresh instances.
//!
//! The native baseline is the same rule code called in-process: `kepguard bench --write-inputs
//! DIR` writes every payload measured here, each policy's `benches/native.rs` (criterion,
//! through the `kepguard-bench` crate) runs its `validate` on exactly those bytes, and `kepguard bench --native DIR` reads
//! criterion's medians back and prints the ratio fresh-instance / native. `make bench` runs the
//! three steps in one go.

pub mod inputs;

pub use inputs::{generated_pod, generated_service, input_path, workload, write_inputs};

use crate::host::{Limits, Policy};
use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The budget of the issue: every module within this size.
pub const MODULE_BYTES_TARGET: u64 = 400 << 10;
/// Fresh-instance p50 of a typical fixture, in µs.
pub const FRESH_P50_TARGET_US: f64 = 60.0;
/// Fresh-instance latency over native latency.
pub const RATIO_TARGET: f64 = 3.0;
/// Linear: the cost of one more item at the largest sizes stays within this factor of its
/// cost at the smallest.
pub const LINEARITY_TOLERANCE: f64 = 2.0;

/// Object sizes of the generated inputs: containers plus as many init containers for a Pod,
/// ports for a Service.
pub const SIZES: [usize; 4] = [1, 10, 50, 100];

pub struct BenchOptions {
    /// How long to sample each latency, after warm-up.
    pub sample_time: Duration,
    /// How long each throughput run lasts.
    pub throughput_time: Duration,
    /// Where criterion left the native baseline (`target/criterion`).
    pub native_dir: Option<PathBuf>,
}

/// One payload to measure, as the harness sends it to `validate`.
pub struct Input {
    /// `accepted`, `rejected`, `mutated`, or `pod-N` / `service-N` for generated objects.
    pub label: String,
    /// The suite case, or a description of the generated object.
    pub case: String,
    /// The number of items in a generated object.
    pub items: Option<usize>,
    pub payload: Vec<u8>,
}

/// A suite's module and the inputs that represent it.
pub struct Workload {
    pub policy: String,
    pub module: PathBuf,
    /// The first input is the headline figure: the suite's first accepted case.
    pub inputs: Vec<Input>,
}

#[derive(Serialize, Clone, Copy, Default)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub iterations: usize,
}

#[derive(Serialize)]
pub struct InputReport {
    pub label: String,
    pub case: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
    pub payload_bytes: usize,
    /// What the policy did: `accepted`, `rejected` or `mutated`.
    pub verdict: String,
    pub fresh: Latency,
    pub warm: Latency,
    pub native_p50_us: Option<f64>,
    pub ratio_fresh_to_native: Option<f64>,
}

/// One policy's figures; the flat fields are those of its headline fixture.
#[derive(Serialize)]
pub struct PolicyReport {
    pub policy: String,
    pub module: String,
    pub module_bytes: u64,
    pub compile_ms: f64,
    pub fixture: String,
    pub fixture_case: String,
    pub fresh_p50_us: f64,
    pub fresh_p99_us: f64,
    pub warm_p50_us: f64,
    pub warm_p99_us: f64,
    pub native_p50_us: Option<f64>,
    pub ratio_fresh_to_native: Option<f64>,
    /// A fresh instance ready to serve (instantiation and `wapc_init`), without a call.
    pub instantiate_p50_us: f64,
    pub throughput_threads: usize,
    pub throughput_per_s: f64,
    /// Fresh-instance µs per added item, between the two smallest and the two largest sizes.
    pub marginal_us_per_item: Option<(f64, f64)>,
    pub linear: Option<bool>,
    pub inputs: Vec<InputReport>,
}

/// The median of the native benchmark of one input, from criterion's estimates, in µs.
fn native_p50_us(dir: &Path, policy: &str, label: &str) -> Option<f64> {
    let path = dir
        .join(format!("native-{policy}"))
        .join(label)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some(estimates.pointer("/median/point_estimate")?.as_f64()? / 1000.0)
}

/// Measures one policy.
pub fn measure(workload: &Workload, options: &BenchOptions) -> Result<PolicyReport> {
    let bytes = std::fs::read(&workload.module)
        .with_context(|| format!("cannot read module {}", workload.module.display()))?;
    let name = workload.module.display().to_string();
    let mut compile_times = Vec::new();
    let mut policy = None;
    for _ in 0..3 {
        let start = Instant::now();
        policy = Some(Policy::from_bytes(&name, &bytes, Limits::default(), false)?);
        compile_times.push(start.elapsed());
    }
    compile_times.sort();
    let policy = policy.expect("compiled three times");

    let mut inputs = Vec::new();
    for input in &workload.inputs {
        let verdict = verdict(
            &policy
                .call("validate", &input.payload)
                .map_err(|error| anyhow!("{}: {}: {error}", workload.policy, input.label))?,
        )?;
        let fresh = sample(options.sample_time, || {
            policy
                .call("validate", &input.payload)
                .map(drop)
                .map_err(|error| anyhow!("{error}"))
        })?;
        let mut instance = policy
            .instantiate()
            .map_err(|error| anyhow!("{}: {error}", workload.policy))?;
        let warm = sample(options.sample_time, || {
            instance
                .call("validate", &input.payload)
                .map(drop)
                .map_err(|error| anyhow!("{error}"))
        })?;
        let native = options
            .native_dir
            .as_deref()
            .and_then(|dir| native_p50_us(dir, &workload.policy, &input.label));
        inputs.push(InputReport {
            label: input.label.clone(),
            case: input.case.clone(),
            items: input.items,
            payload_bytes: input.payload.len(),
            verdict,
            fresh,
            warm,
            native_p50_us: native,
            ratio_fresh_to_native: native.map(|native| fresh.p50_us / native),
        });
    }

    let instantiate = sample(options.sample_time, || {
        policy
            .instantiate()
            .map(drop)
            .map_err(|error| anyhow!("{error}"))
    })?;
    let (threads, per_second) = throughput(&policy, &workload.inputs[0].payload, options)?;
    let scaling: Vec<(usize, f64)> = inputs
        .iter()
        .filter_map(|input| Some((input.items?, input.fresh.p50_us)))
        .collect();
    let marginal = match scaling.as_slice() {
        [(n0, t0), (n1, t1), .., (m0, u0), (m1, u1)] => Some((
            (t1 - t0) / (*n1 - *n0) as f64,
            (u1 - u0) / (*m1 - *m0) as f64,
        )),
        _ => None,
    };
    let headline = &inputs[0];
    Ok(PolicyReport {
        policy: workload.policy.clone(),
        module: name,
        module_bytes: bytes.len() as u64,
        compile_ms: compile_times[1].as_secs_f64() * 1000.0,
        fixture: headline.label.clone(),
        fixture_case: headline.case.clone(),
        fresh_p50_us: headline.fresh.p50_us,
        fresh_p99_us: headline.fresh.p99_us,
        warm_p50_us: headline.warm.p50_us,
        warm_p99_us: headline.warm.p99_us,
        native_p50_us: headline.native_p50_us,
        ratio_fresh_to_native: headline.ratio_fresh_to_native,
        instantiate_p50_us: instantiate.p50_us,
        throughput_threads: threads,
        throughput_per_s: per_second,
        marginal_us_per_item: marginal,
        linear: marginal.map(|(small, large)| large <= small.max(0.01) * LINEARITY_TOLERANCE),
        inputs,
    })
}

fn verdict(response: &[u8]) -> Result<String> {
    let response: Value =
        serde_json::from_slice(response).context("validate answered with malformed JSON")?;
    Ok(match (
        response.get("accepted").and_then(Value::as_bool),
        response.get("mutated_object").is_some_and(|o| !o.is_null()),
    ) {
        (Some(false), _) => "rejected",
        (Some(true), true) => "mutated",
        (Some(true), false) => "accepted",
        (None, _) => bail!("validate answered without `accepted`"),
    }
    .to_string())
}

/// Warms up for a tenth of `time`, then times single calls for `time` (at least 200).
fn sample(time: Duration, mut call: impl FnMut() -> Result<()>) -> Result<Latency> {
    let warm_up = Instant::now();
    while warm_up.elapsed() < time / 10 {
        call()?;
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < time || samples.len() < 200 {
        let call_start = Instant::now();
        call()?;
        samples.push(call_start.elapsed());
    }
    samples.sort();
    let at = |quantile: f64| {
        let index = ((samples.len() - 1) as f64 * quantile).round() as usize;
        samples[index].as_secs_f64() * 1e6
    };
    Ok(Latency {
        p50_us: at(0.5),
        p99_us: at(0.99),
        iterations: samples.len(),
    })
}

/// Fresh-instance evaluations per second with one thread per core.
fn throughput(policy: &Policy, payload: &[u8], options: &BenchOptions) -> Result<(usize, f64)> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let start = Instant::now();
    let counts: Vec<Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0u64;
                    while start.elapsed() < options.throughput_time {
                        policy
                            .call("validate", payload)
                            .map_err(|error| anyhow!("{error}"))?;
                        count += 1;
                    }
                    Ok(count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| bail!("a thread panicked")))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut total = 0;
    for count in counts {
        total += count?;
    }
    Ok((threads, total as f64 / elapsed))
}

/// How far a figure is from its target: `ok` or `N× over`.
fn against(value: f64, target: f64) -> String {
    if value <= target {
        "ok".to_string()
    } else {
        format!("{:.1}x over", value / target)
    }
}

/// The readable report: one block per policy, then the targets.
pub fn table(reports: &[PolicyReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let _ = writeln!(
            out,
            "{}: module {} bytes ({:.0} KiB), compile {:.0} ms, fresh instance {:.1} µs, {} threads: {:.0} fresh evaluations/s",
            report.policy,
            report.module_bytes,
            report.module_bytes as f64 / 1024.0,
            report.compile_ms,
            report.instantiate_p50_us,
            report.throughput_threads,
            report.throughput_per_s,
        );
        let _ = writeln!(
            out,
            "  {:<12} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  case",
            "input", "verdict", "bytes", "fresh p50", "fresh p99", "warm p50", "native", "ratio"
        );
        for input in &report.inputs {
            let _ = writeln!(
                out,
                "  {:<12} {:>8} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>7}  {}",
                input.label,
                input.verdict,
                input.payload_bytes,
                input.fresh.p50_us,
                input.fresh.p99_us,
                input.warm.p50_us,
                input
                    .native_p50_us
                    .map_or("-".to_string(), |n| format!("{n:.1}")),
                input
                    .ratio_fresh_to_native
                    .map_or("-".to_string(), |r| format!("{r:.1}")),
                input.case,
            );
        }
        if let Some((small, large)) = report.marginal_us_per_item {
            let _ = writeln!(
                out,
                "  fresh µs per added item: {small:.2} at the smallest sizes, {large:.2} at the largest: {}",
                if report.linear == Some(true) {
                    "linear"
                } else {
                    "NOT linear"
                }
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Targets (times in µs, on each policy's first accepted fixture):"
    );
    let _ = writeln!(
        out,
        "  {:<22} {:>18} {:>18} {:>18} {:>10}",
        "policy", "module <= 400 KiB", "fresh p50 <= 60", "fresh/native <= 3", "linear"
    );
    for report in reports {
        let _ = writeln!(
            out,
            "  {:<22} {:>18} {:>18} {:>18} {:>10}",
            report.policy,
            format!(
                "{:.0} {}",
                report.module_bytes as f64 / 1024.0,
                against(report.module_bytes as f64, MODULE_BYTES_TARGET as f64)
            ),
            format!(
                "{:.1} {}",
                report.fresh_p50_us,
                against(report.fresh_p50_us, FRESH_P50_TARGET_US)
            ),
            report
                .ratio_fresh_to_native
                .map_or("no native run".to_string(), |ratio| format!(
                    "{ratio:.1} {}",
                    against(ratio, RATIO_TARGET)
                )),
            match report.linear {
                Some(true) => "ok",
                Some(false) => "NO",
                None => "-",
            },
        );
    }
    out
}
