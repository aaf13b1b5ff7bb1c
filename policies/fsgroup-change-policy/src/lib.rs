//! fsgroup-change-policy: stops slow recursive chowns of big volumes (KEP-695).

pub mod rules;
pub mod settings;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
