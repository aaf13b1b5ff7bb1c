//! pvc-retention: no accidental deletion of StatefulSet volumes (KEP-1847).

pub mod rules;
pub mod settings;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
