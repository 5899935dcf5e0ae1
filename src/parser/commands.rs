//! The arguments of every command except FETCH and SEARCH (which have their
//! own files): one function per ABNF rule of RFC 3501 §9 and the extensions.
//!
//! Each function receives the input just after the command name and returns
//! the [`CommandBody`]; the caller checks that the line ends there. The hard
//! part is APPEND, whose optional arguments are told apart by their first
//! byte only (`(` flag list, `"` date-time, `{` or `~{` literal), and whose
//! message is the only literal that may be binary (`~{n}`, RFC 3516).

use std::borrow::Cow;

use nom::bytes::complete::take_while1;

use super::ast::{
    AppendData, AppendMessage, CatPart, CommandBody, CompressAlgorithm, MailboxName, Secret,
    StatusItem, StoreMode, StoreResponse,
};
use super::core::{
    PResult, arg, astring, at_argument_end, atom, commit, fail, flag, flag_list, list_mailbox,
    literal, literal8, mailbox, mismatch, nil, nstring, printable, quoted, string, utf8,
};
use super::datetime::date_time;
use super::sequence::sequence_set;
use crate::types::{Flag, Numbering, SequenceSet};

/// RFC 2971 §3.3: "Implementations MUST NOT send more than 30 field-value pairs."
const MAX_ID_PARAMETERS: usize = 30;

// --- any state and not authenticated (RFC 3501 §6.1, §6.2)

/// `compress = "COMPRESS" SP algorithm` (RFC 4978 §5)
/// `algorithm = "DEFLATE"`: any other is BAD (§3: "unknown algorithm").
pub(crate) fn compress(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, word) = arg(input, "compression algorithm", atom)?;
    let algorithm = match word.to_ascii_uppercase().as_slice() {
        b"DEFLATE" => CompressAlgorithm::Deflate,
        _ => return fail(format!("Unknown compression algorithm {}", printable(word))),
    };
    Ok((rest, CommandBody::Compress { algorithm }))
}

/// `id = "ID" SP id_params_list` (RFC 2971)
pub(crate) fn id(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, params) = arg(input, "ID parameter list", id_params_list)?;
    Ok((rest, CommandBody::Id(params)))
}

/// The field-value pairs of ID, as [`CommandBody::Id`] holds them.
type IdParams = Vec<(String, Option<String>)>;

/// `id_params_list = "(" #(string SP nstring) ")" / nil`
fn id_params_list(input: &[u8]) -> PResult<'_, Option<IdParams>> {
    if let Ok((rest, ())) = nil(input) {
        return Ok((rest, None));
    }
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut params = Vec::new();
    if let Some(tail) = rest.strip_prefix(b")") {
        return Ok((tail, Some(params)));
    }
    loop {
        if params.len() >= MAX_ID_PARAMETERS {
            return fail(format!("More than {MAX_ID_PARAMETERS} ID parameters"));
        }
        let (tail, field) = commit(string(rest), || "Invalid ID field name".into())?;
        let (tail, value) = arg(tail, "ID field value", nstring)?;
        let field = utf8(field, "ID field name")?;
        let value = value.map(|v| utf8(v, "ID field value")).transpose()?;
        params.push((field, value));
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, Some(params))),
            _ => return fail("Missing ')' after ID parameters"),
        }
    }
}

/// `enable = "ENABLE" 1*(SP capability)` (RFC 5161)
/// `capability = ("AUTH=" auth-type) / atom`
pub(crate) fn enable(input: &[u8]) -> PResult<'_, CommandBody> {
    let mut capabilities = Vec::new();
    let mut rest = input;
    loop {
        let (tail, capability) = arg(rest, "capability name", atom)?;
        capabilities.push(utf8(Cow::Borrowed(capability), "Capability")?);
        rest = tail;
        if !rest.starts_with(b" ") {
            return Ok((rest, CommandBody::Enable(capabilities)));
        }
    }
}

/// `cancelupdate = "CANCELUPDATE" 1*(SP quoted)` (RFC 5267 §5: the
/// `command-select` extension; the tags must be quoted strings).
pub(crate) fn cancelupdate(input: &[u8]) -> PResult<'_, CommandBody> {
    let mut tags = Vec::new();
    let mut rest = input;
    loop {
        let (tail, tag) = arg(rest, "tag to cancel", quoted)?;
        tags.push(utf8(Cow::Owned(tag), "Tag")?);
        rest = tail;
        if !rest.starts_with(b" ") {
            return Ok((rest, CommandBody::CancelUpdate(tags)));
        }
    }
}

