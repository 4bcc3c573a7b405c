//! Rules of the codebase that the compiler cannot check, checked on the source:
//! every `viz_*` export runs in the boundary's guard under its own name (or is a
//! documented deprecated alias of one that does), the header declares exactly the
//! exports, and no module imports a sibling that imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn rust_files(dir: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Each `#[unsafe(no_mangle)]` function in `src`: its name, doc comment and body.
fn exports(src: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[unsafe(no_mangle)]") {
        let before = &rest[..at];
        let doc: String = before
            .lines()
            .rev()
            .take_while(|l| l.trim_start().starts_with("///"))
            .collect::<Vec<_>>()
            .join("\n");
        let after = &rest[at..];
        let fn_at = after.find(" fn ").unwrap() + 4;
        let name: String = after[fn_at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The body: from the first `{` after the parameter list to its match.
        let sig_end = after[fn_at..].find(") ").unwrap() + fn_at;
        let open = after[sig_end..].find('{').unwrap() + sig_end;
        let mut depth = 0;
        let mut close = open;
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((name, doc, after[open..=close].to_owned()));
        rest = &after[close..];
    }
    out
}

#[test]
fn every_export_runs_in_the_guard_under_its_own_name() {
    let mut all = BTreeMap::new();
    for (file, src) in rust_files("src/ffi") {
        for (name, doc, body) in exports(&src) {
            all.insert(name.clone(), (file.clone(), doc, body));
        }
    }
    assert!(all.len() > 30, "found only {} exports", all.len());
    let guarded = |body: &str, name: &str| body.contains(&format!("guard(\"{name}\","));
    for (name, (file, doc, body)) in &all {
        if guarded(body, name) {
            continue;
        }
        // A deprecated alias: documented, and a plain call of a guarded export.
        let target = doc
            .split("Deprecated alias of `")
            .nth(1)
            .and_then(|t| t.split('`').next())
            .unwrap_or_else(|| {
                panic!("src/ffi/{file}.rs: {name} does not run in guard(\"{name}\", ..)")
            });
        let (_, _, target_body) = all
            .get(target)
            .unwrap_or_else(|| panic!("{name} aliases {target}, which is no export"));
        assert!(
            guarded(target_body, target),
            "{name} aliases {target}, which skips the guard"
        );
        assert!(
            body.contains(&format!("{target}(")),
            "{name} does not call {target}"
        );
    }
    // The header declares exactly these functions.
    let header = std::fs::read_to_string(Path::new(ROOT).join("include/viz.h")).unwrap();
    let declared: BTreeSet<String> = header
        .lines()
        .filter(|l| {
            !l.starts_with(' ')
                && !l.starts_with('*')
                && !l.starts_with('#')
                && l.contains("viz_")
                && l.contains('(')
        })
        .filter_map(|l| {
            let at = l.find('(')?;
            let name = l[..at]
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()?;
            name.starts_with("viz_").then(|| name.to_owned())
        })
        .collect();
    let exported: BTreeSet<String> = all.keys().cloned().collect();
    assert_eq!(
        declared, exported,
        "include/viz.h and src/ffi disagree on the exports"
    );
}

/// Sibling modules a module of `dir` names through `super::`.
fn sibling_imports(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(dir);
    let names: BTreeSet<String> = files
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != "mod")
        .collect();
    files
        .iter()
        .filter(|(n, _)| n != "mod")
        .map(|(name, src)| {
            let mut deps = BTreeSet::new();
            for part in src.split("super::").skip(1) {
                let target: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if names.contains(&target) && &target != name {
                    deps.insert(target);
                }
            }
            (name.clone(), deps)
        })
        .collect()
}

/// Top-level modules of the crate each one names through `crate::`, comments aside.
fn crate_imports() -> BTreeMap<String, BTreeSet<String>> {
    fn sources(path: &Path, out: &mut String) {
        if path.is_dir() {
            for e in std::fs::read_dir(path).unwrap() {
                sources(&e.unwrap().path(), out);
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let src = Path::new(ROOT).join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .filter(|m| m != "lib")
        .collect();
    modules
        .iter()
        .map(|m| {
            let mut text = String::new();
            let dir = src.join(m);
            let path = if dir.is_dir() {
                dir
            } else {
                src.join(format!("{m}.rs"))
            };
            sources(&path, &mut text);
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            let deps = code
                .join("\n")
                .split("crate::")
                .skip(1)
                .map(|p| {
                    p.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .filter(|d| modules.contains(d) && d != m)
                .collect();
            (m.clone(), deps)
        })
        .collect()
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let mut graphs: Vec<(&str, BTreeMap<String, BTreeSet<String>>)> = [
        "src/ffi",
        "src/collector",
        "src/backend",
        "src/format/vizlog",
    ]
    .into_iter()
    .map(|dir| (dir, sibling_imports(dir)))
    .collect();
    graphs.push(("src", crate_imports()));
    for (dir, graph) in graphs {
        // Depth-first search for a cycle, reporting its path.
        fn visit(
            node: &str,
            graph: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|n| n == node) {
                let mut cycle = path[i..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            if done.contains(node) {
                return None;
            }
            path.push(node.to_owned());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(c) = visit(next, graph, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(node.to_owned());
            None
        }
        let mut done = BTreeSet::new();
        for node in graph.keys() {
            if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
                panic!(
                    "{dir}: modules import each other in a circle: {}",
                    cycle.join(" -> ")
                );
            }
        }
    }
}
