//! nodeport-subrange: keeps pinned node ports in the static band of the node port range
//! (KEP-3668) and, optionally, pinned cluster IPs in the static band of the service CIDR
//! (KEP-3070), so that they never collide with automatic allocation.

pub mod clusterip;
pub mod portrange;
pub mod rules;
pub mod settings;

kepguard_common::policy_entry_points!(settings::Settings, rules::evaluate);
