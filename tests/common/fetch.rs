//! Typed access to `* n FETCH (...)` responses, through imap-codec's parse.
//!
//! Tests assert on message data (a literal's exact bytes, a UID, a size), so rather than
//! re-implement the `msg-att` grammar (RFC 3501 §7.4.2) we let imap-codec decode the
//! response and copy out what tests need. A body section is named by its label without
//! `BODY[`…`]`: `""`, `"HEADER"`, `"TEXT"`, `"1.2"`, `"1.MIME"`,
//! `"HEADER.FIELDS (SUBJECT FROM)"`, plus `"<origin>"` for a partial fetch.

use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::core::NString;
use imap_codec::imap_types::fetch::{MessageDataItem, Part, Section};
use imap_codec::imap_types::flag::FlagFetch;
use imap_codec::imap_types::response::{Data, Response as CodecResponse};

use super::Response;

/// One FETCH response, decoded.
#[derive(Debug, Clone, Default)]
pub struct Fetch {
    pub seq: u32,
    pub uid: Option<u32>,
    pub size: Option<u32>,
    pub flags: Option<Vec<String>>,
    /// `(label, data)`; data `None` is NIL.
    pub sections: Vec<(String, Option<Vec<u8>>)>,
    pub rfc822: Option<Option<Vec<u8>>>,
    pub rfc822_header: Option<Option<Vec<u8>>>,
    pub rfc822_text: Option<Option<Vec<u8>>>,
    pub has_envelope: bool,
    pub has_bodystructure: bool,
}

impl Fetch {
    /// The data of `BODY[label]` (panics if absent or NIL: tests ask for what they fetched).
    pub fn section(&self, label: &str) -> &[u8] {
        match self.sections.iter().find(|(l, _)| l == label) {
            Some((_, Some(data))) => data,
            Some((_, None)) => panic!("BODY[{label}] is NIL in message {}", self.seq),
            None => panic!(
                "no BODY[{label}] in the FETCH of message {} (have {:?})",
                self.seq,
                self.sections.iter().map(|(l, _)| l).collect::<Vec<_>>()
            ),
        }
    }
}

/// Decodes a `* n FETCH` response; `None` for any other response.
pub fn parse_fetch(response: &Response) -> Option<Fetch> {
    let (_, decoded) = ResponseCodec::default().decode(&response.raw).ok()?;
    let CodecResponse::Data(Data::Fetch { seq, items }) = decoded else {
        return None;
    };
    let mut fetch = Fetch {
        seq: seq.get(),
        ..Fetch::default()
    };
    for item in items.as_ref() {
        match item {
            MessageDataItem::Uid(uid) => fetch.uid = Some(uid.get()),
            MessageDataItem::Rfc822Size(n) => fetch.size = Some(*n),
            MessageDataItem::Flags(flags) => {
                fetch.flags = Some(flags.iter().map(flag_text).collect());
            }
            MessageDataItem::BodyExt {
                section,
                origin,
                data,
            } => {
                let mut label = section.as_ref().map(section_label).unwrap_or_default();
                if let Some(origin) = origin {
                    label.push_str(&format!("<{origin}>"));
                }
                fetch.sections.push((label, nstring(data)));
            }
            MessageDataItem::Rfc822(data) => fetch.rfc822 = Some(nstring(data)),
            MessageDataItem::Rfc822Header(data) => fetch.rfc822_header = Some(nstring(data)),
            MessageDataItem::Rfc822Text(data) => fetch.rfc822_text = Some(nstring(data)),
            MessageDataItem::Envelope(_) => fetch.has_envelope = true,
            MessageDataItem::BodyStructure(_) | MessageDataItem::Body(_) => {
                fetch.has_bodystructure = true;
            }
            MessageDataItem::InternalDate(_) => {}
        }
    }
    Some(fetch)
}

/// All FETCH responses among `responses`, in order.
pub fn fetches(responses: &[Response]) -> Vec<Fetch> {
    responses.iter().filter_map(parse_fetch).collect()
}

fn nstring(n: &NString<'_>) -> Option<Vec<u8>> {
    n.0.as_ref().map(|s| AsRef::<[u8]>::as_ref(s).to_vec())
}

fn flag_text(flag: &FlagFetch<'_>) -> String {
    match flag {
        FlagFetch::Flag(f) => f.to_string(),
        FlagFetch::Recent => "\\Recent".to_string(),
    }
}

fn part_label(part: &Part) -> String {
    part.0
        .as_ref()
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn with_part(part: &Option<Part>, what: &str) -> String {
    match part {
        Some(p) => format!("{}.{what}", part_label(p)),
        None => what.to_string(),
    }
}

fn field_list(fields: &[imap_codec::imap_types::core::AString<'_>]) -> String {
    fields
        .iter()
        .map(|f| String::from_utf8_lossy(f.as_ref()).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn section_label(section: &Section<'_>) -> String {
    match section {
        Section::Part(p) => part_label(p),
        Section::Header(p) => with_part(p, "HEADER"),
        Section::HeaderFields(p, f) => {
            format!(
                "{} ({})",
                with_part(p, "HEADER.FIELDS"),
                field_list(f.as_ref())
            )
        }
        Section::HeaderFieldsNot(p, f) => {
            format!(
                "{} ({})",
                with_part(p, "HEADER.FIELDS.NOT"),
                field_list(f.as_ref())
            )
        }
        Section::Text(p) => with_part(p, "TEXT"),
        Section::Mime(p) => format!("{}.MIME", part_label(p)),
    }
}

/// The wire form of message data (RFC 3501 §2.3.1.1 via §4.3): every LF is preceded by
/// CR, every CR is followed by LF, no NUL. Returns the offending offset, if any.
pub fn bad_line_end(data: &[u8]) -> Option<usize> {
    for (i, &b) in data.iter().enumerate() {
        let next = data.get(i + 1).copied();
        let prev = i.checked_sub(1).and_then(|p| data.get(p)).copied();
        let bad = match b {
            b'\n' => prev != Some(b'\r'),
            b'\r' => next != Some(b'\n'),
            0 => true,
            _ => false,
        };
        if bad {
            return Some(i);
        }
    }
    None
}
