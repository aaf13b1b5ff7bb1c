//! Manifests as users keep them: YAML or JSON files, folders of them, multi-document YAML,
//! `List` kinds and standard input. Every object keeps the file and line it came from, so
//! that each verdict and each error can point at it.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where an object was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// The first line of the document (1-based).
    pub line: usize,
    /// The object's index in a `List`'s items.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(item) = self.item {
            write!(f, " items[{item}]")?;
        }
        Ok(())
    }
}

/// One Kubernetes object, with `apiVersion` and `kind` checked to be strings.
#[derive(Clone, Debug)]
pub struct Document {
    pub origin: Origin,
    pub object: Value,
}

impl Document {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        let metadata = &self.object["metadata"];
        metadata["name"]
            .as_str()
            .or_else(|| metadata["generateName"].as_str())
            .unwrap_or_default()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
}

/// The name standard input goes by in messages.
pub const STDIN: &str = "<stdin>";

/// Every object of the files, folders (searched recursively for .yaml, .yml and .json) and
/// `-` (standard input) given, in order; `List`s are expanded into their items.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the manifests on standard input")?;
            documents.extend(parse(STDIN, &text)?);
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                documents.extend(load_file(&file)?);
            }
        } else {
            documents.extend(load_file(path)?);
        }
    }
    Ok(documents)
}

fn load_file(path: &Path) -> Result<Vec<Document>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&path.display().to_string(), &text)
}

/// The manifest files under a folder, sorted so that runs are reproducible.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot list {}", dir.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The objects of one file's text: YAML documents separated by `---` (JSON is YAML).
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    for (start, chunk) in split_documents(text) {
        let value: Value = serde_norway::from_str(&chunk).map_err(|error| {
            let line = error
                .location()
                .map_or(start, |location| start + location.line() - 1);
            let message = file_lines(&error.to_string(), start - 1);
            anyhow!("{file}:{line}: not valid YAML or JSON: {message}")
        })?;
        if value.is_null() {
            continue;
        }
        let line = first_content_line(&chunk).map_or(start, |offset| start + offset);
        let origin = Origin {
            file: file.to_string(),
            line,
            item: None,
        };
        documents.extend(expand(origin, value)?);
    }
    Ok(documents)
}

/// The documents of a YAML stream, each with the line its text starts on (1-based).
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let is_marker = |marker: &str| {
            line.strip_prefix(marker)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if is_marker("---") || is_marker("...") {
            documents.push((start, std::mem::take(&mut current)));
            start = index + 2;
            // `--- {a: 1}`: content on the marker's line belongs to the new document.
            if let Some(rest) = line.strip_prefix("---").filter(|r| !r.trim().is_empty()) {
                start = index + 1;
                current.push_str(rest);
                current.push('\n');
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.push((start, current));
    documents
}

/// The parser's message with each `line N` (counted from the document's start) made a line
/// of the file.
fn file_lines(message: &str, offset: usize) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (before, after) = rest.split_at(at + "line ".len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match after[..digits].parse::<usize>() {
            Ok(line) => out.push_str(&(line + offset).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// How many lines into the chunk its first line that is not blank or a comment is.
fn first_content_line(chunk: &str) -> Option<usize> {
    chunk.lines().position(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    })
}

/// The object itself, or a `List`'s items.
fn expand(origin: Origin, value: Value) -> Result<Vec<Document>> {
    let kind = check_object(&origin, &value)?;
    if kind.ends_with("List")
        && let Some(items) = value.get("items")
    {
        let Value::Array(items) = items else {
            bail!("{origin}: the items of a {kind} must be a list");
        };
        return items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let origin = Origin {
                    item: Some(index),
                    ..origin.clone()
                };
                check_object(&origin, item)?;
                Ok(Document {
                    origin,
                    object: item.clone(),
                })
            })
            .collect();
    }
    Ok(vec![Document {
        origin,
        object: value,
    }])
}

/// The object's kind, after checking that it has a kind and an apiVersion.
fn check_object<'a>(origin: &Origin, value: &'a Value) -> Result<&'a str> {
    if !value.is_object() {
        bail!(
            "{origin}: the document is not a Kubernetes object (a mapping with apiVersion and kind)"
        );
    }
    let kind = match value.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => kind,
        Some(_) => bail!("{origin}: kind must be a non-empty string"),
        None => bail!("{origin}: the document has no kind"),
    };
    match value.get("apiVersion") {
        Some(Value::String(version)) if !version.is_empty() => Ok(kind),
        Some(_) => bail!("{origin}: apiVersion must be a non-empty string"),
        None => bail!("{origin}: the {kind} has no apiVersion"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(documents: &[Document]) -> Vec<String> {
        documents.iter().map(|d| d.origin.to_string()).collect()
    }

    #[test]
    fn multi_document_yaml_keeps_each_document_s_line() {
        let text = "# leading comment\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n\n# note\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n---\n---\napiVersion: apps/v1\nkind: Deployment\n";
        let documents = parse("m.yaml", text).unwrap();
        assert_eq!(origins(&documents), ["m.yaml:2", "m.yaml:8", "m.yaml:13"]);
        assert_eq!(documents[1].kind(), "Service");
        assert_eq!(documents[1].name(), "b");
    }

    #[test]
    fn lists_become_their_items() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n";
        let documents = parse("l.yaml", text).unwrap();
        assert_eq!(
            origins(&documents),
            ["l.yaml:1 items[0]", "l.yaml:1 items[1]"]
        );
        assert_eq!(documents[1].kind(), "ConfigMap");
    }

    #[test]
    fn json_is_accepted() {
        let documents = parse("p.json", r#"{"apiVersion": "v1", "kind": "Pod"}"#).unwrap();
        assert_eq!(documents[0].kind(), "Pod");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod: Service\n";
        let error = parse("bad.yaml", text).unwrap_err().to_string();
        assert_eq!(
            error,
            "bad.yaml:5: not valid YAML or JSON: mapping values are not allowed in this context at line 5 column 10"
        );

        let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nmetadata: {}\n";
        let error = parse("nokind.yaml", text).unwrap_err().to_string();
        assert_eq!(error, "nokind.yaml:4: the document has no kind");

        let text = "kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1}\n";
        let error = parse("list.yaml", text).unwrap_err().to_string();
        assert_eq!(error, "list.yaml:1 items[0]: the document has no kind");
    }
}
