//! Test support shared by every kepguard policy (a dev-dependency only):
//!
//! - [`fuzz`]: a structure-aware mutation fuzzer that feeds a policy's `validate` and
//!   `validate_settings` mutated fixtures, and checks that it never panics and always answers
//!   with a well-formed response;
//! - [`matrix`]: wraps one pod spec in a Pod and every workload template, so a test can check
//!   that a rule fires identically for each of them;
//! - [`unit`]: helpers for unit tests: compiled settings from JSON, objects and requests for
//!   every workload kind, and a rejection's message.

pub mod fuzz;
pub mod matrix;
pub mod unit;

pub use proptest;

/// Declares a policy's fuzz tests: a replay of its saved regressions and the property test.
///
/// ```ignore
/// kepguard_testing::fuzz_tests!(resize_limits, "resize-limits");
/// ```
#[macro_export]
macro_rules! fuzz_tests {
    ($policy:ident, $fixtures:literal) => {
        const TARGET: $crate::fuzz::Target = $crate::fuzz::Target {
            fixtures: concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/", $fixtures),
            validate: $policy::validate,
            validate_settings: $policy::validate_settings,
        };

        #[test]
        fn saved_regressions_get_well_formed_answers() {
            $crate::fuzz::replay(&TARGET);
        }

        $crate::proptest::proptest! {
            #![proptest_config($crate::fuzz::config())]
            #[test]
            fn fuzzed_requests_and_settings_get_well_formed_answers(
                input in $crate::fuzz::inputs(TARGET.fixtures)
            ) {
                $crate::fuzz::check_input(&TARGET, &input)?;
            }
        }
    };
}
