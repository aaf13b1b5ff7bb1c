//! A compiled policy module, and the instances that run its calls.

use super::engine::{EPOCH_TICK, engine};
use super::error::{CallError, classify};
use super::{Limits, imports};
use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;
use wasmtime::{InstancePre, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The waPC exchange of one call, plus what the host needs to run it.
pub(crate) struct HostState {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) limits: StoreLimits,
    pub(crate) verbose: bool,
    pub(crate) operation: Vec<u8>,
    pub(crate) payload: Vec<u8>,
    pub(crate) guest_response: Option<Vec<u8>>,
    pub(crate) guest_error: Option<Vec<u8>>,
    pub(crate) host_response: Vec<u8>,
    pub(crate) host_error: Vec<u8>,
}

/// The exports a host runs after instantiation, in this order, when the module has them:
/// the WASI reactor's constructors, a command's entry point, and waPC's registrations.
const INITIALISERS: [&str; 3] = ["_initialize", "_start", "wapc_init"];

/// A compiled policy module, ready to be instantiated for each call.
pub struct Policy {
    name: String,
    pre: InstancePre<HostState>,
    /// The [`INITIALISERS`] this module exports.
    initialisers: Vec<&'static str>,
    pub(crate) limits: Limits,
    pub(crate) verbose: bool,
}

impl Policy {
    /// Loads and compiles a module from a file.
    pub fn load(path: &Path, limits: Limits, verbose: bool) -> Result<Policy> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read module {}", path.display()))?;
        Policy::from_bytes(&path.display().to_string(), &bytes, limits, verbose)
    }

    /// Compiles a module and links it against the waPC host and WASI preview1.
    pub fn from_bytes(name: &str, bytes: &[u8], limits: Limits, verbose: bool) -> Result<Policy> {
        let module = Module::from_binary(engine(), bytes)
            .map_err(|error| anyhow!("module {name} is not a valid WebAssembly module: {error}"))?;
        Policy::from_module(name, module, limits, verbose)
    }

    /// Compiles a module into the bytes [`Policy::from_precompiled`] loads without compiling.
    pub fn precompile(name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
        engine()
            .precompile_module(bytes)
            .map_err(|error| anyhow!("module {name} is not a valid WebAssembly module: {error}"))
    }

    /// A policy from the output of [`Policy::precompile`] by an engine of the same
    /// [`precompiled_key`].
    pub fn from_precompiled(
        name: &str,
        precompiled: &[u8],
        limits: Limits,
        verbose: bool,
    ) -> Result<Policy> {
        // SAFETY: wasmtime checks that the bytes are a compiled module of a compatible engine,
        // but trusts the machine code inside; callers only pass what `precompile` wrote to the
        // user's own cache.
        let module = unsafe { Module::deserialize(engine(), precompiled) }
            .map_err(|error| anyhow!("the compiled module {name} cannot be loaded: {error}"))?;
        Policy::from_module(name, module, limits, verbose)
    }

    fn from_module(name: &str, module: Module, limits: Limits, verbose: bool) -> Result<Policy> {
        if module.get_export("__guest_call").is_none() {
            bail!("module {name} is not a waPC policy: it does not export __guest_call");
        }
        let mut linker: Linker<HostState> = Linker::new(engine());
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state| &mut state.wasi)
            .and_then(|()| imports::add_to_linker(&mut linker))
            .map_err(|error| anyhow!("cannot set up the host functions: {error}"))?;
        let initialisers = INITIALISERS
            .into_iter()
            .filter(|export| module.get_export(export).is_some())
            .collect();
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|error| anyhow!("module {name} cannot be linked: {error}"))?;
        Ok(Policy {
            name: name.to_string(),
            pre,
            initialisers,
            limits,
            verbose,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one waPC operation on a fresh instance.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CallError> {
        let mut instance = self.instantiate()?;
        instance.call(operation, payload)
    }

    /// Creates an instance and runs its initialisers; it may then serve several calls
    /// (the `kwctl bench` model).
    pub fn instantiate(&self) -> Result<WarmInstance, CallError> {
        let state = HostState {
            wasi: WasiCtxBuilder::new().build_p1(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            verbose: self.verbose,
            operation: Vec::new(),
            payload: Vec::new(),
            guest_response: None,
            guest_error: None,
            host_response: Vec::new(),
            host_error: Vec::new(),
        };
        let mut store = Store::new(engine(), state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let limits = self.limits;
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|error| classify(error, limits))?;
        for initialiser in &self.initialisers {
            let init = instance
                .get_typed_func::<(), ()>(&mut store, initialiser)
                .map_err(|error| {
                    CallError::Trap(format!("{initialiser} has the wrong type: {error}"))
                })?;
            init.call(&mut store, ())
                .map_err(|error| classify(error, limits))?;
        }
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|error| {
                CallError::Trap(format!("__guest_call has the wrong type: {error}"))
            })?;
        Ok(WarmInstance {
            store,
            guest_call,
            limits,
            deadline_ticks: self.deadline_ticks(),
        })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
    }
}

/// What a compiled module depends on (the wasmtime version, the engine's configuration and
/// the host's CPU features): a compiled module is only loaded by an engine of the same key.
pub fn precompiled_key() -> String {
    use sha2::{Digest, Sha256};
    use std::hash::{Hash, Hasher};
    struct Sha256Hasher(Sha256);
    impl Hasher for Sha256Hasher {
        fn finish(&self) -> u64 {
            let digest = self.0.clone().finalize();
            u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha256Hasher(Sha256::new());
    engine().precompile_compatibility_hash().hash(&mut hasher);
    format!("{:x}", hasher.0.finalize())[..16].to_string()
}

/// An instantiated module that can serve calls one after another.
pub struct WarmInstance {
    store: Store<HostState>,
    guest_call: TypedFunc<(i32, i32), i32>,
    pub(crate) limits: Limits,
    deadline_ticks: u64,
}

impl WarmInstance {
    pub fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, CallError> {
        let (Ok(operation_len), Ok(payload_len)) =
            (i32::try_from(operation.len()), i32::try_from(payload.len()))
        else {
            return Err(CallError::Trap("the payload is larger than 2 GiB".into()));
        };
        let state = self.store.data_mut();
        state.operation = operation.as_bytes().to_vec();
        state.payload = payload.to_vec();
        state.guest_response = None;
        state.guest_error = None;
        self.store.set_epoch_deadline(self.deadline_ticks);
        let outcome = self
            .guest_call
            .call(&mut self.store, (operation_len, payload_len))
            .map_err(|error| classify(error, self.limits))?;
        let state = self.store.data_mut();
        state.payload = Vec::new();
        match outcome {
            1 => state.guest_response.take().ok_or_else(|| {
                CallError::Trap("the guest reported success but sent no response".into())
            }),
            _ => Err(CallError::Guest(
                state
                    .guest_error
                    .take()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_else(|| "the guest reported failure without a message".into()),
            )),
        }
    }
}
