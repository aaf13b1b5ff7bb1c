//! topology-spread-keys: topology spread constraints that survive a rollout (KEP-3243).

pub mod rules;
pub mod settings;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
