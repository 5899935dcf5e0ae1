//! LIST-EXTENDED (RFC 5258 §6), with the options of LIST-STATUS (RFC 5819
//! §2) and SPECIAL-USE (RFC 6154 §6).
//!
//! The hard part is telling the three forms apart without backtracking: a
//! selection-option list is the only argument that can start with `(` before
//! the reference (an astring cannot), a pattern list is the only `(` in the
//! pattern position, and return options follow the word `RETURN`. So a
//! plain RFC 3501 `LIST reference pattern` parses exactly as before.

use super::ast::{CommandBody, ListReturn, ListSelect, MailboxName};
use super::commands::status_att_list;
use super::core::{PResult, arg, atom, commit, fail, list_mailbox, mailbox, mismatch, printable};

/// Most patterns in one LIST (RFC 5258 `patterns`): each may cost a walk of
/// the folder tree, so a client cannot ask for thousands.
const MAX_LIST_PATTERNS: usize = 64;

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
///        [SP list-return-opts]` (RFC 5258 §6; RFC 3501's is the case with
/// neither option list and one `list-mailbox`)
pub(crate) fn list(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, selection) = if input.starts_with(b" (") {
        arg(input, "LIST selection options", list_select_opts)?
    } else {
        (input, Vec::new())
    };
    let (rest, reference) = arg(rest, "reference name", mailbox)?;
    let (rest, patterns) = arg(rest, "mailbox pattern", mbox_or_pat)?;
    let has_return = rest
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case(b" RETURN"));
    let (rest, returns) = if has_return {
        arg(rest, "LIST return options", list_return_opts)?
    } else {
        (rest, Vec::new())
    };
    Ok((
        rest,
        CommandBody::List {
            selection,
            reference,
            patterns,
            returns,
        },
    ))
}

/// `list-select-opts = "(" [(*(list-select-opt SP) list-select-base-opt
/// *(SP list-select-opt)) / (list-select-independent-opt *(SP
/// list-select-independent-opt))] ")"` (RFC 5258 §6), with
/// `list-select-base-opt = "SUBSCRIBED" / "SPECIAL-USE"` (RFC 6154),
/// `list-select-independent-opt = "REMOTE"` and `list-select-mod-opt =
/// "RECURSIVEMATCH"`: so RECURSIVEMATCH needs a base option beside it.
/// Unknown options are malformed (RFC 5258 §3: the server MUST reject them).
fn list_select_opts(input: &[u8]) -> PResult<'_, Vec<ListSelect>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut options = Vec::new();
    if let Some(tail) = rest.strip_prefix(b")") {
        return Ok((tail, options));
    }
    loop {
        let (tail, word) = commit(atom(rest), || "Invalid LIST selection option".into())?;
        options.push(match word.to_ascii_uppercase().as_slice() {
            b"SUBSCRIBED" => ListSelect::Subscribed,
            b"REMOTE" => ListSelect::Remote,
            b"RECURSIVEMATCH" => ListSelect::RecursiveMatch,
            b"SPECIAL-USE" => ListSelect::SpecialUse,
            _ => return fail(format!("Unknown LIST selection option {}", printable(word))),
        });
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => {
                let has_base = options
                    .iter()
                    .any(|o| matches!(o, ListSelect::Subscribed | ListSelect::SpecialUse));
                if options.contains(&ListSelect::RecursiveMatch) && !has_base {
                    return fail("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE");
                }
                return Ok((t, options));
            }
            _ => return fail("Missing ')' after LIST selection options"),
        }
    }
}

/// `mbox-or-pat = list-mailbox / patterns`,
/// `patterns = "(" list-mailbox *(SP list-mailbox) ")"` (RFC 5258 §6)
fn mbox_or_pat(input: &[u8]) -> PResult<'_, Vec<MailboxName>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        let (rest, pattern) = list_mailbox(input)?;
        return Ok((rest, vec![pattern]));
    };
    let mut patterns = Vec::new();
    loop {
        let (tail, pattern) = commit(list_mailbox(rest), || "Invalid mailbox pattern".into())?;
        if patterns.len() == MAX_LIST_PATTERNS {
            return fail(format!("More than {MAX_LIST_PATTERNS} mailbox patterns"));
        }
        patterns.push(pattern);
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, patterns)),
            _ => return fail("Missing ')' after mailbox patterns"),
        }
    }
}

