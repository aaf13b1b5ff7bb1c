//! `kepguard playground`: serves the static playground site (`make playground` builds it into
//! build/playground/) on 127.0.0.1, or writes the samples it shows: every case of every suite,
//! with its expected outcome, and each policy's manifest template.

use super::suites_or_all;
use crate::admission;
use crate::release::manifest::{self, ManifestKind, ManifestOptions};
use crate::release::metadata::PolicyDir;
use crate::suite::{Case, Suite};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct PlaygroundArgs {
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 8417)]
    pub port: u16,
    /// The site to serve.
    #[arg(long, default_value = "build/playground")]
    pub dir: PathBuf,
    /// Only write the samples (JSON) of every suite to this file, for `make playground`.
    #[arg(long)]
    pub write_samples: Option<PathBuf>,
}

pub fn playground(args: PlaygroundArgs) -> Result<ExitCode> {
    if let Some(path) = args.write_samples {
        let samples = samples()?;
        std::fs::write(&path, serde_json::to_vec_pretty(&samples)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}: {} samples of {} policies",
            path.display(),
            samples.cases.len(),
            samples.policies.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !args.dir.join("index.html").is_file() {
        bail!(
            "{} holds no playground: build it with `make playground`",
            args.dir.display()
        );
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    println!("kepguard playground: http://{}/", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming().flatten() {
        let dir = args.dir.clone();
        std::thread::spawn(move || {
            // A client that goes away mid-answer is no concern of the server.
            let _ = serve(stream, &dir);
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// The policies and the suite cases the page offers.
#[derive(Serialize)]
pub struct Samples {
    pub policies: Vec<PolicySample>,
    pub cases: Vec<CaseSample>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySample {
    pub name: String,
    /// The module the page loads, relative to the site.
    pub module: String,
    /// `kepguard manifest <policy>` with [`SETTINGS_PLACEHOLDER`] as its settings.
    pub manifest_template: String,
}

/// The settings of a manifest template, which the page replaces with the current settings.
pub const SETTINGS_PLACEHOLDER: &str = "__KEPGUARD_SETTINGS__";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseSample {
    pub policy: String,
    pub name: String,
    /// Settings as YAML text.
    pub settings: String,
    /// The request file's text; empty for a settings-only case.
    pub request: String,
    pub expected: Expected,
}

/// What the suite expects, in the verdict labels of `kepguard test`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Expected {
    pub verdict: String,
    pub message: Option<String>,
    pub warnings: Option<Vec<String>>,
    pub patched_object: Option<Value>,
}

fn samples() -> Result<Samples> {
    let mut samples = Samples {
        policies: Vec::new(),
        cases: Vec::new(),
    };
    for path in suites_or_all(Vec::new())? {
        let suite = Suite::load(&path)?;
        let policy = PolicyDir::load(Path::new("."), &suite.name)?;
        let mut placeholder = serde_norway::Mapping::new();
        placeholder.insert(SETTINGS_PLACEHOLDER.into(), serde_norway::Value::Null);
        let manifest_template = manifest::render(
            &policy.metadata,
            ManifestOptions {
                kind: ManifestKind::ClusterAdmissionPolicy,
                module: format!("registry://{}", policy.image()?),
                settings: placeholder,
                mode: None,
            },
        )?;
        samples.policies.push(PolicySample {
            name: suite.name.clone(),
            module: format!("modules/{}.wasm", suite.name),
            manifest_template,
        });
        let defaults = suite.default_settings()?;
        for case in &suite.file.cases {
            samples.cases.push(
                case_sample(&suite, case, &defaults)
                    .with_context(|| format!("suite {}: case {:?}", path.display(), case.name))?,
            );
        }
    }
    Ok(samples)
}

fn case_sample(suite: &Suite, case: &Case, defaults: &Value) -> Result<CaseSample> {
    let settings = case.settings(suite, defaults)?;
    let request = match &case.request {
        Some(file) => {
            let path = suite.path(file);
            // Checked here so that a sample never holds a request `kepguard test` refuses.
            admission::load_request(&path)?;
            std::fs::read_to_string(&path)?
        }
        None => String::new(),
    };
    let patched_object = match &case.patched {
        Some(file) => Some(serde_json::from_str(&std::fs::read_to_string(
            suite.path(file),
        )?)?),
        None => None,
    };
    let verdict = match (case.settings_valid, case.allowed, &patched_object) {
        (Some(false), _, _) => "invalid settings",
        (_, _, Some(_)) => "mutated",
        (_, Some(false), _) => "rejected",
        _ => "allowed",
    };
    Ok(CaseSample {
        policy: suite.name.clone(),
        name: case.name.clone(),
        settings: serde_norway::to_string(&settings)?,
        request,
        expected: Expected {
            verdict: verdict.into(),
            message: case.message.clone(),
            warnings: case.warnings.clone(),
            patched_object,
        },
    })
}

/// Answers one HTTP GET with a file of the site.
fn serve(stream: TcpStream, dir: &Path) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers say nothing the answer depends on; read them to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = Path::new(path.trim_start_matches('/'));
    let safe = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    let mut file = dir.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    let found = match (safe, method) {
        (true, "GET" | "HEAD") => std::fs::read(&file).ok(),
        _ => None,
    };
    let (status, content_type, body) = match found {
        Some(body) => ("200 OK", content_type(&file), body),
        None => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    Ok(())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}
