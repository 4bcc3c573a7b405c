//! Build script: hands the target triple to the C harness tests, which compile C
//! programs with the `cc` crate (it needs the triple, which only build scripts see).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=VIZ_TARGET={target}");
}
