//! Dovecot's imaptest compliance scripts against the server, run the way
//! inetd runs it: a loopback listener here accepts each connection and
//! starts one `mbox-imapd --preauth` process on it (the socket as stdin and
//! stdout). Every script in `<shared>/imaptest/tests` runs on a fresh
//! mailstore; the test fails on any FAIL or ERROR, and on a SKIP that our
//! capabilities do not explain (a script is skipped only when it needs a
//! capability we do not advertise).
//!
//! Needs the prebuilt imaptest (`$MBOX_IMAPD_SHARED_DIR/imaptest`, else
//! `../shared/imaptest` beside the clone) and libdovecot from Debian's
//! `dovecot-core`: missing, they are a failure under CI (`CI=true`) and a
//! printed notice otherwise. `MBOX_IMAPD_IMAPTEST=name,name` runs only those
//! scripts. The table of results is printed (`cargo test --test imaptest --
//! --nocapture`) and written to `target/imaptest-results.txt`.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One script may take this long before it counts as an ERROR.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The shared imaptest folder, if present.
fn imaptest_dir() -> Option<PathBuf> {
    common::shared_path("imaptest", |p| p.join("imaptest").is_file())
}

/// A mailstore for one script: an empty INBOX, a mail directory, a home.
struct Store {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Store {
    fn new() -> Store {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().to_path_buf();
        std::fs::create_dir_all(root.join("home/mail")).expect("mail dir");
        std::fs::write(root.join("home/inbox"), b"").expect("inbox");
        Store { _tmp: tmp, root }
    }

    fn server_args(&self) -> Vec<String> {
        let home = self.root.join("home");
        vec![
            "--preauth".into(),
            "--inbox".into(),
            home.join("inbox").display().to_string(),
            "--mail-dir".into(),
            home.join("mail").display().to_string(),
            "--home".into(),
            home.display().to_string(),
            "--log".into(),
            "stderr".into(),
        ]
    }
}

/// The inetd model on a loopback port: one server process per connection,
/// started with `args`, its stderr appended to `log`.
struct Inetd {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Inetd {
    fn start(args: Vec<String>, log: PathBuf) -> Inetd {
        let listener = TcpListener::bind("127.0.0.1:0").expect("loopback listener");
        let port = listener.local_addr().expect("port").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut children = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => children.push(spawn_server(stream, &args, &log)),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
                children.retain_mut(|c: &mut std::process::Child| matches!(c.try_wait(), Ok(None)));
            }
            for mut child in children {
                let _ = child.kill();
                let _ = child.wait();
            }
        });
        Inetd {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Inetd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spawn_server(stream: TcpStream, args: &[String], log: &Path) -> std::process::Child {
    stream.set_nonblocking(false).expect("blocking socket");
    let input = stream.try_clone().expect("socket clone");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("server log");
    Command::new(env!("CARGO_BIN_EXE_mbox-imapd"))
        .args(args)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(input)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(stream)))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("starting mbox-imapd")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Skip,
    Error,
}

/// What imaptest said of one script.
struct Run {
    name: String,
    outcome: Outcome,
    output: String,
}

fn run_script(imaptest: &Path, script: &Path) -> Run {
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let store = Store::new();
    let log = store.root.join("server.log");
    let inetd = Inetd::start(store.server_args(), log.clone());
    let mut child = Command::new(imaptest)
        .arg("host=127.0.0.1")
        .arg(format!("port={}", inetd.port))
        .arg("user=tester")
        .arg("pass=unused")
        .arg(format!("test={}", script.display()))
        .current_dir(&store.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting imaptest");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for imaptest") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(inetd);
    let mut output = out_thread.join().unwrap_or_default();
    output.push_str(&err_thread.join().unwrap_or_default());
    let outcome = match status {
        None => {
            output.push_str("\n(timed out)");
            Outcome::Error
        }
        Some(s) => classify(&output, s.success()),
    };
    if outcome != Outcome::Pass && outcome != Outcome::Skip {
        let server_log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = server_log.lines().rev().take(40).collect();
        output.push_str("\n--- server log (last lines) ---\n");
        for line in tail.into_iter().rev() {
            output.push_str(line);
            output.push('\n');
        }
    }
    Run {
        name,
        outcome,
        output,
    }
}

/// Reads imaptest's summary: `1 test groups: F failed, …`, then `base
/// protocol: f/n individual commands failed` and `extensions: f/n …`. A
/// script whose required capabilities are missing runs no command at all
/// (imaptest still counts it "0 skipped"): that is a SKIP.
fn classify(output: &str, exited_ok: bool) -> Outcome {
    let numbers = |prefix: &str| -> Option<Vec<u64>> {
        let line = output.lines().find(|l| l.starts_with(prefix))?;
        Some(
            line.split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect(),
        )
    };
    let groups = output
        .lines()
        .find(|l| l.contains("test groups:"))
        .map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse::<u64>().ok())
                .collect::<Vec<_>>()
        });
    let (Some(groups), Some(base), Some(ext)) =
        (groups, numbers("base protocol:"), numbers("extensions:"))
    else {
        return Outcome::Error;
    };
    match (groups.as_slice(), base.as_slice(), ext.as_slice()) {
        ([_, failed, ..], _, _) if *failed > 0 => Outcome::Fail,
        (_, [bf, _], [ef, _]) if bf + ef > 0 => Outcome::Fail,
        (_, [_, 0], [_, 0]) => Outcome::Skip,
        (_, [_, _], [_, _]) if exited_ok => Outcome::Pass,
        _ => Outcome::Error,
    }
}

