//! The manual pages: clean under `mandoc -Tlint -W warning`, and
//! mbox-imapd.conf(5) documents exactly the keys the parser accepts.
//!
//! Needs mandoc (Debian package mandoc); without it the lint is skipped with a
//! notice, unless `CI=true`.

use std::path::Path;
use std::process::Command;

use mbox_imapd::config::FILE_KEYS;

const PAGES: &[&str] = &["man/mbox-imapd.8", "man/mbox-imapd.conf.5"];

#[test]
fn pages_are_lint_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(out) = Command::new("mandoc")
        .arg("-Tlint")
        .arg("-W")
        .arg("warning")
        .args(PAGES.iter().map(|p| root.join(p)))
        .output()
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must install mandoc"
        );
        eprintln!("SKIPPED: mandoc is not installed (Debian package mandoc)");
        return;
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "mandoc -Tlint:\n{report}"
    );
}

#[test]
fn conf_page_documents_every_key() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGES[1])).unwrap();
    let documented: Vec<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".It Cm "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for key in FILE_KEYS {
        assert!(
            documented.contains(key),
            "{key} is not in mbox-imapd.conf(5)"
        );
    }
    for key in &documented {
        assert!(
            FILE_KEYS.contains(key),
            "mbox-imapd.conf(5) documents {key}, which the parser does not know"
        );
    }
}
