//! RFC 5267 §4.3 end to end: a client that applies every ADDTO and
//! REMOVEFROM as §4.3.3 and §4.3.4 say (in order, positions counted as it
//! goes, EXPUNGE renumbering its sequence numbers) must hold, after any
//! run of STORE, EXPUNGE and APPEND, exactly what the same search or sort
//! run afresh answers.

use super::*;
use crate::parser::tests::Rng;

/// A live result as the client keeps it.
struct Model {
    tag: &'static str,
    command: &'static str,
    uid: bool,
    sorted: bool,
    list: Vec<u32>,
}

/// `1:3,7` (or `5,3:4`, a sort order) as the numbers it names, in order.
fn numbers(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                assert!(a < b, "{set}: a range runs upwards");
                out.extend(a..=b);
            }
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

fn apply(model: &mut Model, item: &str, pairs: &[&str]) {
    for pair in pairs.chunks(2) {
        let pos: usize = pair[0].parse().unwrap();
        let set = numbers(pair[1]);
        if model.sorted {
            assert!(pos > 0, "a SORT context has positions: {item} {pairs:?}");
        } else {
            assert_eq!(pos, 0, "a SEARCH context uses 0: {item} {pairs:?}");
        }
        match (item, pos) {
            ("REMOVEFROM", 0) => model.list.retain(|n| !set.contains(n)),
            ("REMOVEFROM", p) => {
                let got: Vec<u32> = model.list.drain(p - 1..p - 1 + set.len()).collect();
                assert_eq!(got, set, "REMOVEFROM ({p} ...) names what stands there");
            }
            ("ADDTO", 0) => {
                model.list.extend(&set);
                model.list.sort_unstable();
            }
            ("ADDTO", p) => {
                for (k, n) in set.into_iter().enumerate() {
                    model.list.insert(p - 1 + k, n);
                }
            }
            _ => panic!("unexpected {item}"),
        }
    }
}

