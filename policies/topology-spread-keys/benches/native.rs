//! The native baseline of `make bench`: this policy's `validate` called in-process.

kepguard_bench::native_benchmark!(topology_spread_keys, "topology-spread-keys");
