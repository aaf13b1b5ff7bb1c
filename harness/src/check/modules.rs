//! Policy modules by URI (`registry://`, `https://`, `file://`), through an on-disk cache:
//!
//! - `modules/sha256/<digest>.wasm`: modules pulled from registries, by manifest digest (a tag
//!   is resolved to its digest first, so an unchanged tag pulls nothing);
//! - `compiled/<engine key>/<module sha256>.cwasm`: compiled modules, by the module's digest
//!   and the engine's [`precompiled_key`], so that a second run compiles nothing.

use crate::host::{Limits, Policy, precompiled_key};
use crate::release::oci::{self, Sources};
use crate::release::signing;
use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the cache did during a run, for the summary line.
#[derive(Debug, Default, Clone)]
pub struct CacheStats {
    pub pulled: usize,
    pub downloaded: usize,
    pub from_module_cache: usize,
    pub compiled: usize,
    pub from_compile_cache: usize,
    /// Spent compiling modules or loading compiled ones.
    pub compile_time: Duration,
}

/// A module ready to evaluate, and where it came from.
pub struct Module {
    pub policy: Policy,
    /// `registry/repo@sha256:...` for registry modules, the content digest otherwise.
    pub resolved: String,
}

pub struct ModuleCache {
    dir: PathBuf,
    sources: Sources,
    limits: Limits,
    verbose: bool,
    /// With `--verify-key`: the PEM public key every module must be signed with.
    verify_key: Option<Vec<u8>>,
    loaded: HashMap<String, Rc<Module>>,
    pub stats: CacheStats,
}

/// `$XDG_CACHE_HOME/kepguard`, or `~/.cache/kepguard`.
pub fn default_cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir).join("kepguard"));
    }
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .ok_or_else(|| anyhow!("neither XDG_CACHE_HOME nor HOME is set: give --cache-dir"))?;
    Ok(PathBuf::from(home).join(".cache").join("kepguard"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Writes through a temporary file, so that a concurrent run never reads half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

impl ModuleCache {
    pub fn new(
        dir: PathBuf,
        sources: Sources,
        limits: Limits,
        verbose: bool,
        verify_key: Option<Vec<u8>>,
    ) -> Self {
        ModuleCache {
            dir,
            sources,
            limits,
            verbose,
            verify_key,
            loaded: HashMap::new(),
            stats: CacheStats::default(),
        }
    }

    /// The module of `uri`, fetched and compiled once per run.
    pub fn get(&mut self, uri: &str) -> Result<Rc<Module>> {
        if let Some(module) = self.loaded.get(uri) {
            return Ok(module.clone());
        }
        let (bytes, resolved) = self.fetch(uri)?;
        let started = Instant::now();
        let policy = self.compile(uri, &bytes);
        self.stats.compile_time += started.elapsed();
        let policy = policy?;
        let module = Rc::new(Module { policy, resolved });
        self.loaded.insert(uri.to_string(), module.clone());
        Ok(module)
    }

    fn fetch(&mut self, uri: &str) -> Result<(Vec<u8>, String)> {
        if self.verify_key.is_some() && !uri.starts_with("registry://") {
            bail!(
                "module {uri}: --verify-key checks cosign signatures, which only registry:// \
                 modules carry"
            );
        }
        if let Some(path) = uri.strip_prefix("file://") {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read the module {path}"))?;
            let digest = format!("sha256:{}", sha256_hex(&bytes));
            return Ok((bytes, digest));
        }
        if uri.starts_with("https://") {
            let bytes = download(uri)?;
            self.stats.downloaded += 1;
            let digest = format!("sha256:{}", sha256_hex(&bytes));
            return Ok((bytes, digest));
        }
        if uri.starts_with("registry://") {
            let resolved = oci::resolve(uri, &self.sources)?;
            // Checked on every run, before the cache is read, as policy-server checks at start.
            if let Some(key) = &self.verify_key {
                signing::verify(&resolved, key)
                    .with_context(|| format!("module {uri} fails verification"))?;
            }
            let (_, digest) = resolved
                .rsplit_once('@')
                .expect("a resolved reference has a digest");
            let path = self
                .dir
                .join("modules")
                .join(digest.replace(':', "/"))
                .with_extension("wasm");
            if let Ok(bytes) = std::fs::read(&path) {
                self.stats.from_module_cache += 1;
                return Ok((bytes, resolved));
            }
            let pulled = oci::pull_from(&resolved, &self.sources)?;
            self.stats.pulled += 1;
            write_atomically(&path, &pulled.module)?;
            return Ok((pulled.module, resolved));
        }
        bail!("module {uri} must be a registry://, https:// or file:// URI")
    }

    fn compile(&mut self, uri: &str, bytes: &[u8]) -> Result<Policy> {
        let path = self
            .dir
            .join("compiled")
            .join(precompiled_key())
            .join(sha256_hex(bytes))
            .with_extension("cwasm");
        if let Ok(precompiled) = std::fs::read(&path) {
            // A file an older or damaged run left is compiled again below.
            if let Ok(policy) =
                Policy::from_precompiled(uri, &precompiled, self.limits, self.verbose)
            {
                self.stats.from_compile_cache += 1;
                return Ok(policy);
            }
        }
        let precompiled = Policy::precompile(uri, bytes)?;
        self.stats.compiled += 1;
        write_atomically(&path, &precompiled)?;
        Policy::from_precompiled(uri, &precompiled, self.limits, self.verbose)
    }
}

fn download(url: &str) -> Result<Vec<u8>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let response = reqwest::get(url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("cannot download {url}"))?;
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("cannot download {url}"))?;
        Ok(bytes.to_vec())
    })
}
