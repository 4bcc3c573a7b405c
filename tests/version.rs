//! viz has one version number, the workspace's (Cargo.toml). Every package that
//! carries a copy of it must agree: the C header's macros, the Python package, the
//! NuGet package, the `viz` command; and CHANGELOG.md must describe the current C
//! ABI version. `viz_version()` is checked in src/ffi/version.rs's own test. The
//! SONAME and viz.pc take the version from Cargo.toml when `scripts/install.sh`
//! runs, and `scripts/packages.sh` checks them.

use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// The value of `key = "..."` on its own line (TOML) in `text`.
fn toml_string(text: &str, key: &str) -> Option<String> {
    let prefix = format!("{key} = \"");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.strip_suffix('"'))
        .map(str::to_owned)
}

/// The number a `#define NAME n` line gives.
fn define(header: &str, name: &str) -> u32 {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("viz.h defines no {name}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a number: {e}"))
}

#[test]
fn the_workspace_has_the_version() {
    let root = read("Cargo.toml");
    let workspace = root
        .split("[workspace.package]")
        .nth(1)
        .expect("Cargo.toml has a [workspace.package] table");
    assert_eq!(toml_string(workspace, "version").as_deref(), Some(VERSION));
    assert!(
        read("cli/Cargo.toml").contains("version.workspace = true"),
        "the viz command takes the workspace's version"
    );
}

#[test]
fn the_c_header_carries_the_version() {
    let header = read("include/viz.h");
    let parts: Vec<u32> = VERSION
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().expect("a numeric version"))
        .collect();
    assert_eq!(
        [
            define(&header, "VIZ_VERSION_MAJOR"),
            define(&header, "VIZ_VERSION_MINOR"),
            define(&header, "VIZ_VERSION_PATCH"),
        ],
        parts[..]
    );
    // viz_version() and the Rust constants are checked against the crate's
    // version in src/ffi/version.rs's own test.
}

#[test]
fn the_python_package_carries_the_version() {
    let pyproject = read("bindings/python/pyproject.toml");
    assert_eq!(toml_string(&pyproject, "version").as_deref(), Some(VERSION));
}

#[test]
fn the_nuget_package_carries_the_version() {
    let project = read("bindings/csharp/MLFramework.Visualization.csproj");
    let version = project
        .split("<Version>")
        .nth(1)
        .and_then(|rest| rest.split("</Version>").next())
        .expect("the project sets <Version>");
    assert_eq!(version, VERSION);
}

#[test]
fn the_changelog_describes_the_current_abi() {
    let changelog = read("CHANGELOG.md");
    let abi = define(&read("include/viz.h"), "VIZ_ABI_VERSION");
    assert_eq!(abi, viz::ABI_VERSION);
    assert!(
        changelog.contains(&format!("**ABI {abi}**")),
        "CHANGELOG.md has no entry for C ABI version {abi}"
    );
    assert!(
        changelog.contains(&format!("## {VERSION}")) || changelog.contains("## Unreleased"),
        "CHANGELOG.md has no section for {VERSION}"
    );
}
