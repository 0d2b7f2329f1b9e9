//! A global allocator for tests and benchmarks that count allocations: it
//! forwards every call to the system allocator and calls a hook on each
//! allocation and reallocation. Each user keeps its own counting policy in
//! the hook.

use std::alloc::{GlobalAlloc, Layout, System};

/// Calls its hook on every `alloc`, `alloc_zeroed` and `realloc`, then
/// forwards to [`System`]. The hook must not allocate.
///
/// ```ignore
/// #[global_allocator]
/// static GLOBAL: CountingAlloc = CountingAlloc(count);
/// ```
#[derive(Debug)]
pub struct CountingAlloc(pub fn());

// SAFETY: forwards every call to the system allocator unchanged; the hook
// runs beside it and touches no memory the allocator hands out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (self.0)();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (self.0)();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (self.0)();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}
