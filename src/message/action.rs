//! What a button asks for, encoded in Telegram's callback data (at most 64 bytes), and what a
//! deep link (`/start <payload>`) opens.
//!
//! Callback data comes back from the client and may be forged or stale: decoding validates
//! every part, and the views re-check that what it names still exists.

use crate::{
    broadcast::Audience,
    content::{ExcerptKey, Group, Lang},
    subscription::{Change, LocalTime, PrisonerNews, Zone, weekday_code, weekday_from_code},
};

/// Telegram's limit on callback data.
pub const CALLBACK_LIMIT: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A random excerpt (the menu's button).
    Excerpt,
    /// Another excerpt than `after`: from the same statement, or from any.
    AnotherExcerpt { after: ExcerptKey, same_statement: bool },
    /// A page of a statement (1-based) in a language.
    Read { statement: String, lang: Lang, page: usize },
    /// Page 1 of a statement, as a new message (from lists; `Read` pages in place).
    Open { statement: String, lang: Lang },
    /// The full statement at the page holding an excerpt.
    ReadAt(ExcerptKey),
    /// Another slogan than this one.
    AnotherSlogan { after: Option<String> },
    /// The whole prisoner list, as a new message (from the menu and cards).
    PrisonerList,
    /// The prisoner list filtered to one group or all, in place of the list it is on.
    Prisoners(Option<Group>),
    /// One prisoner's card.
    Prisoner(String),
    /// The list of statements.
    Statements,
    /// Set the chat's language.
    SetLang(Lang),
    /// Something on a subscription's settings card; `chat` is the subscribed chat (a channel's
    /// card is shown in its administrator's private chat).
    Settings { chat: i64, step: SettingsStep },
    /// A button that only shows information (the page counter).
    Nothing,
    /// Operators: choose a broadcast draft's audience.
    BroadcastAudience { draft: u64, audience: Audience },
    /// Operators: send a broadcast draft (once, however often it is pressed).
    BroadcastSend { draft: u64 },
    /// Operators: drop a broadcast draft.
    BroadcastDiscard { draft: u64 },
}

impl Action {
    /// Encodes for callback data. Ids are at most 40 bytes, so every action fits in 64.
    pub fn encode(&self) -> String {
        let key = |k: &ExcerptKey| format!("{}:{}:{}", k.statement, k.lang, k.paragraph);
        match self {
            Action::Excerpt => "x".to_string(),
            Action::AnotherExcerpt { after, same_statement } => {
                format!("y:{}:{}", key(after), u8::from(*same_statement))
            }
            Action::Read { statement, lang, page } => format!("r:{statement}:{lang}:{page}"),
            Action::Open { statement, lang } => format!("o:{statement}:{lang}"),
            Action::ReadAt(k) => format!("f:{}", key(k)),
            Action::AnotherSlogan { after } => format!("s:{}", after.as_deref().unwrap_or("")),
            Action::PrisonerList => "m".to_string(),
            Action::Prisoners(group) => format!("p:{}", group.map_or("*", Group::code)),
            Action::Prisoner(id) => format!("c:{id}"),
            Action::Statements => "l".to_string(),
            Action::SetLang(lang) => format!("g:{lang}"),
            Action::Settings { chat, step } => format!("S:{chat}:{}", step.encode()),
            Action::Nothing => "n".to_string(),
            Action::BroadcastAudience { draft, audience } => {
                format!("ba:{draft}:{}", audience.code())
            }
            Action::BroadcastSend { draft } => format!("bs:{draft}"),
            Action::BroadcastDiscard { draft } => format!("bx:{draft}"),
        }
    }

