//! fsgroup-change-policy: stops slow recursive chowns of big volumes (KEP-695).

use kubewarden_policy_sdk::wapc_guest::CallResult;

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