/// `login = "LOGIN" SP userid SP password`
/// `userid = astring`, `password = astring`
pub(crate) fn login(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, username) = arg(input, "user name", astring)?;
    let (rest, password) = arg(rest, "password", astring)?;
    let username = Secret(username.into_owned());
    let password = Secret(password.into_owned());
    Ok((rest, CommandBody::Login { username, password }))
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959)
/// `auth-type = atom`
///
/// The initial response is kept as its base64 text (the handler decodes it the
/// same way as a continuation line); `=` is the empty response.
pub(crate) fn authenticate(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mechanism) = arg(input, "authentication mechanism", atom)?;
    let mechanism = utf8(Cow::Borrowed(mechanism), "Mechanism")?;
    if at_argument_end(rest) {
        return Ok((
            rest,
            CommandBody::Authenticate {
                mechanism,
                initial_response: None,
            },
        ));
    }
    let (rest, response) = arg(rest, "initial response", base64)?;
    let initial_response = Some(Secret(response));
    Ok((
        rest,
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        },
    ))
}

/// `base64 = *(4base64-char) [base64-terminal]`, or `"="` (empty).
/// `base64-char = ALPHA / DIGIT / "+" / "/"`
/// `base64-terminal = (2base64-char "==") / (3base64-char "=")`
fn base64(input: &[u8]) -> PResult<'_, Vec<u8>> {
    let (rest, text) =
        take_while1(|b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))(input)?;
    if text == b"=" {
        return Ok((rest, Vec::new()));
    }
    let padding = text.iter().rev().take_while(|&&b| b == b'=').count();
    let body_has_padding = text.iter().rev().skip(padding).any(|&b| b == b'=');
    if text.len() % 4 != 0 || padding > 2 || body_has_padding {
        return mismatch();
    }
    Ok((rest, text.to_vec()))
}

// --- authenticated state (RFC 3501 §6.3)

/// `select = "SELECT" SP mailbox`
///
/// RFC 4466 select parameters such as `(CONDSTORE)` are not supported: the
/// caller rejects anything after the mailbox.
pub(crate) fn select(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    Ok((rest, CommandBody::Select { mailbox }))
}

/// `examine = "EXAMINE" SP mailbox`
pub(crate) fn examine(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    Ok((rest, CommandBody::Examine { mailbox }))
}

/// `create = "CREATE" SP mailbox [create-params]` (RFC 4466 §2.2)
///
/// `create-params = SP "(" create-param *(SP create-param) ")"`; the one
/// parameter we know is RFC 6154's `create-param =/ "USE" SP "(" [use-attr
/// *(SP use-attr)] ")"`. Any other is malformed here (RFC 4466: a server
/// rejects parameters it does not understand).
pub(crate) fn create(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    if !rest.starts_with(b" (") {
        return Ok((
            rest,
            CommandBody::Create {
                mailbox,
                special_use: None,
            },
        ));
    }
    let (rest, special_use) = arg(rest, "CREATE parameters", create_params)?;
    Ok((
        rest,
        CommandBody::Create {
            mailbox,
            special_use: Some(special_use),
        },
    ))
}

/// `"(" create-param *(SP create-param) ")"` with `create-param = "USE" SP
/// "(" [use-attr *(SP use-attr)] ")"` (RFC 6154 §6), given once.
fn create_params(input: &[u8]) -> PResult<'_, Vec<String>> {
    let Some(rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let (rest, name) = commit(atom(rest), || "Invalid CREATE parameter".into())?;
    if !name.eq_ignore_ascii_case(b"USE") {
        return fail(format!("Unknown CREATE parameter {}", printable(name)));
    }
    let (rest, uses) = arg(rest, "USE attributes", use_attrs)?;
    match rest {
        [b')', tail @ ..] => Ok((tail, uses)),
        [b' ', ..] => fail("Only one USE parameter is allowed"),
        _ => fail("Missing ')' after CREATE parameters"),
    }
}

/// `"(" [use-attr *(SP use-attr)] ")"`, `use-attr = "\All" / "\Archive" /
/// ... / use-attr-ext`, `use-attr-ext = "\" atom` (RFC 6154 §6). Kept as
/// sent; the handler decides which it can honour.
fn use_attrs(input: &[u8]) -> PResult<'_, Vec<String>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut uses = Vec::new();
    if let Some(tail) = rest.strip_prefix(b")") {
        return Ok((tail, uses));
    }
    loop {
        let Some(after) = rest.strip_prefix(b"\\") else {
            return fail("Invalid USE attribute");
        };
        let (tail, name) = commit(atom(after), || "Invalid USE attribute".into())?;
        uses.push(format!("\\{}", utf8(Cow::Borrowed(name), "USE attribute")?));
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, uses)),
            _ => return fail("Missing ')' after USE attributes"),
        }
    }
}

