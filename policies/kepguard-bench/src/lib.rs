//! The native baseline of `make bench`: each policy's `validate`, compiled for the host and
//! called in-process on the payloads `kepguard bench --write-inputs` wrote, so that the wasm
//! figures have a floor to be compared with. The benchmark is `benches/native.rs`.

use kubewarden_policy_sdk::wapc_guest::CallResult;

/// A policy's waPC `validate` operation.
pub type Validate = fn(&[u8]) -> CallResult;

/// The `validate` of the policy named like its crate.
pub fn validate_of(policy: &str) -> Option<Validate> {
    Some(match policy {
        "fsgroup-change-policy" => fsgroup_change_policy::validate,
        "nodeport-subrange" => nodeport_subrange::validate,
        "resize-limits" => resize_limits::validate,
        "sidecar-ordering" => sidecar_ordering::validate,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_has_its_validate() {
        for metadata in std::fs::read_dir("..").unwrap() {
            let dir = metadata.unwrap().path();
            if dir.join("metadata.yml").is_file() {
                let name = dir.file_name().unwrap().to_string_lossy().into_owned();
                let validate = validate_of(&name).unwrap_or_else(|| panic!("{name} is missing"));
                let response = validate(b"{").unwrap();
                assert!(
                    String::from_utf8(response)
                        .unwrap()
                        .contains("\"accepted\":false"),
                    "{name}"
                );
            }
        }
        assert!(validate_of("no-such-policy").is_none());
    }
}