/// Feeds the responses to the models: ESEARCH updates, and EXPUNGE's
/// renumbering of the sequence-number contexts.
fn follow(models: &mut [Model], output: &str) {
    for line in output.lines() {
        if let Some(n) = line
            .strip_prefix("* ")
            .and_then(|r| r.strip_suffix(" EXPUNGE"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            for m in models.iter_mut().filter(|m| !m.uid) {
                assert!(
                    !m.list.contains(&n),
                    "{}: REMOVEFROM must come before * {n} EXPUNGE",
                    m.tag
                );
                for x in m.list.iter_mut().filter(|x| **x > n) {
                    *x -= 1;
                }
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("* ESEARCH (TAG \"") else {
            continue;
        };
        let (tag, rest) = rest.split_once("\")").unwrap();
        let Some(m) = models.iter_mut().find(|m| m.tag == tag) else {
            continue;
        };
        let rest = rest.strip_prefix(" UID").unwrap_or(rest);
        let mut words = rest.split_whitespace();
        while let Some(item) = words.next() {
            let mut group = Vec::new();
            for w in words.by_ref() {
                let w = w.trim_start_matches('(');
                let end = w.ends_with(')');
                group.push(w.trim_end_matches(')'));
                if end {
                    break;
                }
            }
            apply(m, item, &group);
        }
    }
}

fn message(i: u32, subject: &str, from: &str) -> String {
    format!(
        "From {from}@example.org Mon Jan  {day} 10:00:00 2024\nFrom: {from}@example.org\nSubject: {subject}\nDate: Mon, {day} Jan 2024 10:00:00 +0000\n\nBody {i}\n\n",
        day = 1 + i % 9
    )
}

#[test]
fn clients_following_updates_hold_what_a_fresh_search_finds() {
    let subjects = ["b", "a", "c", "b", "Re: a", "d"];
    let froms = ["zed", "amy", "kim", "bob"];
    let mut mbox = String::new();
    for i in 0..14u32 {
        mbox.push_str(&message(
            i,
            subjects[i as usize % subjects.len()],
            froms[i as usize % froms.len()],
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::write(&inbox, &mbox).unwrap();
    let mut s = Session::new(super::tests::temp_context(dir.path()), Start::Preauth);
    let run = |s: &mut Session, command: &str| -> String {
        let mut out = ResponseWriter::new(Vec::new());
        s.receive(format!("{command}\r\n").as_bytes(), &mut out)
            .unwrap();
        String::from_utf8(out.into_inner().unwrap()).unwrap()
    };
    assert!(run(&mut s, "s SELECT INBOX").contains("s OK"));
    let mut models = vec![
        Model {
            tag: "S1",
            command: "SEARCH RETURN (UPDATE ALL) SEEN",
            uid: false,
            sorted: false,
            list: vec![],
        },
        Model {
            tag: "S2",
            command: "UID SEARCH RETURN (UPDATE ALL) OR FLAGGED SUBJECT b",
            uid: true,
            sorted: false,
            list: vec![],
        },
        Model {
            tag: "S3",
            command: "SORT RETURN (UPDATE ALL) (REVERSE SUBJECT) UTF-8 UNSEEN",
            uid: false,
            sorted: true,
            list: vec![],
        },
        Model {
            tag: "S4",
            command: "UID SORT RETURN (UPDATE ALL) (FROM DATE) UTF-8 NOT DELETED FLAGGED",
            uid: true,
            sorted: true,
            list: vec![],
        },
        Model {
            tag: "S5",
            command: "SORT RETURN (UPDATE ALL) (SIZE) UTF-8 OR 2:4 DELETED",
            uid: false,
            sorted: true,
            list: vec![],
        },
    ];
    let all_of = |output: &str, tag: &str| -> Vec<u32> {
        let line = output
            .lines()
            .find(|l| l.starts_with(&format!("* ESEARCH (TAG \"{tag}\")")))
            .unwrap_or_else(|| panic!("no ESEARCH for {tag}: {output}"));
        line.split_once(" ALL ")
            .map(|(_, set)| numbers(set))
            .unwrap_or_default()
    };
    for m in &mut models {
        let out = run(&mut s, &format!("{} {}", m.tag, m.command));
        m.list = all_of(&out, m.tag);
    }
    let mut rng = Rng::new(0x5eed_5267);
    let flags = ["\\Seen", "\\Flagged", "\\Deleted", "\\Seen \\Flagged"];
    for step in 0..120 {
        let command = match rng.below(10) {
            0 => "EXPUNGE".to_string(),
            1 => {
                let i = 100 + step;
                let text = message(i, subjects[i as usize % 6], froms[i as usize % 4])
                    .replace('\n', "\r\n");
                let text = text.split_once("\r\n").unwrap().1.to_string();
                format!("APPEND INBOX (\\Seen) {{{}+}}\r\n{text}", text.len())
            }
            _ => {
                let a = rng.below(16) + 1;
                let b = rng.below(16) + 1;
                let sign = if rng.below(2) == 0 { '+' } else { '-' };
                let uid = if rng.below(3) == 0 { "UID " } else { "" };
                let flag = flags[rng.below(4) as usize];
                format!("{uid}STORE {a}:{b} {sign}FLAGS.SILENT ({flag})")
            }
        };
        let out = run(&mut s, &format!("c{step} {command}"));
        assert!(
            out.contains(&format!("c{step} OK")) || out.contains(&format!("c{step} BAD")),
            "{command}: {out}"
        );
        follow(&mut models, &out);
        for i in 0..models.len() {
            let fresh = models[i]
                .command
                .replace("RETURN (UPDATE ALL)", "RETURN (ALL)");
            let tag = format!("f{step}{}", models[i].tag);
            let out = run(&mut s, &format!("{tag} {fresh}"));
            follow(&mut models, &out);
            assert_eq!(
                models[i].list,
                all_of(&out, &tag),
                "{} after step {step} ({command})",
                models[i].tag
            );
        }
    }
}
