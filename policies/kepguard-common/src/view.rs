//! Reading JSON into small view structs that hold only the fields a rule needs.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Deserialises `value` into `T`, naming the path of any mismatch under `path`.
pub fn read_view<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, String> {
    // Tracking the path costs on every field; only a failed read needs it, so it reads again.
    if let Ok(view) = T::deserialize(value) {
        return Ok(view);
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.path().to_string();
        let full = match (path.is_empty(), inner == ".") {
            (true, _) => inner,
            (false, true) => path.to_string(),
            (false, false) => format!("{path}.{inner}"),
        };
        format!("{full}: {}", error.inner())
    })
}