    /// Decodes callback data; `None` for anything malformed.
    pub fn decode(data: &str) -> Option<Action> {
        if data.len() > CALLBACK_LIMIT {
            return None;
        }
        if let Some(rest) = data.strip_prefix("S:") {
            let mut parts = rest.splitn(3, ':');
            let (chat, key, value) = (parts.next()?, parts.next()?, parts.next()?);
            let chat = chat.parse::<i64>().ok().filter(|c| *c != 0 && chat.len() <= 20)?;
            return Some(Action::Settings { chat, step: SettingsStep::decode(key, value)? });
        }
        let (tag, rest) = data.split_once(':').unwrap_or((data, ""));
        let parts: Vec<&str> = rest.split(':').collect();
        Some(match (tag, parts.as_slice()) {
            ("x", [""]) => Action::Excerpt,
            ("y", [s, l, p, same]) => Action::AnotherExcerpt {
                after: excerpt_key(s, l, p)?,
                same_statement: match *same {
                    "0" => false,
                    "1" => true,
                    _ => return None,
                },
            },
            ("r", [s, l, p]) => Action::Read {
                statement: id(s)?,
                lang: lang(l)?,
                page: number(p).filter(|&p| p >= 1)?,
            },
            ("o", [s, l]) => Action::Open { statement: id(s)?, lang: lang(l)? },
            ("f", [s, l, p]) => Action::ReadAt(excerpt_key(s, l, p)?),
            ("s", [""]) => Action::AnotherSlogan { after: None },
            ("s", [s]) => Action::AnotherSlogan { after: Some(id(s)?) },
            ("m", [""]) => Action::PrisonerList,
            ("p", ["*"]) => Action::Prisoners(None),
            ("p", [g]) => Action::Prisoners(Some(Group::from_code(g)?)),
            ("c", [p]) => Action::Prisoner(id(p)?),
            ("l", [""]) => Action::Statements,
            ("g", [l]) => Action::SetLang(lang(l)?),
            ("n", [""]) => Action::Nothing,
            ("ba", [d, a]) => {
                Action::BroadcastAudience { draft: draft_id(d)?, audience: Audience::from_code(a)? }
            }
            ("bs", [d]) => Action::BroadcastSend { draft: draft_id(d)? },
            ("bx", [d]) => Action::BroadcastDiscard { draft: draft_id(d)? },
            _ => return None,
        })
    }

    /// Whether only operators may press it (checked again on every press).
    pub fn is_operators(&self) -> bool {
        matches!(
            self,
            Action::BroadcastAudience { .. }
                | Action::BroadcastSend { .. }
                | Action::BroadcastDiscard { .. }
        )
    }