/// `list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"`,
/// `return-option = "SUBSCRIBED" / "CHILDREN" / status-option /
/// "SPECIAL-USE"` (RFC 5258 §6, RFC 6154 §6), `status-option = "STATUS" SP
/// "(" status-att *(SP status-att) ")"` (RFC 5819 §2). Unknown options are
/// malformed.
fn list_return_opts(input: &[u8]) -> PResult<'_, Vec<ListReturn>> {
    let Some(rest) = input
        .get(..8)
        .filter(|w| w.eq_ignore_ascii_case(b"RETURN ("))
        .and_then(|_| input.get(8..))
    else {
        return mismatch();
    };
    let mut rest = rest;
    let mut options = Vec::new();
    if let Some(tail) = rest.strip_prefix(b")") {
        return Ok((tail, options));
    }
    loop {
        let (tail, word) = commit(atom(rest), || "Invalid LIST return option".into())?;
        let (tail, option) = match word.to_ascii_uppercase().as_slice() {
            b"SUBSCRIBED" => (tail, ListReturn::Subscribed),
            b"CHILDREN" => (tail, ListReturn::Children),
            b"SPECIAL-USE" => (tail, ListReturn::SpecialUse),
            b"STATUS" => {
                let (tail, items) = arg(tail, "STATUS return items", status_att_list)?;
                (tail, ListReturn::Status(items))
            }
            _ => return fail(format!("Unknown LIST return option {}", printable(word))),
        };
        options.push(option);
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, options)),
            _ => return fail("Missing ')' after LIST return options"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::ast::StatusItem;
    use crate::parser::parse_command;
    use crate::parser::tests::Rng;

    fn parsed(line: &[u8]) -> Result<CommandBody, String> {
        parse_command(line)
            .map(|c| c.body)
            .map_err(|e| e.to_string())
    }

    fn list(
        selection: &[ListSelect],
        reference: &str,
        patterns: &[&str],
        returns: &[ListReturn],
    ) -> CommandBody {
        CommandBody::List {
            selection: selection.to_vec(),
            reference: MailboxName(reference.as_bytes().to_vec()),
            patterns: patterns
                .iter()
                .map(|p| MailboxName(p.as_bytes().to_vec()))
                .collect(),
            returns: returns.to_vec(),
        }
    }

    /// The commands of RFC 5258 §5, RFC 5819 §2 and RFC 6154 §5.
    #[test]
    fn rfc_examples() {
        use ListReturn as R;
        use ListSelect as S;
        let cases: Vec<(&[u8], CommandBody)> = vec![
            (b"A01 LIST \"\" %\r\n", list(&[], "", &["%"], &[])),
            (
                b"A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n",
                list(&[S::Subscribed], "", &["*"], &[]),
            ),
            (
                b"A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n",
                list(&[], "", &["%"], &[R::Children]),
            ),
            (
                b"A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n",
                list(&[S::Remote], "", &["%"], &[R::Children]),
            ),
            (
                b"A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n",
                list(&[S::Remote, S::Subscribed], "", &["*"], &[]),
            ),
            (
                b"A06 LIST (REMOTE) \"\" \"*\" RETURN (SUBSCRIBED)\r\n",
                list(&[S::Remote], "", &["*"], &[R::Subscribed]),
            ),
            (
                b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n",
                list(
                    &[S::Subscribed, S::RecursiveMatch],
                    "",
                    &["%"],
                    &[R::Children],
                ),
            ),
            (
                b"D03 LIST (RECURSIVEMATCH SUBSCRIBED) \"\" \"*2\"\r\n",
                list(&[S::RecursiveMatch, S::Subscribed], "", &["*2"], &[]),
            ),
            (
                b"BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
                list(&[], "", &["INBOX", "Drafts", "Sent/%"], &[]),
            ),
            (
                b"a3 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" foo RETURN (CHILDREN)\r\n",
                list(
                    &[S::Subscribed, S::RecursiveMatch],
                    "",
                    &["foo"],
                    &[R::Children],
                ),
            ),
            // RFC 5819 §2
            (
                b"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
                list(
                    &[],
                    "",
                    &["%"],
                    &[R::Status(vec![StatusItem::Messages, StatusItem::Unseen])],
                ),
            ),
            (
                b"A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))\r\n",
                list(
                    &[S::Subscribed, S::RecursiveMatch],
                    "",
                    &["%"],
                    &[R::Status(vec![StatusItem::Messages])],
                ),
            ),
            // RFC 6154 §5.1, §5.2
            (
                b"t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n",
                list(&[], "", &["%"], &[R::SpecialUse]),
            ),
            (
                b"t3 LIST (SPECIAL-USE) \"\" \"*\"\r\n",
                list(&[S::SpecialUse], "", &["*"], &[]),
            ),
            // Thunderbird's query; keywords in any case.
            (
                b"x list \"\" \"*\" return (special-use subscribed children status (unseen))\r\n",
                list(
                    &[],
                    "",
                    &["*"],
                    &[
                        R::SpecialUse,
                        R::Subscribed,
                        R::Children,
                        R::Status(vec![StatusItem::Unseen]),
                    ],
                ),
            ),
            (b"x LIST \"\" * RETURN ()\r\n", list(&[], "", &["*"], &[])),
            (
                b"x LIST (SPECIAL-USE RECURSIVEMATCH) Work/ ({3}\r\na b %)\r\n",
                list(
                    &[S::SpecialUse, S::RecursiveMatch],
                    "Work/",
                    &["a b", "%"],
                    &[],
                ),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parsed(line), Ok(want), "{}", String::from_utf8_lossy(line));
        }
    }

    /// `list-select-opts`, `patterns`, `list-return-opts` and
    /// `status-option` refuse what their ABNF does not allow (imaptest
    /// `listext` checks the first four).
    #[test]
    fn malformed_list_options() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"a LIST (imaptest) \"\" \"\"\r\n",
                "Unknown LIST selection option imaptest",
            ),
            (
                b"a LIST (recursivematch) \"\" \"\"\r\n",
                "RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE",
            ),
            (
                b"a LIST (recursivematch remote) \"\" \"\"\r\n",
                "RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE",
            ),
            (
                b"a LIST \"\" \"\" return (imaptest)\r\n",
                "Unknown LIST return option imaptest",
            ),
            (
                b"a LIST (SUBSCRIBED\r\n",
                "Missing ')' after LIST selection options",
            ),
            (
                b"a LIST (SUBSCRIBED \"\" *\r\n",
                "Invalid LIST selection option",
            ),
            (b"a LIST ()\r\n", "Missing reference name"),
            (b"a LIST \"\" ()\r\n", "Invalid mailbox pattern"),
            (
                b"a LIST \"\" (a b\r\n",
                "Missing ')' after mailbox patterns",
            ),
            (b"a LIST \"\" (a  b)\r\n", "Invalid mailbox pattern"),
            (b"a LIST \"\" * RETURN\r\n", "Invalid LIST return options"),
            (
                b"a LIST \"\" * RETURN (CHILDREN\r\n",
                "Missing ')' after LIST return options",
            ),
            (
                b"a LIST \"\" * RETURN (STATUS)\r\n",
                "Missing STATUS return items",
            ),
            (
                b"a LIST \"\" * RETURN (STATUS ())\r\n",
                "Invalid status item",
            ),
            (
                b"a LIST \"\" * RETURN (STATUS (MESSAGES BOGUS))\r\n",
                "Unknown status item BOGUS",
            ),
            (
                b"a LIST \"\" * RETURN () x\r\n",
                "Too many arguments to LIST",
            ),
            (
                b"a LIST \"\" * (CHILDREN)\r\n",
                "Too many arguments to LIST",
            ),
        ];
        for (line, reason) in cases {
            assert_eq!(
                parsed(line),
                Err((*reason).to_string()),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let many = format!(
            "a LIST \"\" ({})\r\n",
            vec!["x"; MAX_LIST_PATTERNS + 1].join(" ")
        );
        assert_eq!(
            parsed(many.as_bytes()),
            Err(format!("More than {MAX_LIST_PATTERNS} mailbox patterns"))
        );
        let most = format!(
            "a LIST \"\" ({})\r\n",
            vec!["x"; MAX_LIST_PATTERNS].join(" ")
        );
        assert!(parsed(most.as_bytes()).is_ok());
    }

    /// Renders a LIST the way a client would write it.
    fn render(selection: &[ListSelect], patterns: &[&str], returns: &[ListReturn]) -> String {
        let word = |s: &ListSelect| match s {
            ListSelect::Subscribed => "SUBSCRIBED",
            ListSelect::Remote => "REMOTE",
            ListSelect::RecursiveMatch => "RECURSIVEMATCH",
            ListSelect::SpecialUse => "SPECIAL-USE",
        };
        let ret = |r: &ListReturn| match r {
            ListReturn::Subscribed => "SUBSCRIBED".to_string(),
            ListReturn::Children => "CHILDREN".to_string(),
            ListReturn::SpecialUse => "SPECIAL-USE".to_string(),
            ListReturn::Status(items) => format!(
                "STATUS ({})",
                items
                    .iter()
                    .map(|i| format!("{i:?}").to_uppercase())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        let mut text = String::from("l LIST ");
        if !selection.is_empty() {
            let words: Vec<&str> = selection.iter().map(word).collect();
            text += &format!("({}) ", words.join(" "));
        }
        text += "\"\" ";
        let quoted: Vec<String> = patterns.iter().map(|p| format!("\"{p}\"")).collect();
        match quoted.as_slice() {
            [one] => text += one,
            many => text += &format!("({})", many.join(" ")),
        }
        if !returns.is_empty() {
            let words: Vec<String> = returns.iter().map(ret).collect();
            text += &format!(" RETURN ({})", words.join(" "));
        }
        text + "\r\n"
    }

    #[test]
    fn round_trip() {
        use ListReturn as R;
        use ListSelect as S;
        let selects = [S::Subscribed, S::Remote, S::RecursiveMatch, S::SpecialUse];
        let returns = [
            R::Subscribed,
            R::Children,
            R::SpecialUse,
            R::Status(vec![
                StatusItem::Messages,
                StatusItem::UidNext,
                StatusItem::Size,
            ]),
            R::Status(vec![StatusItem::Unseen]),
        ];
        let names = ["*", "%", "INBOX", "Work/%", "a b", "100%"];
        let mut rng = Rng::new(0x5eed_0011);
        for _ in 0..500 {
            let pick = |rng: &mut Rng, n: usize| rng.below(n as u32 + 1) as usize;
            let mut selection: Vec<S> = (0..pick(&mut rng, 3))
                .map(|_| selects[pick(&mut rng, 3).min(3)])
                .collect();
            if selection.contains(&S::RecursiveMatch)
                && !selection
                    .iter()
                    .any(|s| matches!(s, S::Subscribed | S::SpecialUse))
            {
                selection.push(S::Subscribed);
            }
            let ret: Vec<R> = (0..pick(&mut rng, 3))
                .map(|_| returns[pick(&mut rng, 4).min(4)].clone())
                .collect();
            let patterns: Vec<&str> = (0..pick(&mut rng, 2) + 1)
                .map(|_| names[pick(&mut rng, 5).min(5)])
                .collect();
            let text = render(&selection, &patterns, &ret);
            assert_eq!(
                parsed(text.as_bytes()),
                Ok(list(&selection, "", &patterns, &ret)),
                "{text}"
            );
        }
    }
}
