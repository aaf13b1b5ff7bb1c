//! Test support shared by every kepguard policy (a dev-dependency only):
//!
//! - [`fuzz`]: a structure-aware mutation fuzzer that feeds a policy's `validate` and
//!   `validate_settings` mutated fixtures, and checks that it never panics and always answers
//!   with a well-formed response;
//! - [`matrix`]: wraps one pod spec in a Pod and every workload template, so a test can check
//!   that a rule fires identically for each of them.

pub mod fuzz;
pub mod matrix;
