//! Mutated fixtures and settings never make the policy panic or answer malformed JSON.

use kepguard_testing::fuzz::{Target, run};

#[test]
fn fuzzed_requests_and_settings_get_well_formed_answers() {
    let report = run(&Target {
        fixtures: concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/resize-limits").into(),
        validate: resize_limits::validate,
        validate_settings: resize_limits::validate_settings,
    });
    println!("resize-limits fuzz: {report:?}");
    assert!(report.inputs > 0);
}
