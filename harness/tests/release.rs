//! The release tooling: metadata checks, annotation, manifests, Artifact Hub files and the OCI
//! layout. The registry round trip itself is scripts/registry-test.sh (`make registry-test`).

// Only answering_guest is used here; the other guests serve the other test files.
#[allow(dead_code)]
mod guests;

use kepguard::release::annotate::annotate;
use kepguard::release::artifacthub;
use kepguard::release::manifest::{self, ManifestKind, ManifestOptions};
use kepguard::release::metadata::{CUSTOM_SECTION, Metadata, PolicyDir, USAGE, VERSION};
use kepguard::release::oci;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kepguard-release-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A waPC guest that answers every call with `answer`.
fn guest_answering(answer: &str) -> Vec<u8> {
    guests::answering_guest(answer, answer)
}

/// The raw JSON of the metadata section, and how many such sections the module has.
fn metadata_sections(module: &[u8]) -> Vec<Value> {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(|payload| match payload.expect("valid module") {
            wasmparser::Payload::CustomSection(reader) if reader.name() == CUSTOM_SECTION => {
                Some(serde_json::from_slice(reader.data()).expect("JSON metadata"))
            }
            _ => None,
        })
        .collect()
}

fn policy(name: &str) -> PolicyDir {
    PolicyDir::load(&repo_root(), name).expect("the policy loads")
}

#[test]
fn every_policy_has_complete_metadata_that_agrees_with_its_crate() {
    let policies = PolicyDir::all(&repo_root()).expect("every metadata.yml is consistent");
    assert!(policies.len() >= 4, "{} policies", policies.len());
    for policy in policies {
        assert_eq!(policy.metadata.annotation(VERSION).unwrap(), policy.version);
    }
}

#[test]
fn a_metadata_version_other_than_the_crate_version_is_refused() {
    let root = scratch("version-mismatch");
    let dir = root.join("policies/fsgroup-change-policy");
    std::fs::create_dir_all(&dir).unwrap();
    let source = repo_root().join("policies/fsgroup-change-policy");
    let metadata = std::fs::read_to_string(source.join("metadata.yml")).unwrap();
    let cargo = std::fs::read_to_string(source.join("Cargo.toml")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), &cargo).unwrap();
    std::fs::write(
        dir.join("metadata.yml"),
        metadata.replace(
            "io.kubewarden.policy.version: 0.1.0",
            "io.kubewarden.policy.version: 0.2.0",
        ),
    )
    .unwrap();
    let error = format!(
        "{:#}",
        PolicyDir::load(&root, "fsgroup-change-policy").unwrap_err()
    );
    assert!(
        error.contains("io.kubewarden.policy.version is 0.2.0")
            && error.contains("has version 0.1.0"),
        "{error}"
    );
    // The annotate step refuses it too.
    let output = Command::new(env!("CARGO_BIN_EXE_kepguard"))
        .args(["annotate", "fsgroup-change-policy"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("0.2.0"));
}

