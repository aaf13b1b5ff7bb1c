//! security-annotations: the deprecated seccomp and AppArmor annotations become
//! `securityContext` fields (KEP-135, KEP-24).

pub mod annotations;
pub mod rules;
pub mod settings;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
