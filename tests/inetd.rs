//! The real thing: mbox-imapd under xinetd, started as root per connection,
//! with a throwaway system user (PAM) and a passwd-file user, driven by
//! Python's imaplib and raw sockets (tests/python/inetd_client.py).
//!
//! What it needs: root, and the Debian packages xinetd, openssl and passwd
//! (useradd, chpasswd, userdel), python3, and libpam0g (always there). Without
//! them the test prints why and passes, unless `CI=true`, where a missing
//! piece is a failure: CI must install them (see README, "Test").
//!
//! Everything it creates is removed at the end, also when it fails: the user
//! and its group, the PAM service file `/etc/pam.d/mbox-imapd-test-<pid>`
//! (pam_unix with `nodelay`, so only the server's own delay applies), the
//! xinetd process (its config, pidfile and log live in a temp dir), the temp
//! dir. Syslog is a Unix datagram socket in the temp dir that the test reads
//! (the `syslog_socket` key), so the log lines are checked too, facility and
//! all, without touching the machine's syslog.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const MAILBOX: &str = "\
From alice@example.org Mon Jan  1 00:00:00 2024
From: alice@example.org
To: you@example.org
Subject: first test message
Date: Mon, 1 Jan 2024 00:00:00 +0000

first body

From bob@example.org Tue Jan  2 00:00:00 2024
From: bob@example.org
Subject: second
Date: Tue, 2 Jan 2024 00:00:00 +0000

second body

";

/// syslog PRI values: facility × 8 + severity (RFC 5424 §6.2.1).
const MAIL_INFO: &str = "<22>";
const AUTHPRIV_INFO: &str = "<86>";
const AUTHPRIV_WARNING: &str = "<84>";
const MAIL_WARNING: &str = "<20>";
const MAIL_ERROR: &str = "<19>";

#[test]
fn xinetd_end_to_end() {
    if !prerequisites() {
        return;
    }
    let world = World::new();
    let scenarios = [
        "plain-pam",
        "starttls-pam",
        "imaps-pam",
        "imaps-compress",
        "passwd-file",
        "wrong-passwords",
        "path-user",
        "proxy-trusted",
        "proxy-untrusted",
        "starttls-injection",
        "bad-tls-key",
        "login-timeout",
        "parallel",
    ];
    for scenario in scenarios {
        world.python(scenario);
    }
    let transcript = world.python("transcript");
    let logs = world.settled_logs();
    check_logs(&world, &logs);

    // The closing note's material: one session and its syslog lines.
    let pid = logs
        .iter()
        .rev()
        .find(|l| l.contains(&format!("event=session-end user={} ", world.sys_user)))
        .and_then(|l| l.split("mbox-imapd[").nth(1))
        .and_then(|l| l.split(']').next())
        .map(str::to_owned)
        .unwrap_or_default();
    println!(
        "--- transcript (port {}) ---\n{transcript}",
        world.ports.plain
    );
    println!("--- its syslog lines ---");
    for line in logs
        .iter()
        .filter(|l| l.contains(&format!("mbox-imapd[{pid}]")))
    {
        println!("{line}");
    }
}

