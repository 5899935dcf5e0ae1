//! `$HOME` in a pre-authenticated session, as UW's c-client honours it: the
//! subscription list `~/.mailboxlist` and a relative mail directory are under
//! `$HOME` when it names an existing directory; `--home` wins over it; a
//! `$HOME` that is not a directory is ignored with a log line and the
//! password database's home is used. (Logins never look at `$HOME`: the
//! inetd path takes the home from the authenticated user's entry, see
//! `login_ignores_home_from_the_environment` below.)

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{in_ci, server_bin};

/// What one session printed: the IMAP output and the `--log stderr` lines.
struct Run {
    out: String,
    log: String,
}

/// Runs one session of `input` lines (LF becomes CRLF) with `args` and
/// `HOME=home` (`None`: unset), and no `--home` unless `args` has it.
fn session(args: &[&str], home: Option<&Path>, input: &str) -> Run {
    let mut command = Command::new(server_bin());
    command
        .args(args)
        .args(["--log", "stderr"])
        .env_remove("HOME")
        .env_remove("MAIL")
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(home) = home {
        command.env("HOME", home);
    }
    let mut child = command.spawn().expect("starting the server");
    let wire = input.replace('\n', "\r\n");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(wire.as_bytes())
        .expect("writing the commands");
    let output = child.wait_with_output().expect("waiting for the server");
    assert!(output.status.success(), "exit status {:?}", output.status);
    Run {
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        log: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn inbox_in(dir: &Path) -> String {
    let inbox = dir.join("inbox");
    std::fs::write(
        &inbox,
        "From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\n",
    )
    .unwrap();
    inbox.display().to_string()
}

#[test]
fn home_from_the_environment_holds_subscriptions_and_the_relative_mail_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join("mail")).unwrap();
    std::fs::write(home.join("mail").join("Existing"), "").unwrap();
    let inbox = inbox_in(tmp.path());
    // First a session that writes nothing: should $HOME not be honoured, the
    // test stops here rather than write into the real home.
    let run = session(&["--preauth", "--inbox", &inbox], Some(&home), "a LOGOUT\n");
    let from_env = format!("event=home home={} from=env", home.display());
    assert!(run.log.contains(&from_env), "{}", run.log);
    // No --mail-dir: the default `mail` is relative, so under $HOME.
    let run = session(
        &["--preauth", "--inbox", &inbox],
        Some(&home),
        "a CREATE Projects\nb SUBSCRIBE Projects\nc SUBSCRIBE Existing\n\
         d LSUB \"\" *\ne LIST \"\" *\nf LOGOUT\n",
    );
    for tagged in ["a OK", "b OK", "c OK", "f OK"] {
        assert!(run.out.contains(tagged), "{tagged}: {}", run.out);
    }
    assert_eq!(
        std::fs::read_to_string(home.join(".mailboxlist")).unwrap(),
        "Projects\nExisting\n"
    );
    assert!(home.join("mail").join("Projects").is_file());
    assert!(
        run.out.contains("* LSUB () \"/\" Projects\r\n"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("* LSUB () \"/\" Existing\r\n"),
        "{}",
        run.out
    );
    assert!(run.out.contains(" \"/\" Existing\r\n"), "{}", run.out);
    assert!(run.log.contains(&from_env), "{}", run.log);
    assert!(!run.log.contains("event=home-ignored"), "{}", run.log);
}

#[test]
fn the_home_flag_wins_over_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let (env_home, flag_home) = (tmp.path().join("env"), tmp.path().join("flag"));
    for dir in [&env_home, &flag_home] {
        std::fs::create_dir_all(dir.join("mail")).unwrap();
    }
    let inbox = inbox_in(tmp.path());
    let flag = flag_home.display().to_string();
    let run = session(
        &["--preauth", "--inbox", &inbox, "--home", &flag],
        Some(&env_home),
        "a SUBSCRIBE INBOX\nb CREATE Here\nc LOGOUT\n",
    );
    assert!(
        run.out.contains("a OK") && run.out.contains("b OK"),
        "{}",
        run.out
    );
    assert_eq!(
        std::fs::read_to_string(flag_home.join(".mailboxlist")).unwrap(),
        "INBOX\n"
    );
    assert!(flag_home.join("mail").join("Here").is_file());
    assert!(!env_home.join(".mailboxlist").exists());
    assert!(!env_home.join("mail").join("Here").exists());
    assert!(run.log.contains("from=flag"), "{}", run.log);
}

