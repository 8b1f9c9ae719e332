//! `#[derive(SpotifyCredentials)]`: every compile error, against its `.stderr` snapshot in
//! `tests/ui/derive/`, and the `pass-*` cases that must compile and run.

use std::path::PathBuf;

#[test]
fn derive_ui() {
    let cases = trybuild::TestCases::new();
    for path in ui_files() {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if name.starts_with("pass-") {
            cases.pass(&path);
        } else {
            cases.compile_fail(&path);
        }
    }
}

/// The `.rs` files of `tests/ui/derive/`, sorted so the report reads the same every run.
fn ui_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui/derive");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/ui/derive exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no ui cases in tests/ui/derive");
    paths
}
