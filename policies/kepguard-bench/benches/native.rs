//! Every policy's `validate` called natively on the payloads that `kepguard bench` measures
//! in wasm. Inputs: `$KEPGUARD_BENCH_INPUTS` (default `build/bench-inputs`), one folder per
//! policy, one `<label>.json` payload per input. Criterion writes its medians to
//! `target/criterion/native-<policy>/<label>/new/estimates.json`, where `kepguard bench
//! --native target/criterion` reads them.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn inputs_dir() -> PathBuf {
    match std::env::var_os("KEPGUARD_BENCH_INPUTS") {
        Some(dir) => PathBuf::from(dir),
        // Benchmarks run in the package's folder.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../build/bench-inputs"),
    }
}

fn sorted_entries(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| {
            panic!(
                "cannot read {}: run `kepguard bench --write-inputs` first ({error})",
                dir.display()
            )
        })
        .map(|entry| entry.expect("a readable folder entry").path())
        .collect();
    entries.sort();
    entries
}

fn native(c: &mut Criterion) {
    for policy_dir in sorted_entries(&inputs_dir()) {
        let policy = policy_dir
            .file_name()
            .expect("a folder name")
            .to_string_lossy()
            .into_owned();
        let Some(validate) = kepguard_bench::validate_of(&policy) else {
            panic!("no native validate for policy {policy}");
        };
        let mut group = c.benchmark_group(format!("native-{policy}"));
        for input in sorted_entries(&policy_dir) {
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
}

criterion_group! {
    name = benches;
    // Short runs: `make bench` must finish in a few minutes; the medians are stable to a few %.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .sample_size(30);
    targets = native
}
criterion_main!(benches);
