//! Declares the `loom` cfg, which switches the shuffle's locks and atomics to
//! loom's model-checked versions (`RUSTFLAGS="--cfg loom"`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
