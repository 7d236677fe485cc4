//! What a chat asked for: how often, when, in which zone, what, in which language.
//!
//! Plain data, validated on construction (`LocalTime::parse`, `Zone::parse`), stored by
//! `store/` as versioned JSON. Nothing here names a person: a subscription is a chat id and
//! its settings.

use crate::content::Lang;
use chrono::Weekday;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// The zone offered first: the organisations' readers are mostly in Azerbaijan.
pub const DEFAULT_ZONE: &str = "Asia/Baku";

/// Zones offered as buttons before "type any zone".
pub const LIKELY_ZONES: [&str; 6] =
    ["Asia/Baku", "Europe/Moscow", "Europe/Istanbul", "Europe/Berlin", "Europe/London", "UTC"];

/// Times offered as buttons before "type any time".
pub const LIKELY_TIMES: [&str; 5] = ["07:00", "09:00", "12:00", "18:00", "21:00"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Private,
    Group,
    Channel,
}

impl ChatKind {
    /// Groups and channels share Telegram's 20-messages-a-minute limit.
    pub fn is_many(self) -> bool {
        !matches!(self, ChatKind::Private)
    }
}

/// A setting the settings card asked to be typed ("Other time…", "Other zone…").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Question {
    Time,
    Zone,
}

/// A question waiting for its typed answer: which chat's settings it is about (the chat it was
/// asked in, or a channel configured from there), and until when an answer is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingQuestion {
    pub target: i64,
    pub question: Question,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "every")]
pub enum Frequency {
    Daily,
    Weekly {
        #[serde(with = "weekday_serde")]
        day: Weekday,
    },
    Off,
}

/// A time of day, minutes since midnight. Exists only valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(u16);

impl LocalTime {
    /// Parses `H:MM`, `HH:MM` or `HH.MM` (24-hour): ASCII digits only, so neither a sign
    /// (`7:+5`) nor a one-digit minute (`7:5`, 07:05 or 07:50?) is taken on a guess.
    pub fn parse(input: &str) -> Option<LocalTime> {
        let (h, m) = input.trim().split_once([':', '.'])?;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !(1..=2).contains(&h.len()) || m.len() != 2 || !digits(h) || !digits(m) {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(LocalTime(h * 60 + m))
    }

    pub fn hour(self) -> u32 {
        u32::from(self.0 / 60)
    }

    pub fn minute(self) -> u32 {
        u32::from(self.0 % 60)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl TryFrom<String> for LocalTime {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        LocalTime::parse(&s).ok_or_else(|| format!("bad time {s:?}"))
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

/// An IANA time zone. Exists only valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(pub chrono_tz::Tz);

impl Zone {
    /// Parses an IANA name, forgiving case and spaces for underscores (`europe/new york`).
    pub fn parse(input: &str) -> Option<Zone> {
        let cleaned = input.trim().replace(' ', "_");
        if let Ok(tz) = chrono_tz::Tz::from_str(&cleaned) {
            return Some(Zone(tz));
        }
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(&cleaned))
            .map(|tz| Zone(*tz))
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone(chrono_tz::Asia::Baku)
    }
}

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Zone::parse(&s).ok_or_else(|| format!("unknown time zone {s:?}"))
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> String {
        z.name().to_string()
    }
}

/// How the prisoner list appears in a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrisonerNews {
    /// No prisoner news, and no status-change alerts.
    Off,
    /// The whole list in every digest, plus alerts.
    List,
    /// Only what changed since this chat's last digest, plus alerts.
    Changes,
}

/// What a digest holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    pub slogan: bool,
    pub excerpt: bool,
    pub prisoners: PrisonerNews,
}

impl PrisonerNews {
    pub fn code(self) -> &'static str {
        match self {
            PrisonerNews::Off => "off",
            PrisonerNews::List => "list",
            PrisonerNews::Changes => "changes",
        }
    }

    pub fn from_code(code: &str) -> Option<PrisonerNews> {
        [PrisonerNews::Off, PrisonerNews::List, PrisonerNews::Changes]
            .into_iter()
            .find(|p| p.code() == code)
    }
}

impl Default for Contents {
    fn default() -> Contents {
        Contents { slogan: true, excerpt: true, prisoners: PrisonerNews::Changes }
    }
}

/// One change to a subscription, as a settings button or typed input asks for it. Setting
/// values, never toggling, so a button pressed twice (or an update delivered twice) is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Daily,
    Weekly(Weekday),
    Off,
    Time(LocalTime),
    Zone(Zone),
    Slogan(bool),
    Excerpt(bool),
    Prisoners(PrisonerNews),
    Lang(Lang),
}

impl Change {
    /// Applies the change to a subscription's settings (not its schedule: see `app`). Turning
    /// digests off remembers how often they came, for [`Subscription::resume`].
    pub fn apply(self, sub: &mut Subscription) {
        match self {
            Change::Daily => sub.frequency = Frequency::Daily,
            Change::Weekly(day) => sub.frequency = Frequency::Weekly { day },
            Change::Off => {
                if sub.frequency != Frequency::Off {
                    sub.resumes = Some(sub.frequency);
                }
                sub.frequency = Frequency::Off;
            }
            Change::Time(t) => sub.time = t,
            Change::Zone(z) => sub.zone = z,
            Change::Slogan(on) => sub.contents.slogan = on,
            Change::Excerpt(on) => sub.contents.excerpt = on,
            Change::Prisoners(p) => sub.contents.prisoners = p,
            Change::Lang(l) => sub.lang = l,
        }
    }
}

