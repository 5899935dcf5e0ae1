//! Writes an ENVELOPE (RFC 3501 §7.4.2, §9 `envelope`).
//!
//! The parsing (address lists, groups, defaults) is in [`crate::mime::envelope`];
//! this is only the wire shape. Two details matter: addresses in a list are
//! written with no space between them (`((..)(..))`), and every text goes
//! through `nstring`, so a value with 8-bit bytes, quotes or an over-long run
//! becomes a literal instead of breaking the response.

use std::io::{self, Write};

use super::header_nstring;
use crate::mime::envelope::{Address, Envelope};
use crate::response::ResponseWriter;

/// `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
pub(super) fn write_envelope<W: Write>(
    out: &mut ResponseWriter<W>,
    env: &Envelope<'_>,
) -> io::Result<()> {
    out.open()?;
    header_nstring(out, env.date.as_deref())?;
    out.sp()?;
    header_nstring(out, env.subject.as_deref())?;
    for list in [
        &env.from,
        &env.sender,
        &env.reply_to,
        &env.to,
        &env.cc,
        &env.bcc,
    ] {
        out.sp()?;
        write_address_list(out, list)?;
    }
    out.sp()?;
    header_nstring(out, env.in_reply_to.as_deref())?;
    out.sp()?;
    header_nstring(out, env.message_id.as_deref())?;
    out.close()
}

/// `"(" 1*address ")"`, or NIL for an empty list.
fn write_address_list<W: Write>(out: &mut ResponseWriter<W>, list: &[Address]) -> io::Result<()> {
    if list.is_empty() {
        return out.nil();
    }
    out.open()?;
    for a in list {
        out.open()?;
        header_nstring(out, a.name.as_deref())?;
        out.sp()?;
        header_nstring(out, a.adl.as_deref())?;
        out.sp()?;
        header_nstring(out, a.mailbox.as_deref())?;
        out.sp()?;
        header_nstring(out, a.host.as_deref())?;
        out.close()?;
    }
    out.close()
}
