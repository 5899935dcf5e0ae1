//! The RFC 3501 §3 state machine, and the one place that decides which
//! commands are allowed in which state.
//!
//! ```text
//!            +----------------------+
//!            |connection established|
//!            +----------------------+
//!                       ||
//!                       \/
//!     +--------------------------------------+
//!     |          server greeting             |
//!     +--------------------------------------+
//!               || (1)       || (2)        || (3)
//!               \/           ||            ||
//!     +-----------------+    ||            ||
//!     |Not Authenticated|    ||            ||
//!     +-----------------+    ||            ||
//!      || (7)   || (4)       ||            ||
//!      ||       \/           \/            ||
//!      ||     +----------------+           ||
//!      ||     | Authenticated  |<=++       ||
//!      ||     +----------------+  ||       ||
//!      ||       || (7)   || (5)   || (6)   ||
//!      ||       ||       \/       ||       ||
//!      ||       ||    +--------+  ||       ||
//!      ||       ||    |Selected|==++       ||
//!      ||       ||    +--------+           ||
//!      ||       ||       || (7)            ||
//!      \/       \/       \/                \/
//!     +--------------------------------------+
//!     |               Logout                 |
//!     +--------------------------------------+
//! ```
//!
//! (1) greeting OK (started as root, inetd); (2) PREAUTH (started as a user:
//! ssh/rsh tunnel); (3) BYE; (4) LOGIN/AUTHENTICATE; (5) SELECT/EXAMINE;
//! (6) CLOSE, UNSELECT, or a failed SELECT/EXAMINE; (7) LOGOUT, autologout, EOF.
//!
//! IDLE (RFC 2177) is not a state of its own here: it is allowed where any
//! authenticated command is, and while it runs the session treats the next
//! frame as its terminator, never as a command (session/mod.rs), so no other
//! command can reach `is_allowed` during it.

use crate::command::Selected;
use crate::parser::ast::CommandBody;

/// Where the session is.
pub enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Box<Selected>),
    Logout,
}

/// Whether `body` may run in `state`; `Err` holds the BAD text.
pub fn is_allowed(state: &State, body: &CommandBody) -> Result<(), &'static str> {
    use CommandBody as C;
    let any = matches!(body, C::Capability | C::Noop | C::Logout | C::Id(_));
    let not_authenticated = matches!(body, C::StartTls | C::Login { .. } | C::Authenticate { .. });
    let selected_only = matches!(
        body,
        C::Check
            | C::Close
            | C::Unselect
            | C::Expunge
            | C::UidExpunge(_)
            | C::Search { .. }
            | C::Fetch { .. }
            | C::Store { .. }
            | C::Copy { .. }
            | C::Move { .. }
            | C::Sort { .. }
            | C::Thread { .. }
            | C::CancelUpdate(_)
    );
    if any {
        return Ok(());
    }
    match state {
        State::NotAuthenticated if not_authenticated => Ok(()),
        State::NotAuthenticated => Err("Command not valid before login"),
        State::Authenticated | State::Selected(_) if not_authenticated => {
            Err("Already authenticated")
        }
        State::Authenticated if selected_only => Err("No mailbox selected"),
        State::Authenticated | State::Selected(_) => Ok(()),
        State::Logout => Err("Logging out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_state_table() {
        let fetch = CommandBody::Fetch {
            set: crate::types::SequenceSet::single(std::num::NonZeroU32::MIN),
            items: vec![],
            numbering: crate::types::Numbering::Sequence,
        };
        assert!(is_allowed(&State::NotAuthenticated, &CommandBody::Capability).is_ok());
        assert!(is_allowed(&State::NotAuthenticated, &CommandBody::Check).is_err());
        assert!(is_allowed(&State::NotAuthenticated, &CommandBody::Namespace).is_err());
        assert!(is_allowed(&State::Authenticated, &fetch).is_err());
        assert!(is_allowed(&State::Authenticated, &CommandBody::Enable(vec![])).is_ok());
        assert!(is_allowed(&State::Authenticated, &CommandBody::StartTls).is_err());
        assert!(is_allowed(&State::Logout, &CommandBody::Namespace).is_err());
        // IDLE and APPEND: any authenticated state; EXPUNGE only when selected.
        assert!(is_allowed(&State::NotAuthenticated, &CommandBody::Idle).is_err());
        assert!(is_allowed(&State::Authenticated, &CommandBody::Idle).is_ok());
        let append = CommandBody::Append {
            mailbox: crate::parser::ast::MailboxName(b"INBOX".to_vec()),
            messages: vec![crate::parser::ast::AppendMessage {
                flags: vec![],
                date: None,
                data: crate::parser::ast::AppendData::Literal(b"x".to_vec()),
            }],
        };
        assert!(is_allowed(&State::NotAuthenticated, &append).is_err());
        assert!(is_allowed(&State::Authenticated, &append).is_ok());
        assert!(is_allowed(&State::Authenticated, &CommandBody::Expunge).is_err());
        let uid_expunge =
            CommandBody::UidExpunge(crate::types::SequenceSet::single(std::num::NonZeroU32::MIN));
        assert!(is_allowed(&State::Authenticated, &uid_expunge).is_err());
        // RFC 4978 §5: `command-auth =/ compress`.
        let compress = CommandBody::Compress {
            algorithm: crate::parser::ast::CompressAlgorithm::Deflate,
        };
        assert!(is_allowed(&State::NotAuthenticated, &compress).is_err());
        assert!(is_allowed(&State::Authenticated, &compress).is_ok());
        // RFC 5267 §5: CANCELUPDATE is a command-select.
        let cancel = CommandBody::CancelUpdate(vec!["a".into()]);
        assert!(is_allowed(&State::Authenticated, &cancel).is_err());
    }
}
