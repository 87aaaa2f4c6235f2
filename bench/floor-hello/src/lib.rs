//! `GET /api/hello` answering exactly what `sample-routes/hello` answers, but
//! built without std, so the component imports nothing from WASI: the floor
//! for the per-instance cost of imports (bench/README.md, "Imports per instance").
//!
//! Not a pattern for routes: a panic here is a bare `unreachable` trap with
//! no message in the host log, and there is no env, clock, random or
//! outbound HTTP. Its own workspace: build it with `bench/floor-hello/build.sh`.
#![cfg(target_arch = "wasm32")]
#![no_std]
// wit-bindgen's generated export glue is `unsafe` and undocumented.
#![allow(unsafe_code, missing_docs)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use core::alloc::{GlobalAlloc, Layout};

wit_bindgen::generate!({
    inline: "package bench:floor; world floor { export wasmroutes:api/get@0.2.0; }",
    path: "../../wit",
    world: "bench:floor/floor",
    generate_all,
});

use exports::wasmroutes::api::get::Guest;
use wasmroutes::api::types::{Request, Response};

// The allocator and the `memcmp` family come from wasi-libc, as they do for
// std on wasm32-wasip2: its malloc imports nothing and starts in the heap
// space the initial memory already has (an allocator that grows memory on
// the first request would make this "floor" slower than hello).
#[link(name = "c")]
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// wasi-libc's malloc, the way std's `System` allocator uses it on WASI.
struct LibcMalloc;

// SAFETY: malloc/aligned_alloc/free are the C allocator's contract;
// alignments up to 8 are what wasm32 malloc guarantees.
unsafe impl GlobalAlloc for LibcMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= 8 && layout.align() <= layout.size() {
                malloc(layout.size())
            } else {
                aligned_alloc(layout.align(), layout.size())
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { free(ptr) }
    }
}

#[global_allocator]
static ALLOCATOR: LibcMalloc = LibcMalloc;

/// The canonical ABI's allocator export. On wasm32-wasip2 std provides it;
/// without std the component must.
#[unsafe(no_mangle)]
unsafe extern "C" fn cabi_realloc(old: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    use alloc::alloc::{alloc, realloc};
    if new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the canonical ABI passes a power-of-two `align` and, for a
    // reallocation, the pointer and size of an earlier allocation.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(old, Layout::from_size_align_unchecked(old_len, align), new_len)
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

struct Floor;

impl Guest for Floor {
    fn handle(_req: Request) -> Response {
        let body = serde_json::to_vec(&serde_json::json!({ "message": "Hello from API!" })).unwrap_or_default();
        Response { status: 200, headers: vec![(String::from("content-type"), String::from("application/json"))], body }
    }
}

export!(Floor);