    /// Whether the answer replaces the message the button is on (paging, filtering) rather than
    /// arriving as a new message.
    pub fn edits_in_place(&self) -> bool {
        matches!(self, Action::Read { .. } | Action::Prisoners(_))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingsStep {
    Set(Change),
    AskTime,
    AskZone,
    Open,
    Done,
}

impl SettingsStep {
    fn encode(self) -> String {
        match self {
            SettingsStep::Set(change) => match change {
                Change::Daily => "f:daily".into(),
                Change::Off => "f:off".into(),
                Change::Weekly(day) => format!("w:{}", weekday_code(day)),
                Change::Time(t) => format!("t:{:02}{:02}", t.hour(), t.minute()),
                Change::Zone(z) => format!("z:{}", z.name()),
                Change::Slogan(on) => format!("s:{}", u8::from(on)),
                Change::Excerpt(on) => format!("e:{}", u8::from(on)),
                Change::Prisoners(p) => format!("p:{}", p.code()),
                Change::Lang(l) => format!("l:{l}"),
            },
            SettingsStep::AskTime => "a:time".into(),
            SettingsStep::AskZone => "a:zone".into(),
            SettingsStep::Open => "o:".into(),
            SettingsStep::Done => "x:".into(),
        }
    }

    fn decode(key: &str, value: &str) -> Option<SettingsStep> {
        let flag = |v: &str| match v {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        };
        Some(match (key, value) {
            ("f", "daily") => SettingsStep::Set(Change::Daily),
            ("f", "off") => SettingsStep::Set(Change::Off),
            ("w", day) => SettingsStep::Set(Change::Weekly(weekday_from_code(day)?)),
            // `get`, not slicing: a forged value may put a multi-byte character across the
            // split ("a€" is four bytes), and slicing there would panic.
            ("t", hhmm) if hhmm.len() == 4 => SettingsStep::Set(Change::Time(LocalTime::parse(
                &format!("{}:{}", hhmm.get(..2)?, hhmm.get(2..)?),
            )?)),
            ("z", name) => {
                SettingsStep::Set(Change::Zone(Zone::parse(name).filter(|z| z.name() == name)?))
            }
            ("s", v) => SettingsStep::Set(Change::Slogan(flag(v)?)),
            ("e", v) => SettingsStep::Set(Change::Excerpt(flag(v)?)),
            ("p", v) => SettingsStep::Set(Change::Prisoners(PrisonerNews::from_code(v)?)),
            ("l", v) => SettingsStep::Set(Change::Lang(lang(v)?)),
            ("a", "time") => SettingsStep::AskTime,
            ("a", "zone") => SettingsStep::AskZone,
            ("o", "") => SettingsStep::Open,
            ("x", "") => SettingsStep::Done,
            _ => return None,
        })
    }
}

fn draft_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// What a deep link `t.me/<bot>?start=<payload>` opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    Menu,
    Prisoners(Option<Group>),
    Statements,
    Slogan(Option<String>),
    Excerpt(ExcerptKey),
    Prisoner(String),
    Read(String),
}

impl Start {
    /// Payloads use only `A-Za-z0-9_-`, as Telegram requires, and at most 64 characters.
    pub fn encode(&self) -> String {
        match self {
            Start::Menu => String::new(),
            Start::Prisoners(None) => "prisoners".into(),
            Start::Prisoners(Some(g)) => format!("g_{}", g.code()),
            Start::Statements => "statements".into(),
            Start::Slogan(None) => "slogan".into(),
            Start::Slogan(Some(id)) => format!("s_{id}"),
            Start::Excerpt(k) => format!("e_{}_{}_{}", k.statement, k.lang, k.paragraph),
            Start::Prisoner(id) => format!("p_{id}"),
            Start::Read(id) => format!("r_{id}"),
        }
    }

    /// Decodes a payload; `None` for anything malformed (the caller shows the menu and a notice).
    pub fn decode(payload: &str) -> Option<Start> {
        let payload = payload.trim();
        if payload.len() > CALLBACK_LIMIT {
            return None;
        }
        Some(match payload {
            "" => Start::Menu,
            "prisoners" => Start::Prisoners(None),
            "statements" => Start::Statements,
            "slogan" | "slogans" => Start::Slogan(None),
            _ => {
                let (tag, rest) = payload.split_once('_')?;
                match tag {
                    "g" => Start::Prisoners(Some(Group::from_code(rest)?)),
                    "s" => Start::Slogan(Some(id(rest)?)),
                    "p" => Start::Prisoner(id(rest)?),
                    "r" => Start::Read(id(rest)?),
                    "e" => {
                        let mut parts = rest.rsplitn(3, '_');
                        let (p, l, s) = (parts.next()?, parts.next()?, parts.next()?);
                        Start::Excerpt(excerpt_key(s, l, p)?)
                    }
                    _ => return None,
                }
            }
        })
    }
}

fn id(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= crate::content::parse::MAX_ID_LEN
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| s.to_string())
}

fn lang(s: &str) -> Option<Lang> {
    Lang::ALL.into_iter().find(|l| l.code() == s)
}

