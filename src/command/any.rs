//! Commands valid in any state that need more than a line: ID (RFC 2971) and
//! ENABLE (RFC 5161). CAPABILITY, NOOP and LOGOUT are answered by the session.

use std::io::Write;

use super::{CommandResult, Completion};
use crate::response::ResponseWriter;

/// Longest ID field name or value we accept (RFC 2971 §3.3: 30 and 1024 octets).
const ID_FIELD_OCTETS: usize = 1024;
/// RFC 2971 §3.3: at most 30 field/value pairs.
const ID_MAX_PAIRS: usize = 30;

/// `ID`: logs what the client says it is, and says what we are (RFC 2971
/// §3.3 fields): `name`, `version` (this build's, from Cargo), `vendor`, and
/// `support-url` when the configuration sets one (mbox-imapd.conf(5)).
pub fn id<W: Write>(
    params: Option<&[(String, Option<String>)]>,
    support_url: Option<&str>,
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
    let ours = [
        ("name", "mbox-imapd"),
        ("version", env!("CARGO_PKG_VERSION")),
        ("vendor", "mbox-imapd project"),
    ];
    let support = support_url.map(|url| ("support-url", url));
    for (i, (k, v)) in ours.into_iter().chain(support).enumerate() {
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

/// What ENABLE has switched on in this session (RFC 5161).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// IMAP4rev2 (RFC 9051 §6.3.1, Appendix A): the session speaks rev2.
    pub imap4rev2: bool,
}

impl Enabled {
    /// The switch for an enableable capability, by its advertised name
    /// (case-insensitive, RFC 5161 §3.1); `None` for names that need no
    /// enabling or that we do not know, which ENABLE ignores.
    fn switch(&mut self, capability: &str) -> Option<(&'static str, &mut bool)> {
        // One row per capability ENABLE can turn on.
        if capability.eq_ignore_ascii_case("IMAP4rev2") {
            return Some(("IMAP4rev2", &mut self.imap4rev2));
        }
        None
    }
}

/// `ENABLE`: turns on the enableable capabilities named and answers
/// `* ENABLED` with those this command enabled, each once (RFC 5161 §3.1:
/// unknown names and ones already on are not listed).
/// ENABLE is valid only in the authenticated state (RFC 5161 §3.1, RFC 9051
/// §6.3.1); we answer it in the selected state too, as before, but there it
/// turns nothing on: naming something it would turn on is BAD.
pub fn enable<W: Write>(
    caps: &[String],
    enabled: &mut Enabled,
    selected: bool,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    log::debug!("enable requested: {}", caps.join(" "));
    if selected {
        let mut probe = *enabled;
        if caps
            .iter()
            .any(|cap| probe.switch(cap).is_some_and(|(_, on)| !*on))
        {
            return Err(super::CommandError::bad(
                "ENABLE is only valid in the authenticated state",
            ));
        }
    }
    let mut line = String::from("ENABLED");
    for cap in caps {
        if let Some((name, on)) = enabled.switch(cap)
            && !*on
        {
            *on = true;
            line.push(' ');
            line.push_str(name);
        }
    }
    out.untagged(&line)?;
    Ok(Completion::done("ENABLE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_line(params: Option<&[(String, Option<String>)]>, url: Option<&str>) -> String {
        let mut w = ResponseWriter::new(Vec::new());
        id(params, url, &mut w).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn id_answers_with_name_and_cargo_version() {
        let out = id_line(Some(&[("name".into(), Some("mutt".into()))]), None);
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            out,
            format!(
                "* ID (\"name\" \"mbox-imapd\" \"version\" \"{version}\" \"vendor\" \"mbox-imapd project\")\r\n"
            )
        );
        // ID NIL gets the same answer.
        assert_eq!(id_line(None, None), out);
    }

    #[test]
    fn id_sends_the_configured_support_url_last() {
        let out = id_line(None, Some("https://help.example.org/imap"));
        assert!(
            out.ends_with(" \"support-url\" \"https://help.example.org/imap\")\r\n"),
            "{out}"
        );
        assert_eq!(out.matches("support-url").count(), 1);
    }

    #[test]
    fn id_refuses_more_than_thirty_fields() {
        let params: Vec<(String, Option<String>)> =
            (0..31).map(|i| (format!("k{i}"), None)).collect();
        let mut w = ResponseWriter::new(Vec::new());
        assert!(matches!(
            id(Some(&params), None, &mut w),
            Err(crate::command::CommandError::Bad { .. })
        ));
        assert!(w.into_inner().unwrap().is_empty());
    }

    #[test]
    fn enable_lists_only_what_it_turned_on() {
        let run = |caps: &[&str], enabled: &mut Enabled| {
            let caps: Vec<String> = caps.iter().map(|c| (*c).to_owned()).collect();
            let mut w = ResponseWriter::new(Vec::new());
            enable(&caps, enabled, false, &mut w).unwrap();
            String::from_utf8(w.into_inner().unwrap()).unwrap()
        };
        let mut enabled = Enabled::default();
        assert_eq!(run(&["CONDSTORE", "X-Y"], &mut enabled), "* ENABLED\r\n");
        assert!(!enabled.imap4rev2);
        // Case-insensitive, named once even if asked twice, then not again.
        assert_eq!(
            run(&["imap4REV2", "IMAP4rev2"], &mut enabled),
            "* ENABLED IMAP4rev2\r\n"
        );
        assert!(enabled.imap4rev2);
        assert_eq!(run(&["IMAP4rev2"], &mut enabled), "* ENABLED\r\n");
        assert!(enabled.imap4rev2);
    }

    #[test]
    fn enable_while_selected_turns_nothing_on() {
        let caps = vec!["IMAP4rev2".to_owned()];
        let mut enabled = Enabled::default();
        let mut w = ResponseWriter::new(Vec::new());
        let e = enable(&caps, &mut enabled, true, &mut w).unwrap_err();
        assert!(matches!(e, crate::command::CommandError::Bad { .. }));
        assert!(!enabled.imap4rev2);
        assert!(w.into_inner().unwrap().is_empty());
        // Names that turn nothing on keep the old answer.
        let mut w = ResponseWriter::new(Vec::new());
        enable(&["CONDSTORE".to_owned()], &mut enabled, true, &mut w).unwrap();
        assert_eq!(w.into_inner().unwrap(), b"* ENABLED\r\n");
    }
}
