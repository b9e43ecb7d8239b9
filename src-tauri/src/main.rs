// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc returns freed memory to the OS; glibc's allocator keeps what a large computation
/// freed (docs/architecture.md, "Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    usagedesk_app::run();
}
