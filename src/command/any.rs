//! Commands valid in any state that need more than a line: ID (RFC 2971) and
//! ENABLE (RFC 5161). CAPABILITY, NOOP and LOGOUT are answered by the session.

use std::io::Write;

use super::{CommandResult, Completion};
use crate::response::ResponseWriter;

/// Longest ID field name or value we accept (RFC 2971 §3.3: 30 and 1024 octets).
const ID_FIELD_OCTETS: usize = 1024;
/// RFC 2971 §3.3: at most 30 field/value pairs.
const ID_MAX_PAIRS: usize = 30;

/// `ID`: logs what the client says it is, and says what we are.
pub fn id<W: Write>(
    params: Option<&[(String, Option<String>)]>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    if let Some(params) = params {
        if params.len() > ID_MAX_PAIRS {
            return Err(super::CommandError::bad("Too many ID fields"));
        }
        let shown: Vec<String> = params
            .iter()
            .filter(|(k, v)| {
                k.len() <= ID_FIELD_OCTETS && v.as_ref().is_none_or(|v| v.len() <= ID_FIELD_OCTETS)
            })
            .map(|(k, v)| {
                format!(
                    "{}={:?}",
                    k.to_ascii_lowercase(),
                    v.as_deref().unwrap_or("NIL")
                )
            })
            .collect();
        log::info!("client id {}", shown.join(" "));
    }
    out.raw(b"* ID (")?;
    for (i, (k, v)) in [
        ("name", "mbox-imapd"),
        ("version", env!("CARGO_PKG_VERSION")),
        ("vendor", "mbox-imapd project"),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            out.sp()?;
        }
        out.string(k.as_bytes())?;
        out.sp()?;
        out.string(v.as_bytes())?;
    }
    out.raw(b")")?;
    out.end_line()?;
    Ok(Completion::done("ID"))
}

/// `ENABLE`: none of our capabilities needs enabling (we advertise no
/// CONDSTORE, QRESYNC or UTF8=ACCEPT), so the answer is an empty ENABLED list
/// (RFC 5161 §3.1: unknown capabilities are ignored).
pub fn enable<W: Write>(caps: &[String], out: &mut ResponseWriter<W>) -> CommandResult {
    log::debug!("enable requested: {}", caps.join(" "));
    out.untagged("ENABLED")?;
    Ok(Completion::done("ENABLE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_answers_with_our_name() {
        let mut w = ResponseWriter::new(Vec::new());
        id(Some(&[("name".into(), Some("mutt".into()))]), &mut w).unwrap();
        let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(
            out.starts_with("* ID (\"name\" \"mbox-imapd\" \"version\" \""),
            "{out}"
        );
        assert!(out.ends_with(")\r\n"));
    }

    #[test]
    fn enable_lists_nothing() {
        let mut w = ResponseWriter::new(Vec::new());
        enable(&["CONDSTORE".into()], &mut w).unwrap();
        assert_eq!(w.into_inner().unwrap(), b"* ENABLED\r\n");
    }
}
