//! Operators' bulk jobs: broadcasts (drafted, previewed, confirmed once), and withdrawals and
//! corrections of what was sent. Plain data: the store keeps it, the delivery engine sends it,
//! the Telegram adapter shows it.

use crate::subscription::{ChatKind, Frequency, Subscription};
use serde::{Deserialize, Serialize};

/// Who a broadcast goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Users,
    Groups,
    Channels,
    All,
}

impl Audience {
    pub const ALL: [Audience; 4] =
        [Audience::Users, Audience::Groups, Audience::Channels, Audience::All];

    pub fn code(self) -> &'static str {
        match self {
            Audience::Users => "users",
            Audience::Groups => "groups",
            Audience::Channels => "channels",
            Audience::All => "all",
        }
    }

    pub fn from_code(code: &str) -> Option<Audience> {
        Audience::ALL.into_iter().find(|a| a.code() == code)
    }

    /// Whether a chat is in this audience: a chat Telegram has not told us is gone, of the
    /// right kind, that is subscribed (people and groups that unsubscribed are not written to;
    /// a channel counts as long as the bot may post in it).
    pub fn includes(self, sub: &Subscription) -> bool {
        let kind_fits = match self {
            Audience::Users => sub.kind == ChatKind::Private,
            Audience::Groups => sub.kind == ChatKind::Group,
            Audience::Channels => sub.kind == ChatKind::Channel,
            Audience::All => true,
        };
        kind_fits
            && sub.active
            && (sub.kind == ChatKind::Channel || sub.frequency != Frequency::Off)
    }
}

/// How many chats each audience has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AudienceCounts {
    pub users: usize,
    pub groups: usize,
    pub channels: usize,
}

impl AudienceCounts {
    /// Counts as it goes: `subs` may be every subscription, streamed from the store.
    pub fn of(
        subs: impl IntoIterator<Item = impl std::borrow::Borrow<Subscription>>,
    ) -> AudienceCounts {
        let mut counts = AudienceCounts::default();
        for sub in subs {
            let sub = sub.borrow();
            if Audience::Users.includes(sub) {
                counts.users += 1;
            } else if Audience::Groups.includes(sub) {
                counts.groups += 1;
            } else if Audience::Channels.includes(sub) {
                counts.channels += 1;
            }
        }
        counts
    }

    pub fn get(&self, audience: Audience) -> usize {
        match audience {
            Audience::Users => self.users,
            Audience::Groups => self.groups,
            Audience::Channels => self.channels,
            Audience::All => self.users + self.groups + self.channels,
        }
    }
}

/// What a broadcast says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum Body {
    /// Text, as Telegram HTML (the operator's formatting kept).
    Text { html: String },
    /// A message in the operator's chat (a photo, a document, formatted text) copied as it is.
    /// `caption` says whether it can carry a caption (a photo, video, document, audio,
    /// animation or voice note), which is what a correction edits; a sticker, poll or location
    /// can only be withdrawn.
    Copy { from_chat: i64, message_id: i32, caption: bool },
}

/// A broadcast being prepared: shown to its operator with Confirm / Cancel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub operator: i64,
    pub body: Body,
    pub audience: Audience,
    pub created_at: i64,
    pub state: DraftState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum DraftState {
    Open,
    /// Confirmed: queued as this edition. A second confirmation finds this and sends nothing.
    Sent {
        edition: u64,
    },
    Discarded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Broadcast,
    Withdraw,
    Correct,
}

impl JobKind {
    pub fn code(self) -> &'static str {
        match self {
            JobKind::Broadcast => "broadcast",
            JobKind::Withdraw => "withdraw",
            JobKind::Correct => "correct",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    /// Every chat handled (recorded once noticed, so finished jobs are not scanned again).
    Finished,
    Cancelled,
}

/// A bulk job: its messages are an edition in the outbox; its progress is read from the
/// delivery records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub kind: JobKind,
    pub operator: i64,
    /// Chats the job writes to.
    pub total: u64,
    pub started_at: i64,
    pub state: JobState,
    /// The edition a withdrawal or correction acts on.
    pub target: Option<u64>,
    /// Whether a broadcast copied a message (a photo, a document…), so that a correction
    /// edits its caption.
    #[serde(default)]
    pub media: bool,
    /// Whether a broadcast copied a message with no caption to edit (a sticker, a poll…):
    /// it can be withdrawn, not corrected.
    #[serde(default)]
    pub fixed: bool,
    /// Chats that left with `/stop` meanwhile (their records are erased with them).
    #[serde(default)]
    pub erased: u64,
    /// Set while a broadcast is still being queued, a chunk of its audience at a time;
    /// cleared once every chat is queued (or queueing ended). `total` counts the chats
    /// queued so far meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queueing: Option<Queueing>,
}

