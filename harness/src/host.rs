//! A waPC host on wasmtime that evaluates Kubewarden policy modules the way policy-server
//! does: each module is compiled once, and every call runs on a fresh instance created from
//! a pre-instantiated module, under an epoch deadline and a memory limit.

use anyhow::{Context, Result, anyhow, bail};
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use wasmtime::{
    Caller, Config, Engine, Extern, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder, Trap, TypedFunc,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// How often the engine's epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How many instances may be alive at once, across every module of the process.
const INSTANCE_SLOTS: u32 = 256;
/// Memory a slot keeps mapped between instances: resetting it is cheaper than faulting the
/// stack and the heap of every evaluation back in (about 25% of a small evaluation).
const KEEP_RESIDENT: usize = 2 << 20;

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

/// Why a call into a module failed.
#[derive(Debug)]
pub enum CallError {
    /// The module answered the call with a waPC error (`__guest_error`).
    Guest(String),
    /// The evaluation ran past its deadline and was stopped.
    Timeout(Duration),
    /// The module tried to grow its memory past the limit.
    MemoryLimit(usize),
    /// The module trapped, or the host could not run it.
    Trap(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Guest(message) => write!(f, "the policy returned an error: {message}"),
            CallError::Timeout(limit) => {
                write!(f, "evaluation stopped: deadline of {limit:?} exceeded")
            }
            CallError::MemoryLimit(limit) => write!(
                f,
                "evaluation stopped: memory limit of {} MiB exceeded",
                limit >> 20
            ),
            CallError::Trap(message) => write!(f, "the policy trapped: {message}"),
        }
    }
}

/// One engine per process, with a thread that advances its epoch for the deadlines.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // For `perf record`: names the guest's functions in /tmp/perf-<pid>.map.
        if std::env::var_os("KEPGUARD_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // Instances come from preallocated slots that are reset, not mapped and unmapped
        // on every evaluation: this halves the cost of a fresh instance.
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_core_instances(INSTANCE_SLOTS)
            .total_memories(INSTANCE_SLOTS)
            .total_tables(INSTANCE_SLOTS)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            // Linux 6.7+: reset only the pages an evaluation wrote, not all KEEP_RESIDENT
            // bytes; a policy's 1 MiB stack is mostly untouched. Halves the instructions
            // of a fresh instance (108k to 58k).
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&config).expect("the default wasmtime configuration is valid");
        let ticker = engine.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                ticker.increment_epoch();
            }
        });
        engine
    })
}

/// The waPC exchange of one call, plus what the host needs to run it.
struct HostState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
    verbose: bool,
    operation: Vec<u8>,
    payload: Vec<u8>,
    guest_response: Option<Vec<u8>>,
    guest_error: Option<Vec<u8>>,
    host_response: Vec<u8>,
    host_error: Vec<u8>,
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
    limits: Limits,
    verbose: bool,
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
        if module.get_export("__guest_call").is_none() {
            bail!("module {name} is not a waPC policy: it does not export __guest_call");
        }
        let mut linker: Linker<HostState> = Linker::new(engine());
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state| &mut state.wasi)
            .and_then(|()| add_wapc_to_linker(&mut linker))
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

/// An instantiated module that can serve calls one after another.
pub struct WarmInstance {
    store: Store<HostState>,
    guest_call: TypedFunc<(i32, i32), i32>,
    limits: Limits,
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

fn classify(error: wasmtime::Error, limits: Limits) -> CallError {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::Timeout(limits.timeout);
    }
    let message = format!("{error:#}");
    if message.contains("forcing trap when growing memory") {
        return CallError::MemoryLimit(limits.memory_bytes);
    }
    CallError::Trap(message)
}

// Host functions answer in wasmtime's own error type; an error there traps the guest.

fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the module does not export its memory"),
    }
}

fn read_guest(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start.saturating_add(len as u32 as usize);
    memory
        .data(&caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::format_err!("guest buffer {start}..{end} is out of bounds"))
}

fn write_guest(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = memory(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .map_err(|_| wasmtime::format_err!("guest buffer at {ptr} is out of bounds"))
}

/// The host side of the waPC protocol, in the import module `wapc`.
fn add_wapc_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "wapc",
        "__guest_request",
        |mut caller: Caller<'_, HostState>,
         operation_ptr: i32,
         payload_ptr: i32|
         -> wasmtime::Result<()> {
            let operation = std::mem::take(&mut caller.data_mut().operation);
            let payload = std::mem::take(&mut caller.data_mut().payload);
            write_guest(&mut caller, operation_ptr, &operation)?;
            write_guest(&mut caller, payload_ptr, &payload)?;
            caller.data_mut().operation = operation;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_guest(&mut caller, ptr, len)?;
            caller.data_mut().guest_response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_guest(&mut caller, ptr, len)?;
            caller.data_mut().guest_error = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_call",
        |mut caller: Caller<'_, HostState>,
         binding_ptr: i32,
         binding_len: i32,
         namespace_ptr: i32,
         namespace_len: i32,
         operation_ptr: i32,
         operation_len: i32,
         payload_ptr: i32,
         payload_len: i32|
         -> wasmtime::Result<i32> {
            let binding = read_guest(&mut caller, binding_ptr, binding_len)?;
            let namespace = read_guest(&mut caller, namespace_ptr, namespace_len)?;
            let operation = read_guest(&mut caller, operation_ptr, operation_len)?;
            let payload = read_guest(&mut caller, payload_ptr, payload_len)?;
            let state = caller.data_mut();
            state.host_response.clear();
            state.host_error.clear();
            let capability = format!(
                "{}/{}/{}",
                String::from_utf8_lossy(&binding),
                String::from_utf8_lossy(&namespace),
                String::from_utf8_lossy(&operation)
            );
            // The SDK traps when its log call fails, so logging always succeeds.
            if capability == "kubewarden/tracing/log" {
                if state.verbose {
                    eprintln!("policy log: {}", String::from_utf8_lossy(&payload));
                }
                return Ok(1);
            }
            state.host_error =
                format!("host capability {capability} is not available in the kepguard harness")
                    .into_bytes();
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response",
        |mut caller: Caller<'_, HostState>, ptr: i32| -> wasmtime::Result<()> {
            let bytes = caller.data().host_response.clone();
            write_guest(&mut caller, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response_len",
        |caller: Caller<'_, HostState>| -> i32 { caller.data().host_response.len() as i32 },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error",
        |mut caller: Caller<'_, HostState>, ptr: i32| -> wasmtime::Result<()> {
            let bytes = caller.data().host_error.clone();
            write_guest(&mut caller, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error_len",
        |caller: Caller<'_, HostState>| -> i32 { caller.data().host_error.len() as i32 },
    )?;
    linker.func_wrap(
        "wapc",
        "__console_log",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_guest(&mut caller, ptr, len)?;
            if caller.data().verbose {
                eprintln!("policy console: {}", String::from_utf8_lossy(&bytes));
            }
            Ok(())
        },
    )?;
    Ok(())
}
