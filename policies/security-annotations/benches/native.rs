//! The native baseline of `make bench`: this policy's `validate` called in-process.

kepguard_bench::native_benchmark!(security_annotations, "security-annotations");
