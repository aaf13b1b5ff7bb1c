//! Mutated fixtures and settings never make the policy panic or answer malformed JSON.

use kepguard_testing::fuzz::{Target, run};

#[test]
fn fuzzed_requests_and_settings_get_well_formed_answers() {
    let report = run(&Target {
        fixtures: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/fsgroup-change-policy"
        )
        .into(),
        validate: fsgroup_change_policy::validate,
        validate_settings: fsgroup_change_policy::validate_settings,
    });
    println!("fsgroup-change-policy fuzz: {report:?}");
    assert!(report.inputs > 0);
}
