//! resize-limits: bounds what an in-place Pod resize may do (KEP-1287), and what a Pod or
//! workload may ask for at creation, so that a resize cannot bypass resource policies.

pub mod access;
pub mod bounds;
pub mod containers;
pub mod resize_policy;
pub mod rules;
pub mod settings;
pub mod steps;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
