//! Property tests: mutated fixtures, arbitrary JSON and arbitrary bytes, as requests and as
//! settings, never make the policy panic or answer malformed JSON.

use kepguard_testing::fuzz::{self, Target};
use proptest::prelude::*;

const TARGET: Target = Target {
    fixtures: concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/resize-limits"),
    validate: resize_limits::validate,
    validate_settings: resize_limits::validate_settings,
};

#[test]
fn saved_regressions_get_well_formed_answers() {
    fuzz::replay(&TARGET);
}

proptest! {
    #![proptest_config(fuzz::config())]
    #[test]
    fn fuzzed_requests_and_settings_get_well_formed_answers(input in fuzz::inputs(TARGET.fixtures)) {
        fuzz::check_input(&TARGET, &input)?;
    }
}
