//! Helpers for a policy's unit tests: compiled settings from JSON and tables of valid and
//! refused settings, objects and requests for every workload kind, and a rejection's message.

use kepguard_common::{AdmissionRequest, PolicySettings, Verdict, WorkloadKind};
use serde_json::{Value, json};

/// Deserialises `settings` and compiles them, as `validate_settings` does; a deserialisation
/// error is reported as serde words it, without the path.
pub fn compile<S: PolicySettings>(settings: Value) -> Result<S::Compiled, String> {
    serde_json::from_value::<S>(settings)
        .map_err(|error| error.to_string())?
        .compile()
}

/// The compiled settings, for tests that need valid ones.
///
/// # Panics
/// When `settings` are invalid, with the reason.
pub fn compiled<S: PolicySettings>(settings: Value) -> S::Compiled {
    let shown = settings.to_string();
    compile::<S>(settings).unwrap_or_else(|error| panic!("invalid settings {shown}: {error}"))
}

/// Checks that every named settings value compiles.
pub fn assert_valid_settings<'a, S: PolicySettings>(
    cases: impl IntoIterator<Item = (&'a str, Value)>,
) {
    for (name, settings) in cases {
        assert_eq!(compile::<S>(settings).err(), None, "{name}");
    }
}

/// Checks that every named settings value is refused with exactly the expected message.
pub fn assert_refused_settings<'a, S: PolicySettings>(
    cases: impl IntoIterator<Item = (&'a str, Value, &'a str)>,
) {
    for (name, settings, expected) in cases {
        assert_eq!(
            compile::<S>(settings).err().as_deref(),
            Some(expected),
            "{name}"
        );
    }
}

/// `base` with the members of `extra` added, or replacing its own.
///
/// # Panics
/// When `base` or `extra` is not a JSON object.
pub fn merge(mut base: Value, extra: Value) -> Value {
    let (Some(members), Value::Object(extra)) = (base.as_object_mut(), extra) else {
        panic!("merge takes two JSON objects");
    };
    members.extend(extra);
    base
}

/// An object of `kind` whose pod spec is `pod_spec`, with nothing else but its kind.
pub fn object(kind: WorkloadKind, pod_spec: Value) -> Value {
    let mut object = pod_spec;
    for key in kind.pod_spec_keys().iter().rev() {
        object = json!({ *key: object });
    }
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.kind());
    object
}

/// An admission request for `object` of `kind` (and `old_object`, on an UPDATE), from the
/// namespace `default`: [`crate::matrix::request`], read as the policies read it.
pub fn request(
    kind: WorkloadKind,
    operation: &str,
    sub_resource: Option<&str>,
    object: Value,
    old_object: Option<Value>,
) -> AdmissionRequest {
    let request = crate::matrix::request(kind, operation, sub_resource, object, old_object);
    serde_json::from_value(request).expect("the matrix builds a valid admission request")
}

/// The message of a rejection.
///
/// # Panics
/// When the verdict is not a rejection.
pub fn rejection(verdict: Verdict) -> String {
    match verdict {
        Verdict::Reject { message } => message,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct LimitSettings {
        limit: u32,
    }

    impl PolicySettings for LimitSettings {
        type Compiled = u32;

        fn exempt_namespaces(&self) -> &[String] {
            &[]
        }

        fn compile(self) -> Result<u32, String> {
            match self.limit {
                0..=10 => Ok(self.limit),
                _ => Err(format!("limit: {} is above 10", self.limit)),
            }
        }
    }

    #[test]
    fn settings_tables() {
        assert_eq!(compiled::<LimitSettings>(json!({"limit": 3})), 3);
        assert_valid_settings::<LimitSettings>([
            ("empty", json!({})),
            ("ten", json!({"limit": 10})),
        ]);
        assert_refused_settings::<LimitSettings>([(
            "eleven",
            json!({"limit": 11}),
            "limit: 11 is above 10",
        )]);
        let error = compile::<LimitSettings>(json!({"limits": 1})).unwrap_err();
        assert!(error.starts_with("unknown field `limits`"), "{error}");
    }

    #[test]
    #[should_panic(expected = "eleven")]
    fn a_settings_table_fails_on_another_message() {
        assert_refused_settings::<LimitSettings>([("eleven", json!({"limit": 11}), "limit: 11")]);
    }

    #[test]
    #[should_panic(expected = "invalid settings")]
    fn compiled_settings_must_be_valid() {
        compiled::<LimitSettings>(json!({"limit": 11}));
    }

    #[test]
    fn objects_carry_the_pod_spec_where_the_shared_crate_looks() {
        for kind in WorkloadKind::ALL {
            let object = object(kind, json!({"containers": []}));
            assert_eq!(
                object.pointer(kind.pod_spec_pointer()),
                Some(&json!({"containers": []})),
                "{kind:?}"
            );
            assert_eq!(object["kind"], kind.kind(), "{kind:?}");
            let request = request(kind, "CREATE", None, object, None);
            assert_eq!(WorkloadKind::of_request(&request), Some(kind), "{kind:?}");
        }
    }

    #[test]
    fn merging_adds_and_replaces_members() {
        assert_eq!(
            merge(json!({"a": 1, "b": 2}), json!({"b": 3, "c": 4})),
            json!({"a": 1, "b": 3, "c": 4})
        );
    }

    #[test]
    fn a_rejection_gives_its_message() {
        assert_eq!(rejection(Verdict::reject("no")), "no");
    }
}
