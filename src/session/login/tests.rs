//! Login sessions driven over byte strings, with a fake authenticator.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::auth::Groups;
use crate::net::IpNet;
use crate::session::Start;

/// Accepts alice/secret (uid 1000) and root/root (uid 0); records who was asked.
struct Fake {
    asked: Rc<RefCell<Vec<String>>>,
    broken: bool,
}

impl Authenticator for Fake {
    fn check(&self, user: &str, password: &[u8], _: Option<IpAddr>) -> Result<UserInfo, AuthError> {
        self.asked.borrow_mut().push(user.to_owned());
        if self.broken {
            return Err(AuthError::Unavailable("backend down".into()));
        }
        let uid = match (user, password) {
            ("alice", b"secret") => 1000,
            ("root", b"root") => 0,
            _ => return Err(AuthError::Rejected("wrong password".into())),
        };
        Ok(UserInfo {
            name: user.to_owned(),
            uid,
            gid: uid,
            home: "/home/alice".into(),
            groups: Groups::FromGroupDatabase,
        })
    }

    fn name(&self) -> &'static str {
        "fake"
    }
}

struct Options {
    peer: &'static str,
    trusted: &'static [&'static str],
    plaintext: PlaintextPolicy,
    tls: Tls,
    delay: Duration,
    broken: bool,
}

const LOOPBACK: Options = Options {
    peer: "127.0.0.1",
    trusted: &[],
    plaintext: PlaintextPolicy::Loopback,
    tls: Tls::Offered,
    delay: Duration::ZERO,
    broken: false,
};

fn context(user: &str) -> Context {
    Context {
        home: "/nonexistent/mbox-imapd-test/home".into(),
        user: user.into(),
        host: "mailhost".into(),
        inbox: "/nonexistent/mbox-imapd-test/inbox".into(),
        mail_dir: "/nonexistent/mbox-imapd-test/mail".into(),
        locking: Default::default(),
        special_use: Default::default(),
    }
}

fn session(o: &Options) -> (Session, Rc<RefCell<Vec<String>>>) {
    let asked = Rc::new(RefCell::new(Vec::new()));
    let trusted: Vec<IpNet> = o.trusted.iter().map(|t| t.parse().unwrap()).collect();
    let setup = LoginSetup {
        authenticator: Box::new(Fake {
            asked: Rc::clone(&asked),
            broken: o.broken,
        }),
        peer: Peer::new(Some(o.peer.parse().unwrap()), &trusted),
        plaintext: o.plaintext,
        tls: o.tls,
        failure_delay: o.delay,
    };
    let options = crate::session::Options {
        max_message_size: 1_000_000,
        ..Default::default()
    };
    (Session::for_login(context(""), setup, options), asked)
}

/// What the caller saw besides the output.
#[derive(Debug, Default, PartialEq)]
struct Events {
    delays: Vec<Duration>,
    logins: Vec<String>,
    handshakes: usize,
    compressions: usize,
    closed: bool,
}

/// Feeds each chunk and acts on every flow as connection.rs does.
fn drive(s: &mut Session, chunks: &[&[u8]]) -> (String, Events) {
    let mut out = ResponseWriter::new(Vec::new());
    let mut ev = Events::default();
    s.greeting(&mut out).unwrap();
    'chunks: for chunk in chunks {
        let mut flow = s.receive(chunk, &mut out).unwrap();
        loop {
            flow = match flow {
                Flow::Continue => break,
                Flow::Close => {
                    ev.closed = true;
                    break 'chunks;
                }
                Flow::Delay(d) => {
                    ev.delays.push(d);
                    s.resume(&mut out).unwrap()
                }
                Flow::Login => {
                    let user = s.authenticated_user().unwrap().name.clone();
                    ev.logins.push(user.clone());
                    s.complete_login(context(&user), &mut out).unwrap()
                }
                Flow::StartTls => {
                    ev.handshakes += 1;
                    s.tls_started();
                    break;
                }
                Flow::Compress => {
                    // connection.rs hands these to the DEFLATE layer.
                    assert!(s.take_unframed_input().is_empty());
                    ev.compressions += 1;
                    break;
                }
            }
        }
    }
    (String::from_utf8(out.into_inner().unwrap()).unwrap(), ev)
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
fn capabilities_follow_policy_and_tls() {
    let (mut s, _) = session(&LOOPBACK);
    let (out, _) = drive(&mut s, &[]);
    assert!(
        out.starts_with(
            "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT=1000000 STARTTLS \
             AUTH=PLAIN AUTH=LOGIN SASL-IR] mailhost"
        ),
        "{out}"
    );
    let remote = Options {
        peer: "192.0.2.1",
        ..LOOPBACK
    };
    let (mut s, _) = session(&remote);
    let (out, ev) = drive(&mut s, &[b"a STARTTLS\r\n", b"b CAPABILITY\r\n"]);
    let l = lines(&out);
    assert!(
        l[0].ends_with("STARTTLS LOGINDISABLED] mailhost mbox-imapd ready"),
        "{out}"
    );
    assert_eq!(l[1], "a OK Begin TLS negotiation now");
    assert_eq!(
        l[2],
        "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT=1000000 AUTH=PLAIN AUTH=LOGIN SASL-IR"
    );
    assert_eq!(ev.handshakes, 1);
    let plain_never = Options {
        tls: Tls::Unavailable,
        plaintext: PlaintextPolicy::Never,
        ..LOOPBACK
    };
    let (mut s, _) = session(&plain_never);
    let (out, _) = drive(&mut s, &[b"a STARTTLS\r\n"]);
    assert!(out.contains("APPENDLIMIT=1000000 LOGINDISABLED]"), "{out}");
    assert!(out.contains("a NO STARTTLS is not available"), "{out}");
}

