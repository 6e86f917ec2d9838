//! `cargo bench -p sfbkit --bench parse`: the SIP parse benchmark, the same code `sfbkit-bench parse` runs
//! (bench/src/parse.rs).

#[path = "../../bench/src/parse.rs"]
mod parse;

fn main() {
    parse::run();
}
