//! Property tests: mutated fixtures, arbitrary JSON and arbitrary bytes, as requests and as
//! settings, never make the policy panic or answer malformed JSON.

kepguard_testing::fuzz_tests!(security_annotations, "security-annotations");