fn check_logs(world: &World, logs: &[String]) {
    let has = |prefix: &str, parts: &[&str]| {
        logs.iter()
            .any(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
    };
    let sys = format!("user={}", world.sys_user);
    let sys_uid = format!("uid={}", world.sys_uid);
    let v = format!("user={}", world.v_user);
    let v_uid = format!("uid={}", world.v_uid);
    let expectations: Vec<(&str, Vec<&str>)> = vec![
        (MAIL_INFO, vec!["event=connect peer=127.0.0.1 tls=no"]),
        (MAIL_INFO, vec!["event=connect peer=127.0.0.1 tls=implicit"]),
        (
            AUTHPRIV_INFO,
            vec![
                "event=login",
                &sys,
                &sys_uid,
                "mechanism=LOGIN",
                "tls=no",
                "peer=127.0.0.1",
            ],
        ),
        (
            AUTHPRIV_INFO,
            vec!["event=login", &sys, "mechanism=PLAIN", "tls=yes"],
        ),
        (
            AUTHPRIV_INFO,
            vec!["event=login", &v, &v_uid, "mechanism=LOGIN"],
        ),
        (MAIL_INFO, vec!["event=serving", &sys, &sys_uid]),
        (MAIL_INFO, vec!["event=serving", &v, &v_uid]),
        (MAIL_INFO, vec!["event=tls peer=127.0.0.1 version=TLSv1_3"]),
        (
            MAIL_INFO,
            vec!["event=starttls peer=127.0.0.1 version=TLSv1_3"],
        ),
        (
            AUTHPRIV_WARNING,
            vec![
                "event=login-failed",
                &sys,
                "peer=127.0.0.1",
                "attempt=1",
                "reason=\"Authentication failure",
            ],
        ),
        (AUTHPRIV_WARNING, vec!["event=login-failed", "attempt=3"]),
        (
            AUTHPRIV_WARNING,
            vec!["event=login-failed user=\"../root\"", "attempt=1"],
        ),
        (
            MAIL_INFO,
            vec!["event=proxy-header peer=192.0.2.41 proxy=127.0.0.1"],
        ),
        (
            MAIL_INFO,
            vec!["event=proxy-header peer=192.0.2.42 proxy=127.0.0.1"],
        ),
        (
            MAIL_INFO,
            vec!["event=client-address peer=192.0.2.99 proxy=127.0.0.1"],
        ),
        (
            AUTHPRIV_INFO,
            vec!["event=login", &sys, "peer=192.0.2.41 proxy=127.0.0.1"],
        ),
        (
            AUTHPRIV_INFO,
            vec!["event=login", &sys, "peer=192.0.2.99 proxy=127.0.0.1"],
        ),
        (
            AUTHPRIV_INFO,
            vec!["event=login", &sys, "tls=yes", "peer=127.0.0.2"],
        ),
        (MAIL_WARNING, vec!["event=starttls-injection discarded="]),
        (MAIL_INFO, vec!["event=compress algorithm=DEFLATE"]),
        (
            MAIL_INFO,
            vec!["event=session-end", &sys, "end=closed", "compressed_out="],
        ),
        (
            MAIL_INFO,
            vec![
                "event=session-end",
                &sys,
                "end=closed",
                "fetched=2",
                "peak_rss_kb=",
            ],
        ),
        (
            MAIL_ERROR,
            vec!["event=not-starting", "TLS key", "missing-key.pem"],
        ),
        (MAIL_INFO, vec!["event=session-end user=- end=autologout"]),
    ];
    let mut missing = Vec::new();
    for (prefix, parts) in &expectations {
        if !has(prefix, parts) {
            missing.push(format!("{prefix} {}", parts.join(" … ")));
        }
    }
    // No password, and never the PROXY-claimed address of an untrusted client.
    for line in logs {
        assert!(
            !line.contains(&world.sys_pass),
            "password in the log: {line}"
        );
        assert!(!line.contains(&world.v_pass), "password in the log: {line}");
        assert!(
            !line.contains("192.0.2.66") && !line.contains("192.0.2.67"),
            "untrusted PROXY header believed: {line}"
        );
    }
    assert!(
        missing.is_empty(),
        "log lines missing:\n{}\n--- all {} lines ---\n{}",
        missing.join("\n"),
        logs.len(),
        logs.join("\n")
    );
}

/// Root, and the tools; `false` (after a notice) when the test cannot run here.
fn prerequisites() -> bool {
    let mut missing: Vec<String> = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root".into());
    }
    for tool in [
        "xinetd", "useradd", "userdel", "chpasswd", "openssl", "python3",
    ] {
        if which(tool).is_none() {
            missing.push(tool.into());
        }
    }
    if !Path::new("/etc/pam.d").is_dir() {
        missing.push("/etc/pam.d".into());
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "tests/inetd.rs needs {} (Debian packages: xinetd openssl passwd python3; run as root)",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}

struct Ports {
    plain: u16,
    imaps: u16,
    vfile: u16,
    proxy: u16,
    /// TLS key missing: every connection gets BYE.
    badkey: u16,
    /// login_timeout = 1s: autologout before login.
    short: u16,
}

/// Everything the test set up; `Drop` takes it all down again.
struct World {
    dir: tempfile::TempDir,
    ports: Ports,
    sys_user: String,
    sys_pass: String,
    sys_uid: u32,
    v_user: String,
    v_pass: String,
    v_uid: u32,
    pam_file: PathBuf,
    xinetd: Option<Child>,
    logs: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    user_created: bool,
}

impl World {
    fn new() -> World {
        let id = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix("mbox-imapd-inetd-")
            .tempdir()
            .unwrap();
        // The served users must reach their spool and home inside it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let mut world = World {
            ports: Ports {
                plain: free_port(),
                imaps: free_port(),
                vfile: free_port(),
                proxy: free_port(),
                badkey: free_port(),
                short: free_port(),
            },
            sys_user: format!("mbxt{}", id % 1_000_000),
            sys_pass: format!("Sys-pw-{id}-x7"),
            sys_uid: 0,
            v_user: format!("virt{}", id % 1_000_000),
            v_pass: format!("Virt-pw-{id}-q2"),
            v_uid: 61_000 + id % 4_000,
            pam_file: PathBuf::from(format!("/etc/pam.d/mbox-imapd-test-{id}")),
            xinetd: None,
            logs: Arc::default(),
            stop: Arc::default(),
            user_created: false,
            dir,
        };
        world.start_syslog();
        world.create_users();
        world.write_files();
        world.start_xinetd();
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start_syslog(&mut self) {
        let socket = UnixDatagram::bind(self.path("log.sock")).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (logs, stop) = (Arc::clone(&self.logs), Arc::clone(&self.stop));
        thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let line = String::from_utf8_lossy(&buf[..n]).trim_end().to_owned();
                    logs.lock().unwrap().push(line);
                }
            }
        });
    }

    fn create_users(&mut self) {
        let home = self.path("home");
        fs::create_dir(&home).unwrap();
        run(Command::new(which("useradd").unwrap()).args([
            "--no-create-home",
            "--home-dir",
            home.to_str().unwrap(),
            "--shell",
            "/usr/sbin/nologin",
            "--user-group",
            &self.sys_user,
        ]));
        self.user_created = true;
        let mut chpasswd = Command::new(which("chpasswd").unwrap())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(
            chpasswd.stdin.take().unwrap(),
            "{}:{}",
            self.sys_user,
            self.sys_pass
        )
        .unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd failed");
        let user = nix::unistd::User::from_name(&self.sys_user)
            .unwrap()
            .unwrap();
        self.sys_uid = user.uid.as_raw();
        chown(&home, Some(self.sys_uid), Some(user.gid.as_raw())).unwrap();
        let vhome = self.path("vhome");
        fs::create_dir(&vhome).unwrap();
        chown(&vhome, Some(self.v_uid), Some(self.v_uid)).unwrap();
    }

    fn write_files(&self) {
        let spool = self.path("spool");
        fs::create_dir(&spool).unwrap();
        fs::set_permissions(&spool, fs::Permissions::from_mode(0o1777)).unwrap();
        for (user, uid) in [(&self.sys_user, self.sys_uid), (&self.v_user, self.v_uid)] {
            let inbox = spool.join(user);
            fs::write(&inbox, MAILBOX).unwrap();
            chown(&inbox, Some(uid), None).unwrap();
            fs::set_permissions(&inbox, fs::Permissions::from_mode(0o600)).unwrap();
        }
        fs::write(
            &self.pam_file,
            "# mbox-imapd tests/inetd.rs; removed when the test ends\n\
             auth    required pam_unix.so nodelay\n\
             account required pam_unix.so\n",
        )
        .unwrap();
        let hash = output(Command::new("openssl").args(["passwd", "-6", &self.v_pass]));
        fs::write(
            self.path("users"),
            format!(
                "# virtual users\n{}:{{SHA512-CRYPT}}{}:{}:{}::{}::\n",
                self.v_user,
                hash.trim(),
                self.v_uid,
                self.v_uid,
                self.path("vhome").display()
            ),
        )
        .unwrap();
        run(Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            self.path("key.pem").to_str().unwrap(),
            "-out",
            self.path("cert.pem").to_str().unwrap(),
        ]));
        let d = self.dir.path().display();
        let pam_service = self.pam_file.file_name().unwrap().to_str().unwrap();
        let common = format!(
            "# written by tests/inetd.rs\n\
             spool_dir = {d}/spool\n\
             syslog_socket = {d}/log.sock\n\
             login_timeout = 30s\n\
             auth_failure_delay = 100ms\n\
             tls_cert = {d}/cert.pem\n\
             tls_key = {d}/key.pem\n"
        );
        let configs = [
            (
                "plain.conf",
                format!("pam_service = {pam_service}\nallow_plaintext = loopback\n"),
            ),
            (
                "vfile.conf",
                format!(
                    "auth = passwd-file\npasswd_file = {d}/users\nallow_plaintext = loopback\n"
                ),
            ),
            (
                "proxy.conf",
                format!(
                    "pam_service = {pam_service}\nallow_plaintext = no\n\
                     trusted_proxies = 127.0.0.1\nproxy_protocol = required\n"
                ),
            ),
            (
                "short.conf",
                format!("pam_service = {pam_service}\nlogin_timeout = 1s\n"),
            ),
        ];
        for (name, specific) in configs {
            fs::write(self.path(name), format!("{common}{specific}")).unwrap();
        }
        let badkey = common.replace("key.pem", "missing-key.pem");
        fs::write(self.path("badkey.conf"), badkey).unwrap();
        let bin = env!("CARGO_BIN_EXE_mbox-imapd");
        let service = |name: &str, port: u16, args: &str| {
            format!(
                "service mbox-imapd-test-{name}\n{{\n\
                 \ttype = UNLISTED\n\tid = mbox-imapd-test-{name}\n\
                 \tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\
                 \tbind = 127.0.0.1\n\tport = {port}\n\
                 \tserver = {bin}\n\tserver_args = {args}\n}}\n"
            )
        };
        let xinetd_conf = format!(
            "defaults\n{{\n\tlog_type = FILE {d}/xinetd.log\n\
             \tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST\n\
             \tinstances = UNLIMITED\n\tper_source = UNLIMITED\n\tcps = 1000 1\n}}\n{}{}{}{}{}{}",
            service(
                "plain",
                self.ports.plain,
                &format!("--config {d}/plain.conf")
            ),
            service(
                "imaps",
                self.ports.imaps,
                &format!("--tls --config {d}/plain.conf")
            ),
            service(
                "vfile",
                self.ports.vfile,
                &format!("--config {d}/vfile.conf")
            ),
            service(
                "proxy",
                self.ports.proxy,
                &format!("--config {d}/proxy.conf")
            ),
            service(
                "badkey",
                self.ports.badkey,
                &format!("--config {d}/badkey.conf")
            ),
            service(
                "short",
                self.ports.short,
                &format!("--config {d}/short.conf")
            ),
        );
        fs::write(self.path("xinetd.conf"), xinetd_conf).unwrap();
    }

    fn start_xinetd(&mut self) {
        let child = Command::new(which("xinetd").unwrap())
            .arg("-dontfork")
            .arg("-pidfile")
            .arg(self.path("xinetd.pid"))
            .arg("-f")
            .arg(self.path("xinetd.conf"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(self.path("xinetd.out")).unwrap())
            .stderr(fs::File::create(self.path("xinetd.err")).unwrap())
            .spawn()
            .unwrap();
        self.xinetd = Some(child);
        let p = &self.ports;
        let ports = [p.plain, p.imaps, p.vfile, p.proxy, p.badkey, p.short];
        let deadline = Instant::now() + Duration::from_secs(15);
        while !ports.iter().all(|p| listening(*p)) {
            assert!(
                Instant::now() < deadline,
                "xinetd did not listen; stderr: {}",
                fs::read_to_string(self.path("xinetd.err")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs one client scenario; its output is returned (and shown on failure).
    fn python(&self, scenario: &str) -> String {
        let settings = format!(
            r#"{{"ports": {{"plain": {}, "imaps": {}, "vfile": {}, "proxy": {},
                            "badkey": {}, "short": {}}},
                "sysuser": "{}", "syspass": "{}", "sysuid": {},
                "vuser": "{}", "vpass": "{}", "vuid": {}, "cafile": "{}"}}"#,
            self.ports.plain,
            self.ports.imaps,
            self.ports.vfile,
            self.ports.proxy,
            self.ports.badkey,
            self.ports.short,
            self.sys_user,
            self.sys_pass,
            self.sys_uid,
            self.v_user,
            self.v_pass,
            self.v_uid,
            self.path("cert.pem").display()
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/inetd_client.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(settings)
            .arg(scenario)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "scenario {scenario} failed:\n{stdout}\n{}\n--- syslog ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs.lock().unwrap().join("\n")
        );
        print!("{stdout}");
        stdout
    }

    /// The log lines, once the last sessions have written their summaries.
    fn settled_logs(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = usize::MAX;
        loop {
            thread::sleep(Duration::from_millis(300));
            let n = self.logs.lock().unwrap().len();
            if n == last || Instant::now() > deadline {
                return self.logs.lock().unwrap().clone();
            }
            last = n;
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut child) = self.xinetd.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
        let _ = fs::remove_file(&self.pam_file);
        if self.user_created {
            // Sessions still running as the user (an autologout pending) must
            // end first, or userdel refuses.
            kill_processes_of(self.sys_uid);
            kill_processes_of(self.v_uid);
            let status = Command::new(which("userdel").unwrap())
                .arg(&self.sys_user)
                .status();
            if !status.is_ok_and(|s| s.success()) {
                let _ = Command::new(which("userdel").unwrap())
                    .args(["--force", &self.sys_user])
                    .status();
            }
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// SIGTERM to every process running as `uid` (our own test sessions only: the
/// uid was created for this test, or is the virtual one no account has).
fn kill_processes_of(uid: u32) {
    if uid == 0 {
        return;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let runs_as = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|u| u.parse::<u32>().ok());
        if runs_as == Some(uid) && comm.trim() == "mbox-imapd" {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    thread::sleep(Duration::from_millis(200));
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp, so that
/// checking does not start a server process).
fn listening(port: u16) -> bool {
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A")
    })
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn output(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?} failed");
    String::from_utf8(out.stdout).unwrap()
}