#[test]
fn host_capabilities_must_be_declared_and_empty() {
    let root = scratch("host-capabilities");
    let dir = root.join("policies/fsgroup-change-policy");
    std::fs::create_dir_all(&dir).unwrap();
    let source = repo_root().join("policies/fsgroup-change-policy");
    let metadata = std::fs::read_to_string(source.join("metadata.yml")).unwrap();
    std::fs::copy(source.join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
    assert!(metadata.contains("hostCapabilities: []\n"));
    for (replacement, expected) in [
        ("", "missing field `hostCapabilities`"),
        (
            "hostCapabilities: [\"oci/v1/verify\"]\n",
            "declare hostCapabilities: []",
        ),
    ] {
        std::fs::write(
            dir.join("metadata.yml"),
            metadata.replace("hostCapabilities: []\n", replacement),
        )
        .unwrap();
        let error = format!(
            "{:#}",
            PolicyDir::load(&root, "fsgroup-change-policy").unwrap_err()
        );
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn annotate_embeds_camel_case_metadata_with_protocol_and_usage() {
    let policy = policy("nodeport-subrange");
    let module = guest_answering(r#""v1""#);
    let annotated = annotate("guest.wasm", &module, &policy.metadata, "# Usage\n\ntext\n").unwrap();

    let sections = metadata_sections(&annotated);
    assert_eq!(sections.len(), 1);
    let json = &sections[0];
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "annotations",
            "backgroundAudit",
            "contextAwareResources",
            "executionMode",
            "hostCapabilities",
            "mutating",
            "policyType",
            "protocolVersion",
            "rules"
        ]
    );
    assert_eq!(json["protocolVersion"], "v1");
    assert_eq!(json["executionMode"], "kubewarden-wapc");
    assert_eq!(json["policyType"], "kubernetes");
    assert_eq!(json["mutating"], true);
    assert_eq!(json["backgroundAudit"], false);
    assert_eq!(json["contextAwareResources"], serde_json::json!([]));
    assert_eq!(json["hostCapabilities"], serde_json::json!([]));
    assert_eq!(json["rules"][0]["apiGroups"], serde_json::json!([""]));
    assert_eq!(
        json["rules"][0]["resources"],
        serde_json::json!(["services"])
    );
    assert_eq!(json["annotations"][USAGE], "# Usage\n\ntext\n");
    assert_eq!(json["annotations"][VERSION], "0.1.0");

    // The annotated module still runs, and annotating again replaces the section.
    let reannotated = annotate("guest.wasm", &annotated, &policy.metadata, "new").unwrap();
    let sections = metadata_sections(&reannotated);
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0]["annotations"][USAGE], "new");
    let read = Metadata::from_module(&reannotated).unwrap().unwrap();
    assert_eq!(read.rules, policy.metadata.rules);
}

