//! The one wasmtime engine of the process, configured as policy-server configures its own:
//! epoch interruption for deadlines, and pooled instance slots.

use std::sync::OnceLock;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How many instances may be alive at once, across every module of the process.
const INSTANCE_SLOTS: u32 = 256;
/// Memory a slot keeps mapped between instances: resetting it is cheaper than faulting the
/// stack and the heap of every evaluation back in (docs/performance.md).
const KEEP_RESIDENT: usize = 2 << 20;

/// One engine per process, with a thread that advances its epoch for the deadlines.
pub(crate) fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // For `perf record`: names the guest's functions in /tmp/perf-<pid>.map.
        if std::env::var_os("KEPGUARD_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // Instances come from preallocated slots that are reset, not mapped and unmapped
        // on every evaluation: a fresh instance costs far less.
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_core_instances(INSTANCE_SLOTS)
            .total_memories(INSTANCE_SLOTS)
            .total_tables(INSTANCE_SLOTS)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            // Linux 6.7+: reset only the pages an evaluation wrote, not all KEEP_RESIDENT
            // bytes; a policy's stack is mostly untouched.
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