/// The capabilities a script's header requires (`capabilities: A B`).
fn required_capabilities(script: &Path) -> Vec<String> {
    // Scripts may carry binary literals: only the header needs to be text.
    let bytes = std::fs::read(script).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.strip_prefix("capabilities:"))
        .flat_map(|caps| caps.split_whitespace().map(str::to_ascii_uppercase))
        .collect()
}

/// What the server advertises after PREAUTH (the capability list imaptest sees).
fn advertised(store: &Store) -> BTreeSet<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mbox-imapd"))
        .args(store.server_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mbox-imapd");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a CAPABILITY\r\nb LOGOUT\r\n")
        .expect("writing");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("reading");
    let _ = child.wait();
    out.lines()
        .find_map(|l| l.strip_prefix("* CAPABILITY "))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect()
}

#[test]
fn imaptest_scripts() {
    let Some(dir) = imaptest_dir() else {
        assert!(
            !common::in_ci(),
            "shared/imaptest is required under CI (CI=true)"
        );
        eprintln!("notice: shared/imaptest not found; skipping the imaptest scripts");
        return;
    };
    let imaptest = dir.join("imaptest");
    // Without libdovecot the binary cannot even print its usage.
    let runs = Command::new(&imaptest)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map(|o| !String::from_utf8_lossy(&o.stderr).contains("error while loading"))
        .unwrap_or(false);
    if !runs {
        assert!(
            !common::in_ci(),
            "imaptest cannot run (libdovecot from dovecot-core is required under CI)"
        );
        eprintln!("notice: imaptest cannot run (install dovecot-core); skipping");
        return;
    }
    let only: Option<BTreeSet<String>> = std::env::var("MBOX_IMAPD_IMAPTEST")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .expect("imaptest/tests")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_none())
        .filter(|p| {
            only.as_ref().is_none_or(|o| {
                p.file_name()
                    .is_some_and(|n| o.contains(n.to_string_lossy().as_ref()))
            })
        })
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no imaptest scripts found");

    let caps = advertised(&Store::new());
    let mut table = String::new();
    let mut problems = Vec::new();
    let mut counts = [0usize; 4];
    for script in &scripts {
        let run = run_script(&imaptest, script);
        let needs = required_capabilities(script);
        let missing: Vec<&String> = needs.iter().filter(|c| !caps.contains(*c)).collect();
        let (label, slot) = match run.outcome {
            Outcome::Pass => ("PASS", 0),
            Outcome::Fail => ("FAIL", 1),
            Outcome::Skip => ("SKIP", 2),
            Outcome::Error => ("ERROR", 3),
        };
        counts[slot] += 1;
        let note = if missing.is_empty() {
            String::new()
        } else {
            format!(
                " (not advertised: {})",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        table.push_str(&format!("{label:5} {}{note}\n", run.name));
        match run.outcome {
            Outcome::Pass => {}
            Outcome::Skip if !missing.is_empty() => {}
            Outcome::Skip => problems.push(format!(
                "{}: skipped although every capability it needs ({}) is advertised\n{}",
                run.name,
                needs.join(" "),
                run.output
            )),
            _ => problems.push(format!("{}: {label}\n{}", run.name, run.output)),
        }
    }
    table.push_str(&format!(
        "total: {} PASS, {} FAIL, {} SKIP, {} ERROR of {} scripts\n",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        scripts.len()
    ));
    println!("{table}");
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/imaptest-results.txt");
    let _ = std::fs::write(results, &table);
    assert!(problems.is_empty(), "{}\n{table}", problems.join("\n\n"));
}

#[test]
fn summary_lines_are_classified() {
    let summary = |failed: u32, base: &str, ext: &str| {
        format!(
            "noise\n1 test groups: {failed} failed, 0 skipped due to missing capabilities\n\
             base protocol: {base} individual commands failed\n\
             extensions: {ext} individual commands failed\n"
        )
    };
    assert_eq!(classify(&summary(0, "0/12", "0/0"), true), Outcome::Pass);
    assert_eq!(classify(&summary(0, "0/0", "0/4"), true), Outcome::Pass);
    assert_eq!(classify(&summary(1, "3/12", "0/0"), true), Outcome::Fail);
    assert_eq!(classify(&summary(0, "0/12", "1/4"), true), Outcome::Fail);
    assert_eq!(classify(&summary(0, "0/0", "0/0"), true), Outcome::Skip);
    assert_eq!(classify(&summary(0, "0/12", "0/0"), false), Outcome::Error);
    assert_eq!(classify("connection refused", false), Outcome::Error);
}
