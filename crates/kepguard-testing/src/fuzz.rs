//! Property tests for a policy's waPC operations, on proptest.
//!
//! Inputs come from three strategies: structure-aware mutations of the policy's own fixtures
//! (every request file and every settings object of its suite: fields deleted, retyped between
//! number and string, object and array, or null, duplicated or made huge, unicode, deep nesting,
//! hostile quantities and numbers, subtrees spliced from other fixtures, pod-level and
//! init-container resources grafted onto pod specs, and byte damage such as truncation and
//! invalid UTF-8), arbitrary JSON documents, and arbitrary bytes.
//!
//! The property: the operation never panics, never returns a waPC error, and always answers
//! with a well-formed response whose refusals carry a message. An input that breaks it is saved
//! under `fixtures/<policy>/regressions/` and replayed by [`replay`] on every later run;
//! proptest also records the failing case's seed next to the test.
//!
//! `KEPGUARD_FUZZ_CASES` sets the number of cases per policy (default 20,000).

use kubewarden_policy_sdk::wapc_guest::CallResult;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError};
use serde_json::{Map, Value, json};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A waPC operation as a policy crate exports it.
pub type Operation = fn(&[u8]) -> CallResult;

/// What to fuzz.
pub struct Target {
    /// The policy's fixtures folder, `fixtures/<policy>`.
    pub fixtures: &'static str,
    pub validate: Operation,
    pub validate_settings: Operation,
}

/// Which operation an input is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Validate,
    Settings,
}

impl Kind {
    fn file_prefix(self) -> &'static str {
        match self {
            Kind::Validate => "validate",
            Kind::Settings => "validate_settings",
        }
    }
}

/// One generated input.
#[derive(Clone, PartialEq)]
pub struct Input {
    pub kind: Kind,
    pub payload: Vec<u8>,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.payload);
        let shown: String = text.chars().take(600).collect();
        write!(f, "{:?} ({} bytes): {shown}", self.kind, self.payload.len())
    }
}

