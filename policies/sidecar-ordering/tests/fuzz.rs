//! Mutated fixtures and settings never make the policy panic or answer malformed JSON.

use kepguard_testing::fuzz::{Target, run};

#[test]
fn fuzzed_requests_and_settings_get_well_formed_answers() {
    let report = run(&Target {
        fixtures: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/sidecar-ordering"
        )
        .into(),
        validate: sidecar_ordering::validate,
        validate_settings: sidecar_ordering::validate_settings,
    });
    println!("sidecar-ordering fuzz: {report:?}");
    assert!(report.inputs > 0);
}
