//! sidecar-ordering: known sidecars run as native sidecars, started in the right order (KEP-753).

pub mod matcher;
pub mod mutate;
pub mod rules;
pub mod settings;
pub mod view;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
