//! The documentation stays true to the tree: `docs/architecture.md` names
//! every crate of the workspace, every top-level module of nfctd,
//! nfctd-table and xmlrpc-codec (and nfctd's `main.rs`), and every relative link in README.md and docs/*.md points to
//! a file that exists. Reads files only: no namespace, no daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `members` of the root `Cargo.toml`'s `[workspace]`.
fn workspace_members() -> Vec<String> {
    let manifest: toml::Table = read(&repo().join("Cargo.toml")).parse().unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let members: Vec<String> = members
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    assert!(!members.is_empty(), "no workspace members");
    members
}

/// The top-level modules of `crate`'s `src/lib.rs`: its `mod` and `pub mod` lines.
fn top_level_modules(krate: &str) -> Vec<String> {
    let lib = read(&repo().join(format!("crates/{krate}/src/lib.rs")));
    let modules: Vec<String> = lib
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.strip_suffix(';')?.trim().to_string())
        })
        .collect();
    assert!(
        modules.len() > 4,
        "too few modules read from {krate}'s lib.rs: {modules:?}"
    );
    modules
}

/// The text of every code span (`...`) in `doc`, split at commas and spaces,
/// so that "`crates/nfctd/src/config/`, `main.rs`" gives both paths.
fn code_words(doc: &str) -> Vec<String> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|span| span.split([',', ' ']))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `doc` names the module `module` of `crates/{krate}/src` in a code
/// span: as a path (`crates/nfctd/src/m`, `crates/nfctd/src/m/`,
/// `crates/nfctd/src/m.rs`), or as `m.rs` (as the layout table lists a second
/// file of a row); in the library crates' rows, which list their modules by
/// name, also as `m` or `m/`.
fn names_module(words: &[String], krate: &str, module: &str) -> bool {
    let full = format!("crates/{krate}/src/{module}");
    words.iter().any(|w| {
        *w == full
            || *w == format!("{full}/")
            || *w == format!("{full}.rs")
            || *w == format!("{module}.rs")
            || (krate != "nfctd" && (*w == module || *w == format!("{module}/")))
    })
}

#[test]
fn architecture_names_every_crate_and_module() {
    let doc = read(&repo().join("docs/architecture.md"));
    let words = code_words(&doc);
    let mut missing = Vec::new();
    for member in workspace_members() {
        if !words.contains(&member) {
            missing.push(member);
        }
    }
    for krate in ["nfctd", "nfctd-table", "xmlrpc-codec"] {
        for module in top_level_modules(krate) {
            if !names_module(&words, krate, &module) {
                missing.push(format!("crates/{krate}/src/{module}"));
            }
        }
    }
    assert!(repo().join("crates/nfctd/src/main.rs").exists());
    if !words
        .iter()
        .any(|w| w == "main.rs" || w == "crates/nfctd/src/main.rs")
    {
        missing.push("crates/nfctd/src/main.rs".into());
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name (as a `path`): {missing:?}"
    );
}

/// The targets of the Markdown links `[text](target)` in `doc`, outside
/// fenced code blocks and code spans.
fn link_targets(doc: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut fenced = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop code spans, keeping the text around them.
        let text: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn every_relative_link_points_to_a_file() {
    let mut pages = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    assert!(pages.len() > 2, "no pages in docs/");
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        for target in link_targets(&read(page)) {
            let is_external = target
                .split_once(':')
                .is_some_and(|(scheme, _)| scheme.chars().all(|c| c.is_ascii_alphabetic()));
            let path = target.split('#').next().unwrap_or_default();
            if is_external || path.is_empty() {
                continue;
            }
            checked += 1;
            if !page.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(checked > 10, "only {checked} relative links found");
    assert!(broken.is_empty(), "links to missing files: {broken:#?}");
}
