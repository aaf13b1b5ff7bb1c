//! CONTRIBUTING.md's "Add a policy" checklist, followed in a scratch copy of the workspace: a
//! sibling policy's two folders copied under a new name. The copy must be named in full by the
//! checklist, build, pass its suite, and be found by every command without an edit elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TEMPLATE: &str = "fsgroup-change-policy";
const NEW: &str = "checklist-example";
/// What the workspace needs to build and test a policy; everything else stays behind.
const WORKSPACE: [&str; 8] = [
    "Cargo.toml",
    "Cargo.lock",
    "crates",
    "policies",
    "harness",
    "playground",
    "fixtures",
    "artifacthub",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

fn copy_tree(from: &Path, to: &Path, rename: &dyn Fn(&str) -> String) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "target" {
            continue;
        }
        let source = entry.path();
        let destination = to.join(&name);
        if source.is_dir() {
            copy_tree(&source, &destination, rename);
        } else {
            let bytes = std::fs::read(&source).unwrap();
            match String::from_utf8(bytes) {
                Ok(text) => std::fs::write(&destination, rename(&text)).unwrap(),
                Err(binary) => std::fs::write(&destination, binary.into_bytes()).unwrap(),
            }
        }
    }
}

/// Every file below `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let prefix = path.file_name().unwrap().to_string_lossy().into_owned();
            found.extend(files(&path).into_iter().map(|f| format!("{prefix}/{f}")));
        } else {
            found.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found
}

/// The paths the checklist names under "In `<folder>/`:": the first `code` of each item.
fn checklist(contributing: &str, folder: &str) -> Vec<String> {
    let heading = format!("In `{folder}/`:");
    let section = contributing
        .split(&heading)
        .nth(1)
        .unwrap_or_else(|| panic!("CONTRIBUTING.md has no {heading:?} list"));
    section
        .lines()
        .skip_while(|line| !line.starts_with("- [ ]"))
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("- [ ] `"))
        .map(|item| item.split('`').next().unwrap().to_string())
        .collect()
}

/// Whether the checklist item `item` names `file`: the same file, or the folder it is in.
fn names(item: &str, file: &str) -> bool {
    file == item || (item.ends_with('/') && file.starts_with(item))
}

fn run(scratch: &Path, program: &Path, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(scratch)
        // The repository's own target folder: its dependencies serve the copy, and the copy's
        // crates are the repository's, byte for byte, but for the new policy. Cargo releases
        // the folder's lock before it runs the tests.
        .env("CARGO_TARGET_DIR", target_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{stdout}\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn a_policy_added_by_the_checklist_builds_passes_and_is_found_everywhere() {
    let root = repo_root();
    let scratch =
        std::env::temp_dir().join(format!("kepguard-contributing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    for entry in WORKSPACE {
        let source = root.join(entry);
        if source.is_dir() {
            copy_tree(&source, &scratch.join(entry), &|text| text.to_string());
        } else {
            std::fs::copy(&source, scratch.join(entry)).unwrap();
        }
    }

    // The checklist, followed by copying a sibling under the new name.
    let rename = |text: &str| {
        text.replace(TEMPLATE, NEW)
            .replace(&TEMPLATE.replace('-', "_"), &NEW.replace('-', "_"))
    };
    let contributing = std::fs::read_to_string(root.join("CONTRIBUTING.md")).unwrap();
    for folder in ["policies", "fixtures"] {
        let template = root.join(folder).join(TEMPLATE);
        copy_tree(&template, &scratch.join(folder).join(NEW), &rename);
        let items = checklist(&contributing, &format!("{folder}/<name>"));
        let made = files(&template);
        for item in &items {
            assert!(
                made.iter().any(|file| names(item, file)),
                "CONTRIBUTING.md names {folder}/<name>/{item}, which {TEMPLATE} does not have"
            );
        }
        for file in &made {
            // The rule modules are "src/rules.rs and more modules as needed".
            let covered = items.iter().any(|item| names(item, file))
                || (file.starts_with("src/") && items.iter().any(|item| item == "src/rules.rs"));
            assert!(
                covered,
                "{folder}/{TEMPLATE}/{file} is not on CONTRIBUTING.md's checklist"
            );
        }
    }

    // The other policies' modules, as `make policies` left them, for the run of every suite.
    std::fs::create_dir_all(scratch.join("build")).unwrap();
    for entry in std::fs::read_dir(root.join("build")).expect("run `make policies` first") {
        let module = entry.unwrap().path();
        if module
            .extension()
            .is_some_and(|extension| extension == "wasm")
        {
            std::fs::copy(
                &module,
                scratch.join("build").join(module.file_name().unwrap()),
            )
            .unwrap();
        }
    }

    // Found by every command, with no registration anywhere else.
    let kepguard = Path::new(env!("CARGO_BIN_EXE_kepguard"));
    let built = run(&scratch, kepguard, &["build", NEW]);
    assert!(built.contains(&format!("build/{NEW}.wasm: ")), "{built}");
    let suite = run(
        &scratch,
        kepguard,
        &["test", &format!("fixtures/{NEW}/suite.yaml")],
    );
    assert!(suite.trim_end().ends_with(" passed, 0 failed"), "{suite}");
    assert!(suite.contains(&format!("PASS  {NEW}")), "{suite}");
    let all_suites = run(&scratch, kepguard, &["test"]);
    assert!(all_suites.contains(&format!("PASS  {NEW}")), "{all_suites}");
    run(&scratch, kepguard, &["artifacthub", NEW]);
    assert!(
        scratch
            .join(format!("artifacthub/{NEW}/artifacthub-pkg.yml"))
            .is_file()
    );
    run(&scratch, kepguard, &["artifacthub", "--check"]);
    let annotated = run(&scratch, kepguard, &["annotate", NEW]);
    assert!(
        annotated.contains(&format!("build/annotated/{NEW}.wasm")),
        "{annotated}"
    );
    let manifest = run(&scratch, kepguard, &["manifest", NEW]);
    assert!(manifest.contains(&format!("  name: {NEW}\n")), "{manifest}");
    run(
        &scratch,
        kepguard,
        &["bench", "--write-inputs", "build/bench-inputs"],
    );
    assert!(scratch.join("build/bench-inputs").join(NEW).is_dir());
    // Its host-side tests and native benchmark compile with no registration either.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(
        &scratch,
        Path::new(&cargo),
        &["build", "-p", NEW, "--all-targets"],
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}