#[test]
fn login_ok_carries_capabilities_and_pipelined_commands_wait_for_it() {
    let (mut s, asked) = session(&LOOPBACK);
    let (out, ev) = drive(
        &mut s,
        &[b"a LOGIN alice secret\r\nb CAPABILITY\r\nc LOGIN x y\r\n"],
    );
    let l = lines(&out);
    assert_eq!(
        l[1],
        "a OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT=1000000] \
         LOGIN completed"
    );
    assert_eq!(
        l[2],
        "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT=1000000"
    );
    assert_eq!(l[3], "b OK CAPABILITY completed");
    assert_eq!(l[4], "c BAD Already authenticated");
    assert_eq!(ev.logins, vec!["alice"]);
    assert_eq!(*asked.borrow(), vec!["alice"]);
    assert!(s.is_authenticated());
}

#[test]
fn nginx_login_with_synchronizing_literals() {
    let (mut s, _) = session(&LOOPBACK);
    let (out, ev) = drive(
        &mut s,
        &[b"1 LOGIN {5}\r\n", b"alice {6}\r\n", b"secret\r\n"],
    );
    let l = lines(&out);
    assert_eq!(l[1], "+ Ready for literal data");
    assert_eq!(l[2], "+ Ready for literal data");
    assert!(l[3].starts_with("1 OK [CAPABILITY IMAP4rev1 "), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);
}

#[test]
fn plaintext_refused_without_tls_from_remote_peers() {
    let remote = Options {
        peer: "192.0.2.1",
        ..LOOPBACK
    };
    let (mut s, asked) = session(&remote);
    let (out, _) = drive(
        &mut s,
        &[b"a LOGIN alice secret\r\nb AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"],
    );
    let l = lines(&out);
    assert_eq!(
        l[1],
        "a NO [PRIVACYREQUIRED] Plaintext authentication is disallowed without TLS"
    );
    assert!(l[2].starts_with("b NO [PRIVACYREQUIRED]"), "{out}");
    assert!(
        asked.borrow().is_empty(),
        "the password never reached a backend"
    );
    // After STARTTLS the same commands work.
    let (mut s, _) = session(&remote);
    let (out, ev) = drive(&mut s, &[b"a STARTTLS\r\n", b"b LOGIN alice secret\r\n"]);
    assert!(out.contains("b OK [CAPABILITY"), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);
}

#[test]
fn trusted_proxies_may_log_in_in_plaintext_and_name_the_client() {
    let proxied = Options {
        peer: "10.1.2.3",
        trusted: &["10.0.0.0/8"],
        plaintext: PlaintextPolicy::Never,
        ..LOOPBACK
    };
    let (mut s, _) = session(&proxied);
    let (out, ev) = drive(
        &mut s,
        &[b"a ID (\"x-originating-ip\" \"198.51.100.9\")\r\nb LOGIN alice secret\r\n"],
    );
    assert!(out.contains("AUTH=PLAIN"), "{out}");
    assert!(out.contains("b OK [CAPABILITY"), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);
    let peer = s.peer().unwrap();
    assert_eq!(peer.client(), Some("198.51.100.9".parse().unwrap()));
    // An untrusted peer's claim changes nothing.
    let (mut s, _) = session(&LOOPBACK);
    drive(
        &mut s,
        &[b"a ID (\"x-originating-ip\" \"198.51.100.9\")\r\n"],
    );
    assert_eq!(
        s.peer().unwrap().client(),
        Some("127.0.0.1".parse().unwrap())
    );
}

