//! Runs one of the Python scripts under tests/python (imaplib clients, mbox
//! checkers) with a deadline, shared by the integration tests that use them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `tests/python/<script>` with a deadline; fails with its output unless
/// it exits 0.
pub fn run(python: &Path, script: &str, args: &[String], limit: Duration) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python");
    let out_path = std::env::temp_dir().join(format!(
        "mbox-imapd-{script}-{}-{:?}.log",
        std::process::id(),
        std::thread::current().id()
    ));
    let out_file = std::fs::File::create(&out_path).expect("creating the log file");
    let err_file = out_file.try_clone().expect("cloning the log file");
    let mut child = Command::new(python)
        .arg(dir.join(script))
        .args(args)
        .env("TZ", "UTC")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {script}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("waiting for the script") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    eprintln!("{output}");
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("{script} failed ({s}):\n{output}"),
        None => panic!("{script} did not finish within {limit:?}:\n{output}"),
    }
}
