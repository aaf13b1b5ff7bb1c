//! A waPC host on wasmtime that evaluates Kubewarden policy modules the way policy-server
//! does: each module is compiled once, and every call runs on a fresh instance created from
//! a pre-instantiated module, under an epoch deadline and a memory limit.
//!
//! - [`engine`]: the engine and its configuration;
//! - [`imports`]: the waPC imports, one function each;
//! - [`instance`]: a compiled policy and its instances;
//! - [`error`]: why a call failed.

mod engine;
pub mod error;
pub mod imports;
pub mod instance;

pub use error::CallError;
pub use instance::{Policy, WarmInstance, precompiled_key};

use std::time::Duration;

/// Limits applied to every evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Like policy-server's `--policy-timeout`.
    pub timeout: Duration,
    /// The most linear memory one instance may grow to.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(2),
            memory_bytes: 512 << 20,
        }
    }
}
