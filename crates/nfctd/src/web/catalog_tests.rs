//! The page's strings: every key the markup (`data-i18n*`) or the scripts
//! (`t("...")`, and any literal shaped like a key) use is in both catalogs,
//! both catalogs hold the same keys, none is empty or unused, and the markup
//! has no inline script the Content Security Policy would block.

use std::collections::BTreeSet;

use super::{asset_paths, asset_text};

fn catalog(lang: &str) -> serde_json::Map<String, serde_json::Value> {
    let text = asset_text(&format!("i18n/{lang}.json"))
        .unwrap_or_else(|| panic!("no catalog i18n/{lang}.json"));
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => map,
        other => panic!("i18n/{lang}.json is not a JSON object: {other:?}"),
    }
}

/// Values of `attr="..."` in the markup.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        if let Some(end) = rest.find('"') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// String literals ("..." and '...') in a script, with `true` when the
/// literal is the first argument of a `t(` call.
fn literals(js: &str) -> Vec<(String, bool)> {
    let bytes = js.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b == b'"' || b == b'\'' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b && bytes[j] != b'\n' {
                if bytes[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            let before = js[..i].trim_end();
            let called = before.ends_with("t(")
                && !before[..before.len() - 2]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            out.push((js[start..j.min(bytes.len())].to_string(), called));
            i = j + 1;
            continue;
        }
        i += 1;
    }
    out
}

/// A literal shaped like a catalog key: lowercase words joined by dots.
fn looks_like_key(s: &str) -> bool {
    let mut parts = s.split('.');
    let word = |p: &str| {
        !p.is_empty()
            && p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    parts.next().is_some_and(word) && s.contains('.') && parts.all(word)
}

/// Every key the page uses, with where it is used.
fn used_keys() -> Vec<(String, String)> {
    let mut used = Vec::new();
    for path in asset_paths() {
        let Some(text) = asset_text(path) else {
            continue;
        };
        if path.ends_with(".html") {
            for attr in ["data-i18n", "data-i18n-placeholder", "data-i18n-aria"] {
                for key in attribute_values(text, attr) {
                    used.push((key, format!("{path} {attr}")));
                }
            }
        } else if path.ends_with(".js") {
            for (literal, called) in literals(text) {
                if called || looks_like_key(&literal) {
                    used.push((literal, path.to_string()));
                }
            }
        }
    }
    used
}

#[test]
fn every_string_on_the_page_is_in_both_catalogs() {
    let used = used_keys();
    assert!(used.len() > 50, "the scan found too few keys: {used:?}");
    let mut missing = Vec::new();
    for lang in ["en", "fr"] {
        let catalog = catalog(lang);
        for (key, place) in &used {
            if !catalog.contains_key(key) {
                missing.push(format!("{lang}: {key} (used in {place})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing from the catalogs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_catalogs_hold_the_same_keys_all_used_none_empty() {
    let (en, fr) = (catalog("en"), catalog("fr"));
    let en_keys: BTreeSet<_> = en.keys().collect();
    let fr_keys: BTreeSet<_> = fr.keys().collect();
    assert_eq!(en_keys, fr_keys, "en and fr differ");
    let used: BTreeSet<String> = used_keys().into_iter().map(|(k, _)| k).collect();
    for (key, value) in en.iter().chain(fr.iter()) {
        assert!(
            value.as_str().is_some_and(|v| !v.trim().is_empty()),
            "{key} is empty or not a string"
        );
        assert!(used.contains(key), "{key} is in the catalogs but unused");
    }
}

#[test]
fn the_scan_sees_calls_and_keys() {
    let found = literals(r#"t("a.b"); split("x"); x = "c.d"; s = 'e'; // t("no")"#);
    assert_eq!(
        found,
        vec![
            ("a.b".to_string(), true),
            ("x".to_string(), false),
            ("c.d".to_string(), false),
            ("e".to_string(), false),
        ]
    );
    assert!(looks_like_key("kill.done_one"));
    assert!(!looks_like_key("./i18n.js") && !looks_like_key("nfctd-lang") && !looks_like_key("x"));
}

#[test]
fn the_markup_has_no_inline_script_or_style() {
    let html = asset_text("index.html").unwrap_or_default();
    let lower = html.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap_or(0)];
        assert!(tag.contains(" src="), "inline script: {tag}");
    }
    assert!(!lower.contains("<style"), "inline <style>");
    assert!(!lower.contains(" style="), "style attribute");
    assert!(
        !lower.contains(" onclick=")
            && !lower.contains(" onload=")
            && !lower.contains(" onsubmit="),
        "inline event handler"
    );
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "an outside URL"
    );
}

#[test]
fn every_script_the_page_imports_is_served() {
    for path in asset_paths().filter(|p| p.ends_with(".js")) {
        let js = asset_text(path).unwrap_or_default();
        for (literal, _) in literals(js) {
            if let Some(module) = literal.strip_prefix("./") {
                assert!(
                    asset_text(module).is_some(),
                    "{path} imports {module}, not embedded"
                );
            }
        }
    }
}