/// The proptest configuration: `KEPGUARD_FUZZ_CASES` cases (default 20,000), failures
/// recorded in a file next to the test.
pub fn config() -> Config {
    Config {
        cases: std::env::var("KEPGUARD_FUZZ_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(20_000),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// The inputs: mostly structure-aware mutations of the fixtures under `fixtures`, the rest
/// arbitrary JSON documents and arbitrary bytes, for either operation.
pub fn inputs(fixtures: &str) -> BoxedStrategy<Input> {
    let corpus = Arc::new(Corpus::load(Path::new(fixtures)));
    let kind = prop_oneof![Just(Kind::Validate), Just(Kind::Settings)];
    prop_oneof![
        8 => any::<u64>().prop_map(move |seed| corpus.generate(&mut Rng::new(seed))),
        1 => (kind.clone(), arbitrary_json()).prop_map(|(kind, document)| {
            let document = match kind {
                Kind::Validate => json!({"settings": {}, "request": document}),
                Kind::Settings => document,
            };
            Input { kind, payload: serde_json::to_vec(&document).unwrap_or_default() }
        }),
        1 => (kind, proptest::collection::vec(any::<u8>(), 0..512))
            .prop_map(|(kind, payload)| Input { kind, payload }),
    ]
    .boxed()
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Checks the property for one input; a failing input is saved as a regression.
pub fn check_input(target: &Target, input: &Input) -> Result<(), TestCaseError> {
    check(target, input.kind, &input.payload).map_err(|problem| {
        let file = save(
            &Path::new(target.fixtures).join("regressions"),
            input.kind,
            &input.payload,
        );
        TestCaseError::fail(format!("{problem} (saved as {})", file.display()))
    })
}

/// Replays every saved regression of the target; panics naming those that fail.
pub fn replay(target: &Target) -> usize {
    let dir = Path::new(target.fixtures).join("regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut replayed = 0;
    let mut failures = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let kind = if name.starts_with("validate_settings-") {
            Kind::Settings
        } else if name.starts_with("validate-") {
            Kind::Validate
        } else {
            continue;
        };
        let payload = std::fs::read(&path).unwrap_or_default();
        if let Err(problem) = check(target, kind, &payload) {
            failures.push(format!("{}: {problem}", path.display()));
        }
        replayed += 1;
    }
    assert!(
        failures.is_empty(),
        "regressions fail again:\n{}",
        failures.join("\n")
    );
    replayed
}

fn save(dir: &Path, kind: Kind, payload: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let hash = payload.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{}-{hash:016x}.bin", kind.file_prefix()));
    let _ = std::fs::write(&path, payload);
    path
}

/// The property every answer must hold.
fn check(target: &Target, kind: Kind, payload: &[u8]) -> Result<(), String> {
    let operation = match kind {
        Kind::Validate => target.validate,
        Kind::Settings => target.validate_settings,
    };
    let answer = std::panic::catch_unwind(|| operation(payload)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("panicked: {message}")
    })?;
    let bytes = answer.map_err(|error| format!("returned a waPC error: {error}"))?;
    let response: Value = serde_json::from_slice(&bytes)
        .map_err(|error| format!("answered with malformed JSON: {error}"))?;
    let verdict_key = match kind {
        Kind::Validate => "accepted",
        Kind::Settings => "valid",
    };
    let verdict = response[verdict_key]
        .as_bool()
        .ok_or_else(|| format!("answer has no boolean {verdict_key:?}: {response}"))?;
    let message_ok = response["message"].as_str().is_some_and(|m| !m.is_empty());
    if !verdict && !message_ok {
        return Err(format!("a refusal without a message: {response}"));
    }
    if kind == Kind::Validate {
        let mutated = &response["mutated_object"];
        if !(mutated.is_null() || mutated.is_object()) {
            return Err(format!("mutated_object is not an object: {response}"));
        }
        let warnings = &response["warnings"];
        let warnings_ok = warnings.is_null()
            || warnings
                .as_array()
                .is_some_and(|w| w.iter().all(Value::is_string));
        if !warnings_ok {
            return Err(format!("warnings are not a list of strings: {response}"));
        }
    }
    Ok(())
}

/// The seeds: the policy's request fixtures and the settings its suite uses.
struct Corpus {
    requests: Vec<Value>,
    settings: Vec<Value>,
}

const QUANTITIES: [&str; 14] = [
    "1e400",
    "-1",
    "0.0000001m",
    "1e-400",
    "9Ei",
    "8Ei",
    "NaN",
    "+.5",
    "1.5Gi",
    "",
    "0",
    "1000m",
    "99999999999999999999999999999999999999999",
    "1Ki ",
];

const NUMBERS: [f64; 12] = [
    0.0,
    -1.0,
    1e308,
    -1e308,
    9.223_372_036_854_776e18,
    1.844_674_407_370_955_2e19,
    0.5,
    1e-300,
    65536.0,
    30085.0,
    2_147_483_648.0,
    -2_147_483_649.0,
];

const TEXTS: [&str; 8] = [
    "",
    "ℵ₀",
    "💥\u{0}\u{202e}",
    "\u{feff}Always",
    "ǅ",
    "Always",
    "kube-system",
    "system:serviceaccount:kube-system:vpa-updater",
];

impl Corpus {
    fn load(fixtures: &Path) -> Corpus {
        let mut requests = Vec::new();
        if let Ok(entries) = std::fs::read_dir(fixtures.join("requests")) {
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let Ok(document) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                requests.push(match document.get("request") {
                    Some(request) => request.clone(),
                    None => document,
                });
            }
        }
        assert!(
            !requests.is_empty(),
            "no request fixtures under {}",
            fixtures.display()
        );
        let mut settings = vec![json!({})];
        let suite = std::fs::read_to_string(fixtures.join("suite.yaml")).unwrap_or_default();
        if let Ok(suite) = serde_norway::from_str::<Value>(&suite) {
            settings.extend(suite.get("settings").cloned());
            for case in suite["cases"].as_array().into_iter().flatten() {
                settings.extend(case.get("settings").cloned());
            }
        }
        Corpus { requests, settings }
    }

    fn generate(&self, rng: &mut Rng) -> Input {
        let settings = self.settings[rng.below(self.settings.len())].clone();
        let (kind, mut document) = if rng.below(5) == 0 {
            (Kind::Settings, settings)
        } else {
            let request = self.requests[rng.below(self.requests.len())].clone();
            // Mostly valid settings, so the mutated request reaches the rules.
            let settings = if rng.below(4) == 0 {
                self.mutated(rng, settings)
            } else {
                settings
            };
            let request = self.mutated(rng, request);
            (
                Kind::Validate,
                json!({"settings": settings, "request": request}),
            )
        };
        if rng.below(10) == 0 {
            mutate(rng, &mut document, &self.requests);
        }
        let mut bytes = serde_json::to_vec(&document).unwrap_or_default();
        if rng.below(8) == 0 {
            damage(rng, &mut bytes);
        }
        Input {
            kind,
            payload: bytes,
        }
    }

    fn mutated(&self, rng: &mut Rng, mut value: Value) -> Value {
        for _ in 0..=rng.below(4) {
            mutate(rng, &mut value, &self.requests);
        }
        value
    }
}

/// Applies one mutation at a random node of `value`.
fn mutate(rng: &mut Rng, value: &mut Value, donors: &[Value]) {
    if rng.below(13) == 0 {
        graft_resources(rng, value);
        return;
    }
    let node = pick(rng, value);
    match rng.below(12) {
        0 => match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map
                    .keys()
                    .nth(rng.below(map.len()))
                    .cloned()
                    .unwrap_or_default();
                map.remove(&key);
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(rng.below(items.len()));
            }
            _ => *node = Value::Null,
        },
        1 => *node = Value::Null,
        2 => *node = retyped(node.take()),
        3 => match node {
            Value::Array(items) if !items.is_empty() => {
                let copy = items[rng.below(items.len())].clone();
                let copies = if rng.below(4) == 0 { 500 } else { 1 };
                items.extend(std::iter::repeat_n(copy, copies));
            }
            Value::Object(map) => {
                let copy = Value::Object(map.clone());
                map.insert("duplicate".into(), copy);
            }
            other => *other = json!([other.clone(), other.clone()]),
        },
        4 => {
            if let Value::String(text) = node {
                *text = text.repeat(20_000 / text.len().max(1));
            } else {
                *node = Value::String("x".repeat(100_000));
            }
        }
        5 => *node = Value::String(TEXTS[rng.below(TEXTS.len())].into()),
        6 => *node = Value::String(QUANTITIES[rng.below(QUANTITIES.len())].into()),
        7 => {
            let number = NUMBERS[rng.below(NUMBERS.len())];
            *node = serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number);
        }
        8 => {
            let depth = [20, 127, 129, 400][rng.below(4)];
            let mut nested = node.take();
            for _ in 0..depth {
                nested = json!([nested]);
            }
            *node = nested;
        }
        9 => {
            if let Value::Object(map) = node {
                let renamed: Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .map(|(key, value)| (swap_case(&key), value))
                    .collect();
                *map = renamed;
            }
        }
        10 => {
            let donor = &mut donors[rng.below(donors.len())].clone();
            *node = pick(rng, donor).take();
        }
        _ => {
            *node = match node {
                Value::Bool(flag) => Value::Bool(!*flag),
                Value::Number(_) => json!(-1),
                Value::String(_) => json!({}),
                _ => json!("Always"),
            }
        }
    }
}

