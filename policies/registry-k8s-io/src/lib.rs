//! registry-k8s-io: images from the frozen `k8s.gcr.io` move to `registry.k8s.io` (KEP-3720).

pub mod rules;
pub mod settings;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
