//! Links the component with a 128 KiB shadow stack instead of Rust's 1 MiB:
//! every request starts a fresh instance, and a smaller stack means less
//! memory to map and reset each time. Deep recursion still stops with a clean
//! stack-overflow error, just sooner.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=131072");
    }
}
