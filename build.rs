//! Build script. The C ABI work adds header generation checks here; for now it only
//! records the ABI version so the library can report it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Bumped on any incompatible change to the C ABI (none is published yet).
    println!("cargo:rustc-env=VIZ_ABI_VERSION=0");
}
