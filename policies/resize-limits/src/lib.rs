//! resize-limits: bounds what an in-place Pod resize may do (KEP-1287, and on Kubernetes
//! 1.36+ pod-level resources, KEP-5419, and init containers; on 1.37+ memory-backed emptyDir
//! volumes, KEP-6030), and what a Pod or workload may ask for at creation, so that a resize
//! cannot bypass resource policies.

pub mod access;
pub mod bounds;
pub mod containers;
pub mod empty_dir;
pub mod resize_policy;
pub mod rules;
pub mod settings;
pub mod steps;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
