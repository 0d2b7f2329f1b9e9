//! Helpers shared by Skylark's tests across crates. Only dev-dependencies
//! point here; the product never links it.

pub mod alloc_count;
pub mod binary;
pub mod go;
pub mod java;
pub mod prerequisites;
pub mod process;
pub mod skylark;