/// `delete = "DELETE" SP mailbox`
pub(crate) fn delete(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    Ok((rest, CommandBody::Delete { mailbox }))
}

/// `rename = "RENAME" SP mailbox SP mailbox`
pub(crate) fn rename(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, from) = arg(input, "mailbox name", mailbox)?;
    let (rest, to) = arg(rest, "new mailbox name", mailbox)?;
    Ok((rest, CommandBody::Rename { from, to }))
}

/// `subscribe = "SUBSCRIBE" SP mailbox`
pub(crate) fn subscribe(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    Ok((rest, CommandBody::Subscribe { mailbox }))
}

/// `unsubscribe = "UNSUBSCRIBE" SP mailbox`
pub(crate) fn unsubscribe(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    Ok((rest, CommandBody::Unsubscribe { mailbox }))
}

/// `lsub = "LSUB" SP mailbox SP list-mailbox`
pub(crate) fn lsub(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, reference) = arg(input, "reference name", mailbox)?;
    let (rest, pattern) = arg(rest, "mailbox pattern", list_mailbox)?;
    Ok((rest, CommandBody::Lsub { reference, pattern }))
}

/// `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"`
pub(crate) fn status(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    let (rest, items) = arg(rest, "status items", status_att_list)?;
    Ok((rest, CommandBody::Status { mailbox, items }))
}

/// `"(" status-att *(SP status-att) ")"`
/// `status-att = "MESSAGES" / "RECENT" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN"`
/// (and `"SIZE"`, RFC 8438; `"DELETED"`, RFC 9051, which the session takes
/// only from an IMAP4rev2 client)
pub(super) fn status_att_list(input: &[u8]) -> PResult<'_, Vec<StatusItem>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut items = Vec::new();
    loop {
        let (tail, word) = commit(atom(rest), || "Invalid status item".into())?;
        items.push(match word.to_ascii_uppercase().as_slice() {
            b"MESSAGES" => StatusItem::Messages,
            b"RECENT" => StatusItem::Recent,
            b"UIDNEXT" => StatusItem::UidNext,
            b"UIDVALIDITY" => StatusItem::UidValidity,
            b"UNSEEN" => StatusItem::Unseen,
            b"SIZE" => StatusItem::Size,
            b"DELETED" => StatusItem::Deleted,
            b"APPENDLIMIT" => StatusItem::AppendLimit,
            _ => return fail(format!("Unknown status item {}", printable(word))),
        });
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, items)),
            _ => return fail("Missing ')' after status items"),
        }
    }
}

/// `append = "APPEND" SP mailbox 1*append-message` (RFC 3502 §6.3.11)
/// `append-message = append-opts SP append-data`
/// `append-opts = [SP flag-list] [SP date-time]`
/// (RFC 3516: `append-data = literal / literal8`)
///
/// RFC 3501's single message is the case of one `append-message`.
pub(crate) fn append(input: &[u8]) -> PResult<'_, CommandBody> {
    let (mut rest, mailbox) = arg(input, "mailbox name", mailbox)?;
    let mut messages = Vec::new();
    loop {
        let (tail, message) = append_message(rest)?;
        messages.push(message);
        rest = tail;
        // Another message follows a space; the line's end is the caller's.
        if !rest.starts_with(b" ") {
            return Ok((rest, CommandBody::Append { mailbox, messages }));
        }
    }
}

/// `append-message = [SP flag-list] [SP date-time] SP append-data`
/// (RFC 3502; the leading SP of RFC 3502's `append-opts` folded in;
/// `append-data` from RFC 4469 §5).
fn append_message(input: &[u8]) -> PResult<'_, AppendMessage> {
    let mut rest = input;
    let mut flags = Vec::new();
    if rest.starts_with(b" (") {
        (rest, flags) = arg(rest, "flag list", flag_list)?;
    }
    let mut date = None;
    if rest.starts_with(b" \"") {
        let (tail, d) = arg(rest, "date-time", date_time)?;
        (rest, date) = (tail, Some(d));
    }
    let (rest, data) = arg(rest, "message literal", append_data)?;
    Ok((rest, AppendMessage { flags, date, data }))
}

/// At most this many parts in one CATENATE: each URL may cost a mailbox
/// open, and real clients send a handful.
const MAX_CAT_PARTS: usize = 100;

/// `append-data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"`
fn append_data(input: &[u8]) -> PResult<'_, AppendData> {
    let Some(rest) = strip_keyword(input, b"CATENATE") else {
        let (rest, bytes) = literal_or_literal8(input)?;
        return Ok((rest, AppendData::Literal(bytes.to_vec())));
    };
    let Some(mut rest) = rest.strip_prefix(b" (") else {
        return fail("Missing '(' after CATENATE");
    };
    let mut parts = Vec::new();
    loop {
        if parts.len() >= MAX_CAT_PARTS {
            return fail(format!("More than {MAX_CAT_PARTS} CATENATE parts"));
        }
        let (tail, part) = commit(cat_part(rest), || "Invalid CATENATE part".into())?;
        parts.push(part);
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, AppendData::Catenate(parts))),
            _ => return fail("Missing ')' after CATENATE parts"),
        }
    }
}

