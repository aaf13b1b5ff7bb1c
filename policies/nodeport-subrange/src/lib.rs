//! nodeport-subrange: keeps pinned node ports in the static band of the node port range
//! (KEP-3668) and, optionally, pinned cluster IPs in the static band of the service CIDR
//! (KEP-3070), so that they never collide with automatic allocation.

use kubewarden_policy_sdk::wapc_guest::CallResult;

pub mod clusterip;
pub mod portrange;
pub mod rules;
pub mod settings;

use settings::Settings;

#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    use kubewarden_policy_sdk::wapc_guest::register_function;
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// The waPC `validate` operation.
pub fn validate(payload: &[u8]) -> CallResult {
    kepguard_common::evaluation::validate::<Settings>(payload, rules::evaluate)
}

/// The waPC `validate_settings` operation.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    kepguard_common::evaluation::validate_settings::<Settings>(payload)
}
