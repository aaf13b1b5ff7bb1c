//! The native baseline of `make bench`: this policy's `validate` called in-process.

kepguard_bench::native_benchmark!(registry_k8s_io, "registry-k8s-io");
