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
