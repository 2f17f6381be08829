//! Test support shared by the integration tests, the Python client test and the benchmarks.

pub mod fake_upstream;