#[test]
fn annotate_refuses_a_module_of_another_protocol() {
    let policy = policy("resize-limits");
    let error = annotate("v2.wasm", &guest_answering(r#""v2""#), &policy.metadata, "")
        .unwrap_err()
        .to_string();
    assert!(error.contains("speaks protocol v2"), "{error}");
    let error = annotate("bad.wasm", b"\0asm\x01\0\0\0garbage", &policy.metadata, "")
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad.wasm"), "{error}");
}

#[test]
fn the_built_fsgroup_module_is_annotated_by_the_command() {
    let module = repo_root().join("build/fsgroup-change-policy.wasm");
    assert!(
        module.is_file(),
        "{} is missing: run `make policies` first",
        module.display()
    );
    let out = scratch("annotate-command");
    let output = Command::new(env!("CARGO_BIN_EXE_kepguard"))
        .args(["annotate", "fsgroup-change-policy", "--output-dir"])
        .arg(&out)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let annotated = std::fs::read(out.join("fsgroup-change-policy.wasm")).unwrap();
    let metadata = Metadata::from_module(&annotated)
        .unwrap()
        .expect("annotated");
    assert_eq!(metadata.protocol_version.as_deref(), Some("v1"));
    let readme =
        std::fs::read_to_string(repo_root().join("policies/fsgroup-change-policy/README.md"))
            .unwrap();
    assert_eq!(metadata.annotation(USAGE).unwrap(), readme);
    // Only the custom section was added: the code is untouched.
    let original = std::fs::read(&module).unwrap();
    assert!(annotated.starts_with(&original));
}

/// Every ClusterAdmissionPolicy example of the policies' READMEs, the one place they live.
fn examples() -> Vec<(String, String)> {
    let root = repo_root();
    let mut texts = Vec::new();
    for policy in PolicyDir::all(&root).unwrap() {
        texts.push((
            format!("policies/{}/README.md", policy.name),
            policy.readme().unwrap(),
        ));
    }
    texts
        .into_iter()
        .flat_map(|(file, text)| {
            readme_manifests(&text)
                .into_iter()
                .map(move |block| (file.clone(), block))
        })
        .collect()
}

fn readme_manifests(readme: &str) -> Vec<String> {
    readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split("\n```").next())
        .filter(|block| block.contains("kind: ClusterAdmissionPolicy"))
        .map(|block| format!("{block}\n"))
        .collect()
}

#[test]
fn every_policy_readme_deploys_it_and_each_example_is_generated() {
    let examples = examples();
    for policy in PolicyDir::all(&repo_root()).unwrap() {
        let file = format!("policies/{}/README.md", policy.name);
        let name_line = format!("  name: {}\n", policy.name);
        assert!(
            examples
                .iter()
                .any(|(from, block)| *from == file && block.contains(&name_line)),
            "{file} has no ClusterAdmissionPolicy for {}",
            policy.name
        );
    }
    for (file, example) in examples {
        let parsed: serde_norway::Value = serde_norway::from_str(&example).unwrap();
        let name = parsed["metadata"]["name"].as_str().unwrap();
        let policy = policy(name);
        let settings = parsed["spec"]["settings"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        let generated = manifest::render(
            &policy.metadata,
            ManifestOptions {
                kind: ManifestKind::ClusterAdmissionPolicy,
                module: format!("registry://{}", policy.image().unwrap()),
                settings: settings.clone(),
                mode: None,
            },
        )
        .unwrap();
        assert_eq!(
            example, generated,
            "{file}: the {name} example differs from `kepguard manifest {name} --settings <its settings>`"
        );
        // The example's settings are accepted by the built module.
        let module = repo_root().join(format!("build/{name}.wasm"));
        let loaded = kepguard::host::Policy::load(&module, Default::default(), false)
            .expect("run `make policies` first");
        let verdict = kepguard::admission::validate_settings(
            &loaded,
            &serde_json::to_value(&settings).unwrap(),
        )
        .unwrap();
        assert!(
            verdict.valid,
            "{file}: the {name} example's settings are refused: {:?}",
            verdict.message
        );
    }
}

#[test]
fn manifests_state_only_what_differs_from_the_defaults() {
    let nodeport = policy("nodeport-subrange");
    let yaml = manifest::render(
        &nodeport.metadata,
        ManifestOptions {
            kind: ManifestKind::AdmissionPolicy,
            module: "registry://localhost:5000/np:v1".into(),
            settings: serde_norway::from_str("unreservedPorts: allow").unwrap(),
            mode: Some("monitor".into()),
        },
    )
    .unwrap();
    let value: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(value["apiVersion"], "policies.kubewarden.io/v1");
    assert_eq!(value["kind"], "AdmissionPolicy");
    assert_eq!(value["metadata"]["name"], "nodeport-subrange");
    assert_eq!(
        value["metadata"]["annotations"]["io.kubewarden.policy.category"],
        "Networking"
    );
    assert_eq!(value["spec"]["module"], "registry://localhost:5000/np:v1");
    assert_eq!(value["spec"]["backgroundAudit"], false);
    assert_eq!(value["spec"]["mode"], "monitor");
    assert_eq!(value["spec"]["mutating"], true);
    assert_eq!(value["spec"]["settings"]["unreservedPorts"], "allow");

    let resize = policy("resize-limits");
    let yaml = manifest::render(
        &resize.metadata,
        ManifestOptions {
            kind: ManifestKind::ClusterAdmissionPolicy,
            module: "registry://x/y:v1".into(),
            settings: Default::default(),
            mode: Some("protect".into()),
        },
    )
    .unwrap();
    assert!(!yaml.contains("backgroundAudit"), "{yaml}");
    assert!(!yaml.contains("mode:"), "{yaml}");
    assert!(yaml.contains("  settings: {}\n"), "{yaml}");
    assert!(yaml.contains("- pods/resize\n"), "{yaml}");

    let error = manifest::render(
        &resize.metadata,
        ManifestOptions {
            kind: ManifestKind::ClusterAdmissionPolicy,
            module: "ghcr.io/x/y:v1".into(),
            settings: Default::default(),
            mode: None,
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("registry://"), "{error}");
}

#[test]
fn the_committed_artifacthub_files_are_fresh_and_complete() {
    let root = repo_root();
    for policy in PolicyDir::all(&root).unwrap() {
        assert_eq!(
            artifacthub::staleness(&root, &policy).unwrap(),
            None,
            "run `make artifacthub`"
        );
        let text = std::fs::read_to_string(artifacthub::package_path(&root, &policy.name)).unwrap();
        let package: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(package["version"], policy.version.as_str());
        assert_eq!(package["name"], policy.name.as_str());
        assert_eq!(
            package["containersImages"][0]["image"],
            policy.image().unwrap().as_str()
        );
        assert_eq!(package["readme"], policy.readme().unwrap().as_str());
        let annotations = &package["annotations"];
        assert_eq!(
            annotations["kubewarden/mutation"],
            policy.metadata.mutating.to_string().as_str()
        );
        let rules: Vec<kepguard::release::metadata::Rule> =
            serde_norway::from_str(annotations["kubewarden/rules"].as_str().unwrap()).unwrap();
        assert_eq!(rules, policy.metadata.rules);
        assert!(annotations["kubewarden/resources"].as_str().is_some());
        for key in [
            "displayName",
            "createdAt",
            "description",
            "license",
            "homeURL",
            "keywords",
            "links",
            "install",
        ] {
            assert!(!package[key].is_null(), "{}: {key} is missing", policy.name);
        }
    }
}

#[test]
fn a_stale_artifacthub_file_is_detected() {
    let root = scratch("stale");
    let policy = policy("fsgroup-change-policy");
    let committed = artifacthub::package_path(&repo_root(), &policy.name);
    let copy = artifacthub::package_path(&root, &policy.name);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let text = std::fs::read_to_string(committed).unwrap();
    std::fs::write(&copy, text.replace("license: Apache-2.0", "license: MIT")).unwrap();
    let reason = artifacthub::staleness(&root, &policy)
        .unwrap()
        .expect("stale");
    assert!(reason.contains("stale"), "{reason}");
    // Another version is stale too: its createdAt must be renewed.
    std::fs::write(&copy, text.replace("version: 0.1.0", "version: 0.0.9")).unwrap();
    assert!(artifacthub::staleness(&root, &policy).unwrap().is_some());
    // Regenerating keeps createdAt while the version is unchanged.
    std::fs::write(&copy, text.replace("license: Apache-2.0", "license: MIT")).unwrap();
    assert!(artifacthub::write(&root, &policy).unwrap());
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), text);
}

#[test]
fn oci_annotations_are_the_single_line_metadata_plus_the_image_source() {
    let policy = policy("fsgroup-change-policy");
    let annotated = annotate(
        "guest.wasm",
        &guest_answering(r#""v1""#),
        &policy.metadata,
        "# README\n\nmany lines\n",
    )
    .unwrap();
    let metadata = Metadata::from_module(&annotated).unwrap().unwrap();
    let annotations = oci::manifest_annotations(&metadata);
    assert!(!annotations.contains_key(USAGE));
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://github.com/kepguard/kepguard"
    );
    assert_eq!(annotations[VERSION], "0.1.0");
    assert_eq!(annotations.len(), policy.metadata.annotations.len() + 1);
}

#[test]
fn an_unannotated_module_is_never_pushed() {
    // Refused before any connection: nothing listens on this address.
    let error = oci::push(&guest_answering(r#""v1""#), "127.0.0.1:9/x/y:v1")
        .unwrap_err()
        .to_string();
    assert!(error.contains("not annotated"), "{error}");
}

#[test]
fn the_verification_config_requires_the_key_and_the_release_workflow() {
    let dir = scratch("verification-config");
    let (_, public) = kepguard::release::signing::generate_key_pair("").unwrap();
    let key = dir.join("cosign.pub");
    std::fs::write(&key, &public).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kepguard"))
        .args(["manifest", "--verification-config"])
        .arg(&key)
        .args(["--github-owner", "kepguard", "--github-repo", "kepguard"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config: serde_norway::Value = serde_norway::from_slice(&output.stdout).unwrap();
    let expected: serde_norway::Value = serde_norway::from_str(&format!(
        "apiVersion: v1\nallOf:\n- kind: pubKey\n  key: {public:?}\n\
         - kind: githubAction\n  owner: kepguard\n  repo: kepguard\n"
    ))
    .unwrap();
    assert_eq!(config, expected);

    // A private key, or no key at all, is refused.
    std::fs::write(dir.join("cosign.key"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
    for args in [
        vec![
            "manifest".to_string(),
            "--verification-config".to_string(),
            dir.join("cosign.key").display().to_string(),
        ],
        vec!["manifest".to_string()],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_kepguard"))
            .args(&args)
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(output.stdout.is_empty(), "{args:?} printed something");
    }
}

/// The Rancher question types the Kubewarden UI renders.
const QUESTION_TYPES: [&str; 8] = [
    "string",
    "boolean",
    "int",
    "enum",
    "array[",
    "map[",
    "sequence[",
    "multiline",
];

/// What a policy's questions produce, for the module to judge.
struct QuestionSettings {
    /// Every question at its default, nested along the dotted variables. A `null` default
    /// means "unset", so it adds nothing.
    defaults: Value,
    /// Per list-of-objects (`sequence[`) question, the defaults where that list holds one item
    /// made of its `sequence_questions` defaults, so that the item keys are checked too.
    with_items: Vec<Value>,
    /// Per question whose default is `null`, the defaults with that variable set to `null`:
    /// the module may refuse the value, but must know the key.
    with_unset: Vec<Value>,
}

fn settings_from_questions(questions: &str) -> Result<QuestionSettings, String> {
    let document: serde_norway::Value =
        serde_norway::from_str(questions).map_err(|error| error.to_string())?;
    let list = document["questions"]
        .as_sequence()
        .ok_or("no `questions:` list")?;
    let mut defaults = Value::Object(Default::default());
    let (mut sequences, mut unset) = (Vec::new(), Vec::new());
    add_questions(list, &mut defaults, &mut sequences, &mut unset)?;
    let with_value = |variable: &str, value: Value| {
        let mut variant = defaults.clone();
        insert_at(&mut variant, variable, value).map(|()| variant)
    };
    let mut with_items = Vec::new();
    let mut with_unset = unset
        .iter()
        .map(|variable| with_value(variable, Value::Null))
        .collect::<Result<Vec<_>, String>>()?;
    for (variable, item, item_unset) in sequences {
        with_items.push(with_value(&variable, Value::Array(vec![item.clone()]))?);
        for key in item_unset {
            let mut unset_item = item.clone();
            insert_at(&mut unset_item, &key, Value::Null)?;
            with_unset.push(with_value(&variable, Value::Array(vec![unset_item]))?);
        }
    }
    Ok(QuestionSettings {
        defaults,
        with_items,
        with_unset,
    })
}

/// A list-of-objects question: its variable, an item of its defaults, and the item's
/// variables whose default is `null`.
type Sequence = (String, Value, Vec<String>);

fn add_questions(
    questions: &[serde_norway::Value],
    settings: &mut Value,
    sequences: &mut Vec<Sequence>,
    unset: &mut Vec<String>,
) -> Result<(), String> {
    for question in questions {
        let variable = question["variable"]
            .as_str()
            .ok_or("a question without a variable")?;
        let kind = question["type"].as_str().unwrap_or_default();
        if !QUESTION_TYPES.contains(&kind) {
            return Err(format!("{variable}: unknown type {kind:?}"));
        }
        if question["label"].as_str().is_none() {
            return Err(format!("{variable}: no label"));
        }
        let Some(default) = question.get("default") else {
            return Err(format!("{variable}: no default"));
        };
        if kind == "enum" {
            let options = question["options"]
                .as_sequence()
                .ok_or(format!("{variable}: an enum without options"))?;
            if !default.is_null() && !options.contains(default) {
                return Err(format!("{variable}: the default is not an option"));
            }
        }
        if default.is_null() {
            unset.push(variable.to_string());
        } else {
            let value = serde_json::to_value(default).map_err(|error| error.to_string())?;
            insert_at(settings, variable, value)?;
        }
        if let Some(item_questions) = question["sequence_questions"].as_sequence() {
            let (mut item, mut item_unset) = (Value::Object(Default::default()), Vec::new());
            add_questions(item_questions, &mut item, &mut Vec::new(), &mut item_unset)?;
            sequences.push((variable.to_string(), item, item_unset));
        }
        if let Some(subquestions) = question["subquestions"].as_sequence() {
            add_questions(subquestions, settings, sequences, unset)?;
        }
    }
    Ok(())
}

/// Sets `value` at the dotted `path`, creating the objects on the way.
fn insert_at(settings: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let (parents, key) = path.rsplit_once('.').map_or(("", path), |split| split);
    let mut object = settings;
    for parent in parents.split('.').filter(|parent| !parent.is_empty()) {
        object = object
            .as_object_mut()
            .ok_or(format!("{path}: {parent} is not an object"))?
            .entry(parent)
            .or_insert_with(|| Value::Object(Default::default()));
    }
    object
        .as_object_mut()
        .ok_or(format!("{path}: the parent is not an object"))?
        .insert(key.to_string(), value);
    Ok(())
}

/// Whether the built module accepts `settings`, and its message if not.
fn accepted_by_module(policy: &str, settings: &Value) -> Result<(), String> {
    let module = repo_root().join(format!("build/{policy}.wasm"));
    let loaded = kepguard::host::Policy::load(&module, Default::default(), false)
        .expect("run `make policies` first");
    let verdict = kepguard::admission::validate_settings(&loaded, settings).unwrap();
    if verdict.valid {
        Ok(())
    } else {
        Err(verdict.message.unwrap_or_default())
    }
}

/// Every settings object the questions of `policy` produce is accepted by its module, and a
/// variable left unset by default is a key the module knows (serde's `deny_unknown_fields`
/// answers "unknown field" for any other).
fn check_questions(policy: &str, questions: &str) -> Result<(), String> {
    let built = settings_from_questions(questions)?;
    for settings in std::iter::once(&built.defaults).chain(&built.with_items) {
        accepted_by_module(policy, settings).map_err(|message| format!("{settings}: {message}"))?;
    }
    for settings in &built.with_unset {
        if let Err(message) = accepted_by_module(policy, settings)
            && message.contains("unknown field")
        {
            return Err(format!("{settings}: {message}"));
        }
    }
    Ok(())
}

#[test]
fn every_policy_has_rancher_questions_whose_variables_and_defaults_it_accepts() {
    let root = repo_root();
    for policy in PolicyDir::all(&root).unwrap() {
        let path = artifacthub::questions_path(&policy);
        let questions = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        if let Err(error) = check_questions(&policy.name, &questions) {
            panic!("{}: {error}", path.display());
        }
        let package =
            std::fs::read_to_string(artifacthub::package_path(&root, &policy.name)).unwrap();
        let package: serde_norway::Value = serde_norway::from_str(&package).unwrap();
        assert_eq!(
            package["annotations"][artifacthub::QUESTIONS_UI].as_str(),
            Some(questions.as_str()),
            "{}: run `make artifacthub`",
            policy.name
        );
    }
}

#[test]
fn a_misspelt_question_variable_is_refused() {
    let fsgroup = std::fs::read_to_string(
        repo_root().join("policies/fsgroup-change-policy/questions-ui.yml"),
    )
    .unwrap();
    check_questions("fsgroup-change-policy", &fsgroup).unwrap();
    let misspelt = fsgroup.replace("variable: volumeTypes", "variable: volumeType");
    assert_ne!(misspelt, fsgroup);
    let error = check_questions("fsgroup-change-policy", &misspelt).unwrap_err();
    assert!(error.contains("volumeType"), "{error}");

    // The keys of a list item are checked as well.
    let registry =
        std::fs::read_to_string(repo_root().join("policies/registry-k8s-io/questions-ui.yml"))
            .unwrap();
    check_questions("registry-k8s-io", &registry).unwrap();
    let misspelt = registry.replace("variable: to\n", "variable: target\n");
    assert_ne!(misspelt, registry);
    assert!(check_questions("registry-k8s-io", &misspelt).is_err());

    // A variable left unset by default is checked as a key.
    let resize =
        std::fs::read_to_string(repo_root().join("policies/resize-limits/questions-ui.yml"))
            .unwrap();
    check_questions("resize-limits", &resize).unwrap();
    let misspelt = resize.replace("variable: cpu.maxLimit\n", "variable: cpu.maxLimits\n");
    assert_ne!(misspelt, resize);
    let error = check_questions("resize-limits", &misspelt).unwrap_err();
    assert!(error.contains("maxLimits"), "{error}");

    // And a default that is not one of an enum's options.
    let wrong_default = fsgroup.replace("default: OnRootMismatch", "default: Never");
    let error = check_questions("fsgroup-change-policy", &wrong_default).unwrap_err();
    assert!(error.contains("defaultPolicy"), "{error}");
}