/// A chat's subscription and the little state its digests need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub chat_id: i64,
    pub kind: ChatKind,
    pub frequency: Frequency,
    pub time: LocalTime,
    pub zone: Zone,
    pub contents: Contents,
    pub lang: Lang,
    /// False once Telegram said the chat is gone (blocked, kicked, deleted): kept for counts
    /// and reactivated when the chat comes back.
    pub active: bool,
    /// When the next digest is due (Unix seconds, UTC); `None` when not scheduled.
    pub next_due: Option<i64>,
    /// When the last digest was composed (Unix seconds, UTC).
    pub last_digest: Option<i64>,
    /// Excerpts already sent in this round of the rotation (hashes of their keys).
    #[serde(default)]
    pub seen_excerpts: Vec<u32>,
    /// The prisoner-status change log position this chat has been told about.
    #[serde(default)]
    pub prisoner_news_seen: u64,
    /// How often digests came before they were turned off (`/unsubscribe`, or Off on the
    /// card), so that `/subscribe` brings back that schedule rather than a default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<Frequency>,
    /// When the chat was found gone (Unix seconds): a deactivated chat is erased once the
    /// grace period after this has passed (see the store's retention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<i64>,
}

impl Subscription {
    /// A new chat's defaults: daily at 09:00 Baku time, slogan + excerpt + prisoner changes.
    pub fn new(chat_id: i64, kind: ChatKind, lang: Lang) -> Subscription {
        Subscription {
            chat_id,
            kind,
            frequency: Frequency::Daily,
            time: LocalTime(9 * 60),
            zone: Zone::default(),
            contents: Contents::default(),
            lang,
            active: true,
            next_due: None,
            last_digest: None,
            seen_excerpts: Vec::new(),
            prisoner_news_seen: 0,
            resumes: None,
            deactivated_at: None,
        }
    }

    /// Turns digests back on after they were turned off: the frequency chosen before, daily
    /// when none was (a channel registered with digests off). Active again either way.
    pub fn resume(&mut self) {
        self.active = true;
        self.deactivated_at = None;
        if self.frequency == Frequency::Off {
            self.frequency = self.resumes.unwrap_or(Frequency::Daily);
        }
        self.resumes = None;
    }

    /// Whether digests go out to this chat.
    pub fn receives_digests(&self) -> bool {
        self.active
            && self.frequency != Frequency::Off
            && (self.contents.slogan
                || self.contents.excerpt
                || self.contents.prisoners != PrisonerNews::Off)
    }

    /// Whether status-change alerts go out to this chat.
    pub fn receives_alerts(&self) -> bool {
        self.active
            && self.frequency != Frequency::Off
            && self.contents.prisoners != PrisonerNews::Off
    }
}

/// Weekdays by their English three-letter names, for storage and callback data.
pub fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// The week from Monday, as buttons list it.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

pub fn weekday_from_code(code: &str) -> Option<Weekday> {
    WEEK.into_iter().find(|d| weekday_code(*d) == code)
}

mod weekday_serde {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::weekday_code(*day))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let code = String::deserialize(d)?;
        super::weekday_from_code(&code)
            .ok_or_else(|| D::Error::custom(format!("bad weekday {code:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_strictly() {
        assert_eq!(LocalTime::parse("9:05").unwrap().to_string(), "09:05");
        assert_eq!(LocalTime::parse("21.30").unwrap().to_string(), "21:30");
        for bad in ["24:00", "12:60", "noon", "12", "-1:00", "+1:00", "", "7:+5", "7:5", "007:00"] {
            assert!(LocalTime::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn zones_parse_forgivingly() {
        assert_eq!(Zone::parse("Europe/Berlin").unwrap().name(), "Europe/Berlin");
        assert_eq!(Zone::parse("europe/berlin").unwrap().name(), "Europe/Berlin");
        assert_eq!(Zone::parse("America/New York").unwrap().name(), "America/New_York");
        assert!(Zone::parse("Mars/Olympus").is_none());
    }

    #[test]
    fn resuming_brings_back_the_frequency_turned_off() {
        let mut sub = Subscription::new(1, ChatKind::Private, Lang::En);
        Change::Weekly(Weekday::Mon).apply(&mut sub);
        Change::Off.apply(&mut sub);
        // Off twice (a repeated update) must not forget what came before the first.
        Change::Off.apply(&mut sub);
        assert_eq!(sub.frequency, Frequency::Off);
        sub.resume();
        assert_eq!(sub.frequency, Frequency::Weekly { day: Weekday::Mon });
        assert_eq!(sub.resumes, None);
        // Never chosen (a channel registered with digests off): daily.
        let mut channel = Subscription::new(-1, ChatKind::Channel, Lang::En);
        channel.frequency = Frequency::Off;
        channel.resume();
        assert_eq!(channel.frequency, Frequency::Daily);
        // Stored before this field existed: still read, resumed daily.
        let old = r#"{"chat_id":1,"kind":"private","frequency":{"every":"off"},"time":"21:00","zone":"Asia/Baku","contents":{"slogan":true,"excerpt":true,"prisoners":"changes"},"lang":"en","active":true,"next_due":null,"last_digest":null}"#;
        let mut old: Subscription = serde_json::from_str(old).unwrap();
        old.resume();
        assert_eq!(old.frequency, Frequency::Daily);
    }

    #[test]
    fn subscriptions_round_trip_as_json() {
        let mut sub = Subscription::new(-100, ChatKind::Group, Lang::Az);
        sub.frequency = Frequency::Weekly { day: Weekday::Fri };
        let json = serde_json::to_string(&sub).unwrap();
        assert!(json.contains("\"every\":\"weekly\",\"day\":\"fri\""), "{json}");
        assert_eq!(serde_json::from_str::<Subscription>(&json).unwrap(), sub);
    }
}
