//! The native baseline of `make bench`: a policy's `validate`, compiled for the host and called
//! in-process on the payloads `kepguard bench --write-inputs` wrote, so that the wasm figures
//! have a floor to be compared with.
//!
//! Each policy declares its benchmark in `benches/native.rs` with [`native_benchmark!`], so a
//! new policy needs no registration anywhere else. Inputs: `$KEPGUARD_BENCH_INPUTS` (default
//! `build/bench-inputs`), one folder per policy, one `<label>.json` payload per input.
//! Criterion writes its medians to `target/criterion/native-<policy>/<label>/new/estimates.json`,
//! where `kepguard bench --native target/criterion` reads them.

use criterion::Criterion;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use criterion;

/// A policy's waPC `validate` operation.
pub type Validate = fn(&[u8]) -> CallResult;

/// Declares `benches/native.rs` of a policy crate: `kepguard_bench::native_benchmark!(resize_limits, "resize-limits");`
#[macro_export]
macro_rules! native_benchmark {
    ($policy:ident, $name:literal) => {
        fn native(c: &mut $crate::criterion::Criterion) {
            $crate::measure(c, $name, $policy::validate);
        }
        $crate::criterion::criterion_group! {
            name = benches;
            config = $crate::config();
            targets = native
        }
        $crate::criterion::criterion_main!(benches);
    };
}

/// Short runs: `make bench` must finish in a few minutes; the medians are stable to a few %.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .sample_size(30)
}

/// Benchmarks `validate` on every input written for `policy`. A policy with no inputs (not
/// among the suites measured) is skipped.
pub fn measure(c: &mut Criterion, policy: &str, validate: Validate) {
    let dir = inputs_dir().join(policy);
    if !dir.is_dir() {
        return;
    }
    let mut group = c.benchmark_group(format!("native-{policy}"));
    for input in sorted_entries(&dir) {
        let label = input
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let payload = std::fs::read(&input).expect("a readable payload");
        group.bench_function(&label, |b| {
            b.iter(|| validate(black_box(&payload)).expect("validate answers"))
        });
    }
    group.finish();
}

fn inputs_dir() -> PathBuf {
    match std::env::var_os("KEPGUARD_BENCH_INPUTS") {
        Some(dir) => PathBuf::from(dir),
        // Benchmarks run in the package's folder, policies/<policy>.
        None => Path::new("../../build/bench-inputs").to_path_buf(),
    }
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .collect();
    entries.sort();
    entries
}