/// `cat-part = text-literal / url`
/// `text-literal = "TEXT" SP literal` (RFC 3516: or `literal8`)
/// `url = "URL" SP astring`
fn cat_part(input: &[u8]) -> PResult<'_, CatPart> {
    if let Some(rest) = strip_keyword(input, b"TEXT") {
        let (rest, bytes) = arg(rest, "CATENATE text", literal_or_literal8)?;
        return Ok((rest, CatPart::Text(bytes.to_vec())));
    }
    if let Some(rest) = strip_keyword(input, b"URL") {
        let (rest, url) = arg(rest, "CATENATE URL", astring)?;
        return Ok((rest, CatPart::Url(url.into_owned())));
    }
    mismatch()
}

/// `literal / literal8`
fn literal_or_literal8(input: &[u8]) -> PResult<'_, &[u8]> {
    if input.starts_with(b"~") {
        literal8(input)
    } else {
        literal(input)
    }
}

/// `input` after `keyword` (any case) when a space or `(` follows it.
fn strip_keyword<'a>(input: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let head = input.get(..keyword.len())?;
    let rest = input.get(keyword.len()..)?;
    (head.eq_ignore_ascii_case(keyword) && matches!(rest.first(), Some(b' ' | b'(')))
        .then_some(rest)
}

// --- selected state (RFC 3501 §6.4)

/// `store = "STORE" SP sequence-set SP store-att-flags`
/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))`
pub(crate) fn store(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (rest, set) = arg(input, "sequence set", sequence_set)?;
    let (rest, (mode, response)) = arg(rest, "store item", store_item)?;
    let (rest, flags) = arg(rest, "flags", store_flags)?;
    Ok((
        rest,
        CommandBody::Store {
            set,
            mode,
            response,
            flags,
            numbering,
        },
    ))
}

/// `["+" / "-"] "FLAGS" [".SILENT"]`
fn store_item(input: &[u8]) -> PResult<'_, (StoreMode, StoreResponse)> {
    let (rest, word) = atom(input)?;
    let upper = word.to_ascii_uppercase();
    let (mode, name) = match upper.as_slice() {
        [b'+', name @ ..] => (StoreMode::Add, name),
        [b'-', name @ ..] => (StoreMode::Remove, name),
        name => (StoreMode::Replace, name),
    };
    let response = match name {
        b"FLAGS" => StoreResponse::Answer,
        b"FLAGS.SILENT" => StoreResponse::Silent,
        _ => return fail(format!("Unknown store item {}", printable(word))),
    };
    Ok((rest, (mode, response)))
}

/// `flag-list / (flag *(SP flag))`
fn store_flags(input: &[u8]) -> PResult<'_, Vec<Flag>> {
    if input.starts_with(b"(") {
        return flag_list(input);
    }
    let (mut rest, first) = flag(input)?;
    let mut flags = vec![first];
    while rest.starts_with(b" ") {
        let (tail, f) = arg(rest, "flag", flag)?;
        flags.push(f);
        rest = tail;
    }
    Ok((rest, flags))
}

/// `copy = "COPY" SP sequence-set SP mailbox`
pub(crate) fn copy(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (rest, (set, mailbox)) = set_and_mailbox(input)?;
    Ok((
        rest,
        CommandBody::Copy {
            set,
            mailbox,
            numbering,
        },
    ))
}

/// `move = "MOVE" SP sequence-set SP mailbox` (RFC 6851 §4)
pub(crate) fn move_to(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (rest, (set, mailbox)) = set_and_mailbox(input)?;
    Ok((
        rest,
        CommandBody::Move {
            set,
            mailbox,
            numbering,
        },
    ))
}

/// `SP sequence-set SP mailbox`, the arguments COPY and MOVE share.
fn set_and_mailbox(input: &[u8]) -> PResult<'_, (SequenceSet, MailboxName)> {
    let (rest, set) = arg(input, "sequence set", sequence_set)?;
    let (rest, mailbox) = arg(rest, "mailbox name", mailbox)?;
    Ok((rest, (set, mailbox)))
}

/// `uid-expunge = "UID" SP "EXPUNGE" SP sequence-set` (RFC 4315)
pub(crate) fn uid_expunge(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, set) = arg(input, "sequence set", sequence_set)?;
    Ok((rest, CommandBody::UidExpunge(set)))
}
