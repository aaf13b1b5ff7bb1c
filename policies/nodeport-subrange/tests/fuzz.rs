//! Mutated fixtures and settings never make the policy panic or answer malformed JSON.

use kepguard_testing::fuzz::{Target, run};

#[test]
fn fuzzed_requests_and_settings_get_well_formed_answers() {
    let report = run(&Target {
        fixtures: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/nodeport-subrange"
        )
        .into(),
        validate: nodeport_subrange::validate,
        validate_settings: nodeport_subrange::validate_settings,
    });
    println!("nodeport-subrange fuzz: {report:?}");
    assert!(report.inputs > 0);
}