fn number(s: &str) -> Option<usize> {
    (s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

fn excerpt_key(s: &str, l: &str, p: &str) -> Option<ExcerptKey> {
    Some(ExcerptKey { statement: id(s)?, lang: lang(l)?, paragraph: number(p)? })
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn long_id() -> String {
        "a".repeat(crate::content::parse::MAX_ID_LEN)
    }

    /// A forged button press once panicked here (slicing inside "€") and stopped the bot.
    #[test]
    fn a_time_with_a_character_across_the_split_is_refused_not_a_panic() {
        for data in ["S:1:t:a€", "S:1:t:€a", "S:-100:t:1é2", "S:1:t:ßß"] {
            assert_eq!(Action::decode(data), None, "{data}");
        }
        assert!(Action::decode("S:1:t:0715").is_some());
    }

    #[test]
    fn every_action_round_trips_within_64_bytes() {
        let key = ExcerptKey { statement: long_id(), lang: Lang::Az, paragraph: 9999 };
        let actions = [
            Action::AnotherExcerpt { after: key.clone(), same_statement: true },
            Action::AnotherExcerpt { after: key.clone(), same_statement: false },
            Action::Excerpt,
            Action::Read { statement: long_id(), lang: Lang::Ru, page: 9999 },
            Action::ReadAt(key),
            Action::Open { statement: long_id(), lang: Lang::Ru },
            Action::AnotherSlogan { after: Some(long_id()) },
            Action::AnotherSlogan { after: None },
            Action::Prisoners(Some(Group::CourierUnion)),
            Action::Prisoners(None),
            Action::PrisonerList,
            Action::Prisoner(long_id()),
            Action::Statements,
            Action::SetLang(Lang::Az),
            Action::Nothing,
            Action::BroadcastAudience { draft: u64::MAX, audience: Audience::Channels },
            Action::BroadcastSend { draft: u64::MAX },
            Action::BroadcastDiscard { draft: 1 },
            Action::Settings {
                chat: -1_001_234_567_890_123,
                step: SettingsStep::Set(Change::Zone(
                    Zone::parse("America/Argentina/ComodRivadavia").unwrap(),
                )),
            },
            Action::Settings {
                chat: 42,
                step: SettingsStep::Set(Change::Weekly(chrono::Weekday::Sun)),
            },
            Action::Settings {
                chat: 42,
                step: SettingsStep::Set(Change::Time(LocalTime::parse("07:05").unwrap())),
            },
            Action::Settings {
                chat: 42,
                step: SettingsStep::Set(Change::Prisoners(PrisonerNews::Changes)),
            },
            Action::Settings { chat: 42, step: SettingsStep::Set(Change::Slogan(false)) },
            Action::Settings { chat: -5, step: SettingsStep::AskZone },
            Action::Settings { chat: -5, step: SettingsStep::Done },
            Action::Settings { chat: -5, step: SettingsStep::Open },
        ];
        for action in actions {
            let data = action.encode();
            assert!(data.len() <= CALLBACK_LIMIT, "{data} is {} bytes", data.len());
            assert_eq!(Action::decode(&data), Some(action));
        }
    }

    #[test]
    fn forged_callback_data_is_refused() {
        for data in [
            "",
            "zz",
            "r:x:en:0",
            "r:x:xx:1",
            "r:X:en:1",
            "r:x:en:1:2",
            "p:poets",
            "c:",
            "x:a:en",
            "y:a:en:1:2",
            "y:a:en:1",
            "r:x:en:99999",
        ] {
            assert_eq!(Action::decode(data), None, "{data}");
        }
        assert_eq!(Action::decode(&"c:".repeat(40)), None);
    }

    #[test]
    fn deep_links_round_trip() {
        let starts = [
            Start::Prisoners(None),
            Start::Prisoners(Some(Group::Journalist)),
            Start::Statements,
            Start::Slogan(Some("world-revolution".into())),
            Start::Excerpt(ExcerptKey {
                statement: "cpa-izmir-speech".into(),
                lang: Lang::Ru,
                paragraph: 7,
            }),
            Start::Prisoner("ulvi-hasanli".into()),
            Start::Read("cpa-izmir-speech".into()),
        ];
        for start in starts {
            let payload = start.encode();
            assert!(payload.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            assert_eq!(Start::decode(&payload), Some(start));
        }
        assert_eq!(Start::decode("e_x_en"), None);
        assert_eq!(Start::decode("<script>"), None);
    }
}