/// How far queueing a broadcast got: kept in its job, so that a crash mid-way is finished
/// at the next start from where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queueing {
    /// The draft sent (its body and audience make the messages still to queue).
    pub draft: u64,
    /// Where it stopped: the last subscription read, opaque outside the store (a lookup key
    /// of the key epoch below; empty before the first chunk).
    pub after: Vec<u8>,
    /// The key epoch `after` was read under (a key rotation re-keys every subscription).
    pub epoch: u32,
}

impl Job {
    /// A job starting now: nothing counted yet, no target, plain text.
    pub fn running(kind: JobKind, operator: i64, started_at: i64) -> Job {
        Job {
            kind,
            operator,
            total: 0,
            started_at,
            state: JobState::Running,
            target: None,
            media: false,
            fixed: false,
            erased: 0,
            queueing: None,
        }
    }
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: u64,
    pub sent: u64,
    pub failed: u64,
    pub deactivated: u64,
    /// Chats erased by `/stop` before or after they were reached.
    pub erased: u64,
    /// Whether messages of the job still wait in the outbox although every chat has had one
    /// (a withdrawal deletes several messages in a chat).
    pub waiting: bool,
}

impl Progress {
    pub fn done(&self) -> u64 {
        self.sent + self.failed + self.deactivated + self.erased
    }

    pub fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.done())
    }

    pub fn finished(&self) -> bool {
        self.remaining() == 0 && !self.waiting
    }

    /// Chats handled per second since `since` (an earlier reading) was taken `elapsed_secs` ago.
    pub fn rate_since(&self, since: &Progress, elapsed_secs: f64) -> f64 {
        if elapsed_secs <= 0.0 {
            0.0
        } else {
            self.done().saturating_sub(since.done()) as f64 / elapsed_secs
        }
    }

    /// Seconds until done at `rate` chats a second; `None` while nothing moves.
    pub fn eta_secs(&self, rate: f64) -> Option<u64> {
        (rate > 0.0).then(|| (self.remaining() as f64 / rate).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Lang;

    fn sub(id: i64, kind: ChatKind) -> Subscription {
        Subscription::new(id, kind, Lang::En)
    }

    #[test]
    fn audiences_count_subscribed_active_chats_by_kind() {
        let mut gone = sub(4, ChatKind::Private);
        gone.active = false;
        let mut off = sub(5, ChatKind::Private);
        off.frequency = Frequency::Off;
        let mut quiet_channel = sub(-7, ChatKind::Channel);
        quiet_channel.frequency = Frequency::Off;
        let subs = vec![
            sub(1, ChatKind::Private),
            sub(-2, ChatKind::Group),
            sub(-3, ChatKind::Channel),
            sub(6, ChatKind::Private),
            gone,
            off,
            quiet_channel,
        ];
        let counts = AudienceCounts::of(&subs);
        assert_eq!(counts, AudienceCounts { users: 2, groups: 1, channels: 2 });
        assert_eq!(counts.get(Audience::All), 5);
        assert_eq!(subs.iter().filter(|s| Audience::All.includes(s)).count(), 5);
        for a in Audience::ALL {
            assert_eq!(Audience::from_code(a.code()), Some(a));
        }
        assert_eq!(Audience::from_code("everyone"), None);
    }

    #[test]
    fn progress_rate_and_eta() {
        let p = Progress { total: 100, sent: 20, failed: 3, deactivated: 2, ..Progress::default() };
        assert_eq!(p.remaining(), 75);
        assert!(!p.finished());
        let earlier = Progress { total: 100, sent: 10, ..Progress::default() };
        assert_eq!(p.rate_since(&earlier, 3.0), 5.0);
        assert_eq!(p.eta_secs(5.0), Some(15));
        assert_eq!(p.eta_secs(0.0), None);
        assert_eq!(p.rate_since(&p, 0.0), 0.0);
        let two = Progress { total: 2, sent: 1, failed: 1, ..Progress::default() };
        assert!(two.finished());
        assert!(!Progress { waiting: true, ..two }.finished());
        assert!(Progress { total: 2, sent: 1, erased: 1, ..Progress::default() }.finished());
    }
}
