//! uniffi's binding generator, built from the same uniffi version as `sfbkit-ffi` (the two must match: the
//! generated code checks the library's API checksums when it loads).
//!
//! `cargo run --bin uniffi-bindgen -- generate --library target/debug/libsfbkit_ffi.so --language kotlin --out-dir out`

fn main() {
    uniffi::uniffi_bindgen_main()
}