#[test]
fn failures_grow_the_delay_and_the_third_says_bye() {
    let slow = Options {
        delay: Duration::from_millis(100),
        ..LOOPBACK
    };
    let (mut s, _) = session(&slow);
    let (out, ev) = drive(
        &mut s,
        &[
            b"a LOGIN alice wrong\r\n",
            b"b AUTHENTICATE PLAIN AGFsaWNlAHdyb25n\r\n",
            b"c LOGIN alice wrong\r\nd LOGIN alice secret\r\n",
        ],
    );
    let l = lines(&out);
    assert_eq!(l[1], "a NO [AUTHENTICATIONFAILED] Authentication failed");
    assert_eq!(l[2], "b NO [AUTHENTICATIONFAILED] Authentication failed");
    assert_eq!(l[3], "c NO [AUTHENTICATIONFAILED] Authentication failed");
    assert_eq!(l[4], "* BYE Too many failed logins");
    assert_eq!(l.len(), 5, "d is never run: {out}");
    assert_eq!(
        ev.delays,
        vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400)
        ]
    );
    assert!(ev.closed);
    assert!(ev.logins.is_empty());
}

#[test]
fn names_with_paths_and_root_are_refused() {
    let (mut s, asked) = session(&LOOPBACK);
    let (out, ev) = drive(
        &mut s,
        &[b"a LOGIN ../root secret\r\nb LOGIN root root\r\nc LOGIN \"a b\" x\r\n"],
    );
    let l = lines(&out);
    assert!(l[1].starts_with("a NO [AUTHENTICATIONFAILED]"), "{out}");
    assert!(l[2].starts_with("b NO [AUTHENTICATIONFAILED]"), "{out}");
    assert!(l[3].starts_with("c NO [AUTHENTICATIONFAILED]"), "{out}");
    assert_eq!(l[4], "* BYE Too many failed logins");
    // Only the well-formed name reached the backend; uid 0 was refused after it.
    assert_eq!(*asked.borrow(), vec!["root"]);
    assert!(ev.logins.is_empty());
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let (mut s, _) = session(&LOOPBACK);
    let (out, ev) = drive(&mut s, &[b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"]);
    assert!(out.contains("a OK [CAPABILITY"), "{out}");
    assert!(out.contains("AUTHENTICATE completed"), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);

    let (mut s, _) = session(&LOOPBACK);
    let (out, ev) = drive(
        &mut s,
        &[b"a AUTHENTICATE plain\r\n", b"AGFsaWNlAHNlY3JldA==\r\n"],
    );
    let l = lines(&out);
    assert_eq!(l[1], "+ ");
    assert!(l[2].starts_with("a OK [CAPABILITY"), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);
}

#[test]
fn authenticate_login_asks_for_user_and_password() {
    let (mut s, _) = session(&LOOPBACK);
    let (out, ev) = drive(
        &mut s,
        &[
            b"a AUTHENTICATE LOGIN\r\n",
            b"YWxpY2U=\r\n",
            b"c2VjcmV0\r\n",
        ],
    );
    let l = lines(&out);
    assert_eq!(l[1], "+ VXNlcm5hbWU6");
    assert_eq!(l[2], "+ UGFzc3dvcmQ6");
    assert!(l[3].starts_with("a OK [CAPABILITY"), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);
}

#[test]
fn sasl_lines_are_never_commands() {
    let (mut s, asked) = session(&LOOPBACK);
    // The "command" after the continuation is SASL data: invalid base64 → BAD.
    let (out, _) = drive(
        &mut s,
        &[
            b"a AUTHENTICATE PLAIN\r\n",
            b"b LOGOUT\r\n",
            b"c AUTHENTICATE PLAIN\r\n*\r\n",
        ],
    );
    let l = lines(&out);
    assert_eq!(l[1], "+ ");
    assert_eq!(l[2], "a BAD Invalid base64 in authentication response");
    assert_eq!(l[3], "+ ");
    assert_eq!(l[4], "c BAD Authentication cancelled");
    assert!(asked.borrow().is_empty());
    // Cancelled or malformed exchanges are not failed logins.
    let (out, ev) = drive(&mut s, &[b"d LOGIN alice secret\r\n"]);
    assert!(out.contains("d OK [CAPABILITY"), "{out}");
    assert_eq!(ev.logins, vec!["alice"]);
}

#[test]
fn bad_mechanisms_and_initial_responses() {
    let (mut s, _) = session(&LOOPBACK);
    let (out, _) = drive(
        &mut s,
        &[b"a AUTHENTICATE CRAM-MD5\r\nb AUTHENTICATE PLAIN AGJvYgBwdw\r\nc AUTHENTICATE PLAIN cm9vdABhbGljZQBzZWNyZXQ=\r\n"],
    );
    let l = lines(&out);
    assert_eq!(l[1], "a NO Unsupported authentication mechanism");
    assert!(l[2].starts_with("b BAD"), "{out}");
    assert_eq!(
        l[3],
        "c BAD Authorization identity differs from authentication identity"
    );
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let remote = Options {
        peer: "192.0.2.1",
        ..LOOPBACK
    };
    let (mut s, asked) = session(&remote);
    let (out, ev) = drive(
        &mut s,
        &[b"a STARTTLS\r\nb LOGIN alice secret\r\n", b"c STARTTLS\r\n"],
    );
    let l = lines(&out);
    assert_eq!(l[1], "a OK Begin TLS negotiation now");
    assert_eq!(l[2], "c BAD TLS is already active");
    assert_eq!(l.len(), 3, "{out}");
    assert_eq!(ev.handshakes, 1);
    assert!(asked.borrow().is_empty(), "the injected LOGIN never ran");
}

#[test]
fn backend_failures_say_unavailable() {
    let broken = Options {
        broken: true,
        ..LOOPBACK
    };
    let (mut s, _) = session(&broken);
    let (out, _) = drive(&mut s, &[b"a LOGIN alice secret\r\n"]);
    assert!(
        out.contains("a NO [UNAVAILABLE] Authentication is unavailable, try again later"),
        "{out}"
    );
}

#[test]
fn commands_before_login_are_bounded() {
    let (mut s, _) = session(&LOOPBACK);
    let many = "x NOOP\r\n".repeat(MAX_COMMANDS_BEFORE_LOGIN as usize + 5);
    let (out, ev) = drive(&mut s, &[many.as_bytes()]);
    let l = lines(&out);
    assert_eq!(l.len(), 1 + MAX_COMMANDS_BEFORE_LOGIN as usize + 1, "{out}");
    assert_eq!(l.last(), Some(&"* BYE Too many commands before login"));
    assert!(ev.closed);
}

#[test]
fn failed_privilege_drop_says_bye_and_autologout_says_why() {
    let (mut s, _) = session(&LOOPBACK);
    let mut out = ResponseWriter::new(Vec::new());
    assert_eq!(
        s.receive(b"a LOGIN alice secret\r\n", &mut out).unwrap(),
        Flow::Login
    );
    // Input that arrives meanwhile waits.
    assert_eq!(s.receive(b"b NOOP\r\n", &mut out).unwrap(), Flow::Login);
    assert_eq!(s.abort_login(&mut out).unwrap(), Flow::Close);
    let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
    assert_eq!(text, "* BYE [UNAVAILABLE] Cannot serve this user now\r\n");

    let mut s = Session::new(context("alice"), Start::Preauth);
    let mut out = ResponseWriter::new(Vec::new());
    s.autologout(&mut out).unwrap();
    let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
    assert_eq!(text, "* BYE Autologout; idle for too long\r\n");
}

/// RFC 4978: COMPRESS is an authenticated-state command; pipelined behind a
/// LOGIN it waits for the login like any other command.
#[test]
fn compress_only_after_login() {
    let (mut s, _) = session(&LOOPBACK);
    let (out, ev) = drive(
        &mut s,
        &[b"a COMPRESS DEFLATE\r\nb LOGIN alice secret\r\nc COMPRESS DEFLATE\r\n"],
    );
    let l = lines(&out);
    assert_eq!(l[1], "a BAD Command not valid before login");
    assert!(l[2].starts_with("b OK [CAPABILITY "), "{out}");
    assert_eq!(l[3], "c OK DEFLATE active");
    assert_eq!(l.len(), 4, "{out}");
    assert_eq!(ev.compressions, 1);
}
