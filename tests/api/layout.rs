//! The layout the architecture promises (ARCHITECTURE.md): dependencies point inward
//! (`http/` → domains → `core/` and `store/`), and a provider is named only by its own
//! declaration under `src/accounts/providers/`.

use std::path::{Path, PathBuf};

/// Files that wire the HTTP layer to the rest, besides `src/http/` itself.
const WIRING: &[&str] = &["src/main.rs", "src/lib.rs", "src/cli.rs", "src/startup.rs"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every Rust source of the crate, as (path relative to the crate, text).
fn crate_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The code of a source: comments and attributes (`#[…]`, documentation such as
/// OpenAPI examples) removed.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for line in text.lines() {
        if depth == 0 && line.trim_start().starts_with("#[") {
            depth = 0;
            let mut started = false;
            for c in line.trim_start().chars() {
                match c {
                    '[' => {
                        depth += 1;
                        started = true;
                    }
                    ']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if started && depth == 0 {
                    break;
                }
            }
            continue;
        }
        if depth > 0 {
            for c in line.chars() {
                match c {
                    '[' => depth += 1,
                    ']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
            continue;
        }
        out.push_str(line.split("//").next().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// `use crate::…;` statements, each as one line.
fn crate_imports(code: &str) -> Vec<String> {
    let mut imports = Vec::new();
    let mut rest = code;
    while let Some(start) = rest.find("use crate::") {
        let end = rest[start..].find(';').map_or(rest.len(), |i| start + i);
        imports.push(rest[start..end].split_whitespace().collect::<Vec<_>>().join(" "));
        rest = &rest[end..];
    }
    imports
}

fn imports_http(code: &str) -> bool {
    code.contains("crate::http")
        || crate_imports(code).iter().any(|import| {
            import
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == "http")
        })
}

#[test]
fn no_module_outside_http_imports_the_http_layer() {
    let offenders: Vec<String> = crate_sources()
        .into_iter()
        .filter(|(path, _)| !path.starts_with("src/http/") && !WIRING.contains(&path.as_str()))
        .filter(|(_, text)| imports_http(&code_of(text)))
        .map(|(path, _)| path)
        .collect();
    assert!(offenders.is_empty(), "these import crate::http: {offenders:?}");
}

#[test]
fn the_store_and_the_domains_read_no_configuration() {
    const TAKE_VALUES: &[&str] = &[
        "src/store/",
        "src/core/",
        "src/accounts/",
        "src/payment_methods/",
        "src/screening/",
        "src/events/",
    ];
    let offenders: Vec<String> = crate_sources()
        .into_iter()
        .filter(|(path, _)| TAKE_VALUES.iter().any(|dir| path.starts_with(dir)))
        .filter(|(_, text)| {
            let code = code_of(text);
            code.contains("crate::config")
                || crate_imports(&code).iter().any(|import| {
                    import
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|w| w == "config")
                })
        })
        .map(|(path, _)| path)
        .collect();
    assert!(offenders.is_empty(), "these read the configuration: {offenders:?}");
}

#[test]
fn no_code_outside_the_declarations_names_a_provider() {
    let slugs: Vec<String> = renkei::accounts::ALL
        .iter()
        .map(|p| format!("\"{}\"", p.slug))
        .collect();
    let mut offenders = Vec::new();
    for (path, text) in crate_sources() {
        if path.starts_with("src/accounts/providers/") {
            continue;
        }
        let code = code_of(&text);
        for slug in &slugs {
            if code.contains(slug.as_str()) {
                offenders.push(format!("{path}: {slug}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "provider slugs named outside src/accounts/providers/: {offenders:?}"
    );
}

#[test]
fn the_layout_checks_catch_what_they_are_for() {
    assert!(imports_http(
        "use crate::{\n    core::Actor,\n    http::problem::FieldError,\n};"
    ));
    assert!(imports_http("let e = crate::http::problem::ApiError::NotFound(x);"));
    assert!(!imports_http(
        "use actix_web::http::header;\nuse crate::{core::Actor, store};"
    ));
    let code = code_of(
        "#[schema(example = json!({\n    \"provider\": \"gmo-pg\"\n}))]\nstruct X; // \"zeus\"\nlet p = \"paidy\";",
    );
    assert!(
        !code.contains("gmo-pg") && !code.contains("zeus") && code.contains("\"paidy\""),
        "{code}"
    );
}

/// The module path of a source file (`src/a/b.rs` and `src/a/b/mod.rs` are `a::b`;
/// `src/lib.rs` is the root).
fn module_of(path: &str) -> Vec<String> {
    let inner = path.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The paths a `use` tree names, expanded (`a::{b, c::{d, e}}` → `a::b`, `a::c::d`,
/// `a::c::e`).
fn expand_use_tree(tree: &str) -> Vec<String> {
    // `x as y` names x: the alias goes, then the spaces.
    let mut words = Vec::new();
    let mut rest = tree.split_whitespace();
    while let Some(word) = rest.next() {
        match word {
            "as" => {
                let alias = rest.next().unwrap_or("");
                words.push(
                    alias
                        .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
                        .to_string(),
                );
            }
            _ => words.push(word.to_string()),
        }
    }
    let tree: String = words.concat();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(expand_use_tree)
        .map(|path| {
            if path == "self" {
                prefix.trim_end_matches("::").to_string()
            } else {
                format!("{prefix}{path}")
            }
        })
        .collect()
}

/// Every path to an item of this crate that a source names, absolute from the crate root:
/// its `use` trees (`crate::`, `super::`, `self::`) and the `crate::…` paths in its code.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let absolute = |path: &str| -> Option<Vec<String>> {
        let mut segments = path.split("::").map(str::to_string);
        let mut base: Vec<String> = match segments.next()?.as_str() {
            "crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => module[..module.len().checked_sub(1)?].to_vec(),
            _ => return None,
        };
        for segment in segments {
            if segment == "super" {
                base.pop()?;
            } else if segment == "*" {
                // A glob names no item of its own (in a file, `use super::*` is its tests).
                return None;
            } else if !segment.is_empty() {
                base.push(segment);
            }
        }
        Some(base)
    };
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(found) = code[i..].find("use ") {
        let start = i + found;
        i = start + 4;
        let before = if start == 0 { b' ' } else { bytes[start - 1] };
        if before.is_ascii_alphanumeric() || before == b'_' {
            continue;
        }
        let end = code[i..].find(';').map_or(code.len(), |e| i + e);
        let tree = &code[i..end];
        if tree.starts_with("crate::") || tree.starts_with("super::") || tree.starts_with("self::") {
            paths.extend(expand_use_tree(tree).iter().filter_map(|p| absolute(p)));
        }
        i = end;
    }
    // Paths in the code: from the crate, the parent, the module itself, or a child module
    // this file declares (`mod child;` … `child::item`).
    let children: Vec<String> = code
        .split(';')
        .filter_map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            match words.as_slice() {
                [.., "mod", name] => Some(format!("self::{name}")),
                _ => None,
            }
        })
        .collect();
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    for (at, _) in code.match_indices("::") {
        let start = code[..at]
            .char_indices()
            .rev()
            .find(|(_, c)| !is_path_char(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        if start != code[..at].rfind(|c: char| !is_path_char(c)).map_or(0, |i| i + 1) || code[start..at].contains("::")
        {
            continue; // not the path's first `::`
        }
        let tail = &code[start..];
        let end = tail.find(|c: char| !is_path_char(c)).unwrap_or(tail.len());
        let text = &tail[..end];
        if text.ends_with("::") {
            continue; // `use a::{…}`: read as a use tree above
        }
        let head = text.split("::").next().unwrap_or("");
        let path = match head {
            "crate" | "super" | "self" => text.to_string(),
            _ if children.contains(&format!("self::{head}")) => format!("self::{text}"),
            _ => continue,
        };
        if let Some(path) = absolute(&path) {
            paths.push(path);
        }
    }
    paths
}

/// Whether a file is a module's face (`mod.rs`, `lib.rs`).
fn is_face(file: &str) -> bool {
    file.ends_with("/mod.rs") || file == "src/lib.rs"
}

/// Whether a source defines an item of that name itself.
fn defines(code: &str, name: &str) -> bool {
    [
        "fn",
        "struct",
        "enum",
        "const",
        "static",
        "type",
        "trait",
        "mod",
        "macro_rules!",
    ]
    .iter()
    .any(|keyword| {
        code.match_indices(&format!("{keyword} {name}")).any(|(at, found)| {
            let after = code[at + found.len()..].chars().next().unwrap_or(' ');
            let before = code[..at].chars().next_back().unwrap_or(' ');
            let word = |c: char| c.is_alphanumeric() || c == '_';
            !word(after) && !word(before)
        })
    })
}

/// The import graph between the crate's files: file → the files whose items it names.
/// A path to a module face (`mod.rs`) goes through its `pub use` to the file that defines
/// the item; a face's `mod` declarations are not imports.
fn import_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let sources = crate_sources();
    let files: std::collections::BTreeMap<Vec<String>, String> = sources
        .iter()
        .map(|(path, _)| (module_of(path), path.clone()))
        .collect();
    let codes: std::collections::BTreeMap<String, String> = sources
        .iter()
        .map(|(path, text)| (path.clone(), code_of(text)))
        .collect();
    // The file an absolute path lands in: the longest prefix that is a file, then through
    // a face's re-export of the next name, when it has one.
    let resolve = |path: &[String]| -> Option<String> {
        let mut depth = path.len();
        while depth > 0 && !files.contains_key(&path[..depth]) {
            depth -= 1;
        }
        let mut file = files.get(&path[..depth])?.clone();
        for _ in 0..8 {
            let Some(name) = path.get(depth) else { break };
            let code = &codes[&file];
            if !is_face(&file) {
                break;
            }
            let module = module_of(&file);
            let reexport = named_paths(&module, code)
                .into_iter()
                .find(|p| p.last() == Some(name) && p.len() > module.len() && p[..module.len()] == module[..]);
            let Some(target) = reexport else {
                // A name the face neither defines nor re-exports is not one of its items
                // (a path read outside its inline module): no edge.
                if !defines(code, name) {
                    return None;
                }
                break;
            };
            let mut next = target.len();
            while next > 0 && !files.contains_key(&target[..next]) {
                next -= 1;
            }
            match files.get(&target[..next]) {
                Some(next_file) if *next_file != file => {
                    file = next_file.clone();
                    depth = next;
                }
                _ => break,
            }
        }
        Some(file)
    };
    let mut graph = std::collections::BTreeMap::new();
    for (path, code) in &codes {
        let module = module_of(path);
        let edges: std::collections::BTreeSet<String> = named_paths(&module, code)
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|target| target != path)
            // A face mounts and hands on its own modules: that is not an import.
            .filter(|target| !(is_face(path) && module_of(target).starts_with(&module)))
            .collect();
        graph.insert(path.clone(), edges);
    }
    graph
}

/// The circles of a graph: its strongly connected components of more than one file.
fn circles(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Vec<Vec<String>> {
    let reaches = |from: &str| {
        let mut seen = std::collections::BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(file) = todo.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: std::collections::BTreeMap<&String, _> = graph.keys().map(|f| (f, reaches(f))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for file in graph.keys() {
        if found.iter().any(|c| c.contains(file)) {
            continue;
        }
        let circle: Vec<String> = graph
            .keys()
            .filter(|other| *other == file || (reach[file].contains(*other) && reach[*other].contains(file)))
            .cloned()
            .collect();
        if circle.len() > 1 {
            found.push(circle);
        }
    }
    found
}

#[test]
fn no_two_files_import_each_other_in_a_circle() {
    let graph = import_graph();
    let found = circles(&graph);
    let described: Vec<String> = found
        .iter()
        .map(|circle| {
            let ties: Vec<String> = circle
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|to| circle.contains(*to))
                        .map(move |to| format!("{from} -> {to}"))
                })
                .collect();
            ties.join(", ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "import circles between files (move what both sides need into a file both can import):\n{}",
        described.join("\n")
    );
}

#[test]
fn the_circle_check_finds_a_circle_and_reads_use_trees() {
    assert_eq!(
        expand_use_tree("crate::{a::b, c::{d, e as f}, g::{self}}"),
        ["crate::a::b", "crate::c::d", "crate::c::e", "crate::g"]
    );
    let graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(from, to)| (from.to_string(), to.into_iter().map(str::to_string).collect()))
            .collect();
    assert_eq!(circles(&graph), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
}
