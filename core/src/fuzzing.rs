//! Crate-private readers exposed to the cargo-fuzz targets in `fuzz/` (docs/fuzzing.md). Compiled only
//! under `--cfg fuzzing`, which `cargo fuzz` sets; not part of the API. Everything a target can reach
//! through the public API is fuzzed through it instead.

/// The TLS-DSK record and handshake readers (`auth::tlsdsk` codec and record protection).
pub mod tlsdsk {
    pub use crate::auth::tlsdsk::fuzzing::*;
}

/// The dial-plan pattern compiler and translation parser (`dialplan::pattern`, `dialplan::translation`).
pub mod dialplan {
    pub use crate::dialplan::fuzzing::*;
}