/// Grafts hostile resources onto the first pod spec of `value`, where a resize may change
/// them since Kubernetes 1.36: the pod-level `resources`, or a new init container's (a sidecar
/// or not).
fn graft_resources(rng: &mut Rng, value: &mut Value) {
    let Some(spec) = find_pod_spec(value) else {
        return;
    };
    let quantity = |rng: &mut Rng| {
        if rng.below(3) == 0 {
            serde_json::Number::from_f64(NUMBERS[rng.below(NUMBERS.len())])
                .map_or(Value::Null, Value::Number)
        } else {
            Value::String(QUANTITIES[rng.below(QUANTITIES.len())].into())
        }
    };
    let resources = json!({
        "requests": {"cpu": quantity(rng), "memory": quantity(rng)},
        "limits": {"cpu": quantity(rng), "memory": quantity(rng)},
    });
    if rng.below(2) == 0 {
        spec["resources"] = resources;
        return;
    }
    let mut init = json!({"name": "grafted", "image": "grafted:1", "resources": resources});
    if let Some(policy) = [None, Some("Always"), Some("Never")][rng.below(3)] {
        init["restartPolicy"] = json!(policy);
    }
    match spec.get_mut("initContainers").and_then(Value::as_array_mut) {
        Some(list) => list.push(init),
        None => spec["initContainers"] = json!([init]),
    }
}

/// The first object with a `containers` key: the pod spec of a Pod or of a template.
fn find_pod_spec(value: &mut Value) -> Option<&mut Value> {
    if value.get("containers").is_some() {
        return Some(value);
    }
    match value {
        Value::Object(map) => map.values_mut().find_map(find_pod_spec),
        Value::Array(items) => items.iter_mut().find_map(find_pod_spec),
        _ => None,
    }
}

/// Walks down from the root, stopping at each level with some probability.
fn pick<'a>(rng: &mut Rng, value: &'a mut Value) -> &'a mut Value {
    let children = match value {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    if children == 0 || rng.below(5) == 0 {
        return value;
    }
    let index = rng.below(children);
    match value {
        Value::Object(map) => match map.values_mut().nth(index) {
            Some(child) => pick(rng, child),
            None => unreachable_child(),
        },
        Value::Array(items) => pick(rng, &mut items[index]),
        _ => unreachable_child(),
    }
}

fn unreachable_child() -> ! {
    unreachable!("the child index was drawn below the number of children")
}

