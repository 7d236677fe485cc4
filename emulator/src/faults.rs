//! Injected faults: the failures Telegram produces that a test cannot
//! provoke by acting as a person (outages, timeouts, dropped connections,
//! a user deleting their account), so the bot's delivery engine can be
//! proven to classify and survive them.
//!
//! Faults apply to requests that post or edit a message (sendMessage, sendPhoto,
//! copyMessage, editMessageText, editMessageReplyMarkup, editMessageCaption), never to
//! getUpdates, chat actions or lookups, so a counted fault is not used up by a
//! "typing…" the bot sends first. Explicit faults are matched in the order
//! they were injected; a random campaign applies when none matched.

use std::time::Duration;

use super::{error::ApiError, method::Method, world::ChatKind};

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// Requests about this chat.
    Chat(i64),
    /// Every request a fault can apply to.
    All,
}

/// A failure to answer with instead of doing what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 403 "Forbidden: bot was blocked by the user".
    Blocked,
    /// 403 "Forbidden: bot was kicked from the group chat" (or supergroup;
    /// "bot is not a member of the channel chat" for channels; for a
    /// private chat, as `Blocked`).
    Kicked,
    /// 403 "Forbidden: user is deactivated".
    Deactivated,
    /// 400 "Bad Request: chat not found".
    ChatNotFound,
    /// 400 "Bad Request: group chat was upgraded to a supergroup chat" with
    /// `migrate_to_chat_id`; the supergroup is created so sends there work.
    Migrate(i64),
    /// 500 "Internal Server Error".
    ServerError,
    /// 502 "Bad Gateway".
    BadGateway,
    /// The request is carried out, but answered only after this delay
    /// (so a client that gives up earlier sent the message anyway).
    Delay(Duration),
    /// The connection is closed without an answer; nothing is carried out.
    DropConnection,
    /// 429 with this `retry_after`.
    TooManyRequests(u32),
    /// 400 "Bad Request: TOPIC_CLOSED": a refusal no retry can change.
    TopicClosed,
}

/// What the request meets, once a fault is resolved for its chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Injected {
    Answer(ApiError),
    Delay(Duration),
    Drop,
}

#[derive(Debug, Clone)]
struct Rule {
    target: FaultTarget,
    fault: Fault,
    /// `None` until cleared.
    remaining: Option<u32>,
}

/// A random campaign: each matching request fails with probability `rate`.
#[derive(Debug, Clone)]
struct Campaign {
    rng: XorShift,
    rate: f64,
    faults: Vec<Fault>,
}

/// The injected faults, in the emulator's state.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<Rule>,
    campaign: Option<Campaign>,
}

impl Faults {
    /// Makes requests to `target` fail with `fault`: the next `times` of them, or all of
    /// them (`None`) until the faults are cleared.
    pub fn add(&mut self, target: FaultTarget, fault: Fault, times: Option<u32>) {
        self.rules.push(Rule { target, fault, remaining: times });
    }

    /// Starts a random campaign (replacing an earlier one): each request a fault can apply
    /// to fails with probability `rate`, with a fault picked from `faults`.
    pub fn start_campaign(&mut self, seed: u64, rate: f64, faults: Vec<Fault>) {
        let rng = XorShift::new(seed);
        self.campaign = Some(Campaign { rng, rate: rate.clamp(0.0, 1.0), faults });
    }

    /// Ends the random campaign, keeping the faults added for particular requests.
    pub fn end_campaign(&mut self) {
        self.campaign = None;
    }

    /// The fault this request meets, if any; uses up one of a counted fault.
    pub fn draw(&mut self, method: Method, chat_id: Option<i64>) -> Option<Fault> {
        if !(method.sends_new_message() || method.edits_message()) {
            return None;
        }
        let matches = |rule: &Rule| match rule.target {
            FaultTarget::All => true,
            FaultTarget::Chat(id) => chat_id == Some(id),
        };
        if let Some(index) = self.rules.iter().position(matches) {
            let rule = &mut self.rules[index];
            let fault = rule.fault;
            if let Some(n) = &mut rule.remaining {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.rules.remove(index);
                }
            }
            return Some(fault);
        }
        let campaign = self.campaign.as_mut()?;
        if campaign.faults.is_empty() || campaign.rng.unit() >= campaign.rate {
            return None;
        }
        let pick = campaign.rng.next() % campaign.faults.len() as u64;
        Some(campaign.faults[pick as usize])
    }
}

/// What `fault` means in a chat of this kind (which shapes some descriptions; `None` for
/// a chat the emulator does not know).
pub(crate) fn resolve(fault: Fault, kind: Option<&ChatKind>) -> Injected {
    let error = match fault {
        Fault::Blocked => ApiError::blocked_by_user(),
        Fault::Kicked => match kind {
            Some(ChatKind::Private { .. }) => ApiError::blocked_by_user(),
            Some(ChatKind::Supergroup { .. }) => ApiError::kicked("supergroup"),
            Some(ChatKind::Channel { .. }) => ApiError::not_member("channel"),
            Some(ChatKind::Group { .. }) | None => ApiError::kicked("group"),
        },
        Fault::Deactivated => ApiError::user_deactivated(),
        Fault::ChatNotFound => ApiError::chat_not_found(),
        Fault::Migrate(new_id) => ApiError::migrated(new_id),
        Fault::ServerError => ApiError::internal_server_error(),
        Fault::BadGateway => ApiError::bad_gateway(),
        Fault::TooManyRequests(seconds) => ApiError::too_many_requests(seconds),
        Fault::TopicClosed => ApiError::bad_request("TOPIC_CLOSED"),
        Fault::Delay(delay) => return Injected::Delay(delay),
        Fault::DropConnection => return Injected::Drop,
    };
    Injected::Answer(error)
}

/// xorshift64*: tiny, deterministic, good enough to pick faults.
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Zero is xorshift's one fixed point; mix the seed so 0 and 1 differ.
        XorShift((seed ^ 0x9E37_79B9_7F4A_7C15).max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_and_targets_match() {
        let mut faults = Faults::default();
        let rule = |target, remaining| Rule { target, fault: Fault::Blocked, remaining };
        faults.rules.push(rule(FaultTarget::Chat(1), Some(2)));
        assert_eq!(faults.draw(Method::SendMessage, Some(2)), None);
        assert_eq!(faults.draw(Method::GetChat, Some(1)), None);
        assert_eq!(faults.draw(Method::SendMessage, Some(1)), Some(Fault::Blocked));
        assert_eq!(faults.draw(Method::EditMessageText, Some(1)), Some(Fault::Blocked));
        assert_eq!(faults.draw(Method::SendMessage, Some(1)), None);
        faults.rules.push(rule(FaultTarget::All, None));
        for chat in 0..5 {
            assert_eq!(faults.draw(Method::SendMessage, Some(chat)), Some(Fault::Blocked));
        }
    }

    #[test]
    fn a_campaign_is_deterministic_and_near_its_rate() {
        let run = |seed| {
            let mut faults = Faults::default();
            let list = vec![Fault::ServerError, Fault::BadGateway];
            let rng = XorShift::new(seed);
            faults.campaign = Some(Campaign { rng, rate: 0.2, faults: list });
            (0..1000).map(|i| faults.draw(Method::SendMessage, Some(i))).collect::<Vec<_>>()
        };
        let (a, b, c) = (run(7), run(7), run(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let failed = a.iter().flatten().count();
        assert!((150..250).contains(&failed), "{failed} of 1000");
        assert!(a.contains(&Some(Fault::ServerError)) && a.contains(&Some(Fault::BadGateway)));
    }
}