#[test]
fn a_home_that_is_not_a_directory_is_ignored_with_a_log_line() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("plain-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let mail = tmp.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    let inbox = inbox_in(tmp.path());
    let passwd_home = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.dir)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| "/".into());
    // An absolute --mail-dir and no command that touches the home: the
    // real home of whoever runs the tests is only named, never written.
    let mail_arg = mail.display().to_string();
    for bad in [not_a_dir.clone(), tmp.path().join("missing")] {
        let run = session(
            &["--preauth", "--inbox", &inbox, "--mail-dir", &mail_arg],
            Some(&bad),
            "a SELECT INBOX\nb LOGOUT\n",
        );
        assert!(run.out.contains("a OK"), "{}", run.out);
        let ignored = format!(
            "event=home-ignored home={:?} reason=\"not an existing directory\" using={}",
            bad,
            passwd_home.display()
        );
        assert!(run.log.contains(&ignored), "{ignored}\n{}", run.log);
        let from_passwd = format!("event=home home={} from=passwd", passwd_home.display());
        assert!(run.log.contains(&from_passwd), "{}", run.log);
        assert!(!bad.join(".mailboxlist").exists());
    }
    // Unset: the passwd home, and nothing to complain about.
    let run = session(
        &["--preauth", "--inbox", &inbox, "--mail-dir", &mail_arg],
        None,
        "a LOGOUT\n",
    );
    assert!(!run.log.contains("event=home-ignored"), "{}", run.log);
    assert!(run.log.contains("from=passwd"), "{}", run.log);
}

/// `openssl passwd -6 -salt homesalt1234 home-test-pw`.
const VUSER_HASH: &str = "$6$homesalt1234$p8q9VydJWaxahpNv8p8o4qQfQASBnn1RUff.0C/OT7eUQCcDoPFfrLKdWRhzfMY/VnXB1NYDMI6/A0CTjJohX1";

/// Started as root (as inetd starts it) without `--preauth`, a login serves
/// the user's home from the passwd-file entry, whatever `$HOME` the server
/// process inherited: it is root's environment, not the user's. Needs root
/// (as CI runs); otherwise the server would pre-authenticate, so it says so
/// and passes.
#[test]
fn login_ignores_home_from_the_environment() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::getuid().is_root() {
        assert!(!in_ci(), "CI must run this test as root");
        eprintln!("login_ignores_home_from_the_environment: not root, skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::set_permissions(t, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = nix::unistd::Uid::from_raw(65534);
    let nogroup = nix::unistd::Gid::from_raw(65534);
    let (user_home, env_home, spool) = (t.join("userhome"), t.join("envhome"), t.join("spool"));
    for dir in [&user_home, &env_home] {
        std::fs::create_dir_all(dir.join("mail")).unwrap();
        for owned in [dir.clone(), dir.join("mail")] {
            nix::unistd::chown(&owned, Some(nobody), Some(nogroup)).unwrap();
        }
    }
    std::fs::create_dir(&spool).unwrap();
    let inbox = spool.join("vuser");
    std::fs::write(&inbox, "").unwrap();
    nix::unistd::chown(&inbox, Some(nobody), Some(nogroup)).unwrap();
    std::fs::write(
        t.join("users"),
        format!(
            "vuser:{{SHA512-CRYPT}}{VUSER_HASH}:65534:65534::{}::\n",
            user_home.display()
        ),
    )
    .unwrap();
    let config = t.join("mbox-imapd.conf");
    std::fs::write(
        &config,
        format!(
            "auth = passwd-file\npasswd_file = {}/users\nallow_plaintext = yes\nspool_dir = {}\n",
            t.display(),
            spool.display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let run = session(
        &["--config", &config_arg],
        Some(&env_home),
        "a LOGIN vuser home-test-pw\nb SUBSCRIBE INBOX\nc CREATE Made\nd LOGOUT\n",
    );
    assert!(
        run.out.starts_with("* OK "),
        "a login greeting: {}",
        run.out
    );
    for tagged in ["a OK", "b OK", "c OK", "d OK"] {
        assert!(
            run.out.contains(tagged),
            "{tagged}: {}\n{}",
            run.out,
            run.log
        );
    }
    assert_eq!(
        std::fs::read_to_string(user_home.join(".mailboxlist")).unwrap(),
        "INBOX\n"
    );
    assert!(user_home.join("mail").join("Made").is_file());
    assert!(!env_home.join(".mailboxlist").exists());
    assert!(!env_home.join("mail").join("Made").exists());
    assert!(!run.log.contains("event=home"), "{}", run.log);
}