fn retyped(value: Value) -> Value {
    match value {
        Value::Number(number) => Value::String(number.to_string()),
        Value::String(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(json!(42), Value::Number),
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Object(map) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
        Value::Array(items) => Value::Object(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        Value::Null => json!({}),
    }
}

fn swap_case(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "x".into(),
    }
}

/// Byte-level damage: truncation, a flipped byte, invalid UTF-8, or nothing at all.
fn damage(rng: &mut Rng, bytes: &mut Vec<u8>) {
    match rng.below(4) {
        0 => bytes.truncate(rng.below(bytes.len().max(1))),
        1 if !bytes.is_empty() => {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        2 => {
            let at = rng.below(bytes.len().max(1)).min(bytes.len());
            bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
        }
        _ => bytes.clear(),
    }
}

/// xorshift64*: small, fast and reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let next = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (next % bound.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden_policy_sdk::wapc_guest::CallResult;

    fn accepts(_: &[u8]) -> CallResult {
        Ok(br#"{"accepted":true,"message":null,"mutated_object":null,"warnings":null}"#.to_vec())
    }

    fn panics(payload: &[u8]) -> CallResult {
        assert!(payload.len() > 1_000_000, "a planted bug");
        accepts(payload)
    }

    fn silent_refusal(_: &[u8]) -> CallResult {
        Ok(br#"{"valid":false}"#.to_vec())
    }

    fn target(validate: Operation, validate_settings: Operation) -> Target {
        Target {
            fixtures: "/nonexistent",
            validate,
            validate_settings,
        }
    }

    #[test]
    fn the_property_catches_panics_errors_and_bad_answers() {
        let target = target(panics, silent_refusal);
        let problem = check(&target, Kind::Validate, b"{}").unwrap_err();
        assert!(problem.starts_with("panicked: a planted bug"), "{problem}");
        let problem = check(&target, Kind::Settings, b"{}").unwrap_err();
        assert!(
            problem.starts_with("a refusal without a message"),
            "{problem}"
        );
        let good = self::target(accepts, accepts);
        assert_eq!(check(&good, Kind::Validate, b"{}"), Ok(()));
    }

    fn valid_settings(_: &[u8]) -> CallResult {
        Ok(br#"{"valid":true}"#.to_vec())
    }

    fn panics_on_aleph(payload: &[u8]) -> CallResult {
        assert!(
            !String::from_utf8_lossy(payload).contains('ℵ'),
            "a planted bug"
        );
        accepts(payload)
    }

    #[test]
    fn the_property_test_finds_a_planted_bug() {
        let dir = std::env::temp_dir().join(format!("kepguard-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("requests")).unwrap();
        std::fs::write(
            dir.join("requests/pod.json"),
            r#"{"operation": "CREATE", "object": {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "app"}]}}}"#,
        )
        .unwrap();
        let fixtures: &'static str = Box::leak(dir.to_string_lossy().into_owned().into_boxed_str());
        let target = Target {
            fixtures,
            validate: panics_on_aleph,
            validate_settings: valid_settings,
        };
        let mut runner = proptest::test_runner::TestRunner::new(Config {
            cases: 5_000,
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&inputs(fixtures), |input| check_input(&target, &input));
        let error = outcome.unwrap_err().to_string();
        assert!(error.contains("panicked: a planted bug"), "{error}");
        let saved = std::fs::read_dir(dir.join("regressions")).unwrap().count();
        assert!(saved > 0, "the failing input was not saved");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mutations_change_documents_and_stay_serialisable() {
        let mut rng = Rng::new(7);
        let seed = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "1"}}}]}});
        let mut changed = 0;
        for _ in 0..500 {
            let mut value = seed.clone();
            mutate(&mut rng, &mut value, std::slice::from_ref(&seed));
            changed += usize::from(value != seed);
            assert!(serde_json::to_vec(&value).is_ok());
        }
        assert!(
            changed > 400,
            "only {changed} of 500 mutations changed the document"
        );
    }

    #[test]
    fn grafts_reach_pod_level_and_init_container_resources() {
        let mut rng = Rng::new(11);
        let seed =
            json!({"object": {"spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}}});
        let (mut pod_level, mut init) = (0, 0);
        for _ in 0..200 {
            let mut value = seed.clone();
            graft_resources(&mut rng, &mut value);
            let spec = &value["object"]["spec"]["template"]["spec"];
            pod_level += usize::from(spec["resources"]["limits"].is_object());
            init += usize::from(spec["initContainers"][0]["resources"]["requests"].is_object());
        }
        assert!(
            pod_level > 50 && init > 50,
            "{pod_level} pod-level, {init} init"
        );
        let mut no_spec = json!({"kind": "Service"});
        graft_resources(&mut rng, &mut no_spec);
        assert_eq!(no_spec, json!({"kind": "Service"}));
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let corpus = Corpus {
            requests: vec![json!({"operation": "CREATE", "object": {"spec": {"a": [1, "2"]}}})],
            settings: vec![json!({}), json!({"mode": "x"})],
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| corpus.generate(&mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
