//! Login before authentication: arbitrary client bytes into a `Session` in
//! the not-authenticated state (LOGIN, AUTHENTICATE PLAIN/LOGIN with and
//! without SASL-IR, continuation lines, `*` cancels, STARTTLS, failure
//! delays), with a fake authenticator; and the SASL decoders themselves
//! (`auth::sasl`, `auth::check_user_name`) on every input line.
//!
//! Input: byte 0 picks the TLS state and plaintext policy, byte 1 the chunk
//! size. A successful login stops the input there (the rest would need a
//! user's files); `abort_login` is run instead, as after a failed setuid.
#![no_main]

use std::net::IpAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mbox_imapd::auth::sasl::{Exchange, Mechanism, Step, decode_response, plain};
use mbox_imapd::auth::{AuthError, Authenticator, Groups, UserInfo, check_user_name};
use mbox_imapd::command::Context;
use mbox_imapd::config::PlaintextPolicy;
use mbox_imapd::net::Peer;
use mbox_imapd::response::ResponseWriter;
use mbox_imapd::session::{Flow, LoginSetup, Options, Session, Tls};

/// Accepts alice/secret only.
struct Fake;

impl Authenticator for Fake {
    fn check(&self, user: &str, password: &[u8], _: Option<IpAddr>) -> Result<UserInfo, AuthError> {
        if (user, password) != ("alice", b"secret".as_slice()) {
            return Err(AuthError::Rejected("wrong password".into()));
        }
        Ok(UserInfo {
            name: user.to_owned(),
            uid: 1000,
            gid: 1000,
            home: "/nonexistent/fuzz/home".into(),
            groups: Groups::FromGroupDatabase,
        })
    }

    fn name(&self) -> &'static str {
        "fake"
    }
}

fn context() -> Context {
    Context {
        user: String::new(),
        host: "fuzzhost".into(),
        inbox: "/nonexistent/fuzz/inbox".into(),
        mail_dir: "/nonexistent/fuzz/mail".into(),
        home: "/nonexistent/fuzz/home".into(),
        locking: Default::default(),
        special_use: Default::default(),
    }
}

/// The pure decoders on one client line.
fn decoders(line: &[u8]) {
    let _ = check_user_name(line);
    let _ = plain(line);
    if let Ok(decoded) = decode_response(line) {
        let _ = plain(&decoded);
    }
    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        let (mut exchange, step) = Exchange::start(mechanism, Some(line.to_vec()));
        if let Ok(Step::Challenge(_)) = step {
            let _ = exchange.respond(line.to_vec());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, input @ ..] = data else {
        return;
    };
    for line in input.split(|&b| b == b'\n') {
        decoders(line.strip_suffix(b"\r").unwrap_or(line));
    }
    let tls = match selector % 3 {
        0 => Tls::Unavailable,
        1 => Tls::Offered,
        _ => Tls::Active,
    };
    let plaintext = match (selector / 3) % 3 {
        0 => PlaintextPolicy::Never,
        1 => PlaintextPolicy::Loopback,
        _ => PlaintextPolicy::Always,
    };
    let setup = LoginSetup {
        authenticator: Box::new(Fake),
        peer: Peer::new(Some(IpAddr::from([127, 0, 0, 1])), &[]),
        plaintext,
        tls,
        failure_delay: Duration::ZERO,
    };
    let mut session = Session::for_login(context(), setup, Options::default());
    let mut out = ResponseWriter::new(Vec::new());
    session.greeting(&mut out).expect("greeting into a Vec");
    'input: for piece in input.chunks(usize::from(*chunk) + 1) {
        let mut flow = session.receive(piece, &mut out).expect("output into a Vec");
        loop {
            flow = match flow {
                Flow::Continue => break,
                Flow::Close => break 'input,
                Flow::Delay(_) => session.resume(&mut out).expect("output into a Vec"),
                Flow::Login => {
                    assert!(session.authenticated_user().is_some());
                    session.abort_login(&mut out).expect("output into a Vec");
                    break 'input;
                }
                Flow::StartTls => {
                    session.tls_started();
                    break;
                }
                Flow::Compress => {
                    let _ = session.take_unframed_input();
                    break;
                }
            }
        }
    }
    session.end_of_input();
});
