//! Telegram's side of the intake: what an update says about who sent it, from which chat and
//! when; the allowance checked as it arrives; and the handling of admitted updates by the
//! dptree handler tree, each inside the [`send::Scope`] its replies go through.
//!
//! Whatever brings the updates (long polling in `polling.rs`, the webhook in `webhook.rs`)
//! hands each to [`Updates::admit`], which never waits: an update is queued, or dropped
//! (over its sender's allowance, or shed under overload), at once.

use super::{
    error::{HandlerError, HandlerResult},
    flood,
    replies::Replies,
    send::{self, Scope},
};
use crate::{
    app::Tribune,
    delivery::Pacer,
    intake::{
        Admission, Allowance, AllowanceConfig, Class, Dropped, Gauges, MAX_AGE, Meta, Overflow,
        Pool, PoolConfig, Verdict,
    },
};
use std::{ops::ControlFlow, sync::Arc, time::Duration};
use teloxide::{
    dispatching::UpdateHandler,
    dptree::di::DependencyMap,
    prelude::*,
    types::{AllowedUpdate, CallbackQueryId, UpdateKind},
};
use tokio::time::Instant;

/// The update kinds Telegram is asked for: those the handler tree handles (`handlers::schema`;
/// a unit test below keeps the two in step), so no other kind costs a request.
pub(super) const ALLOWED: [AllowedUpdate; 5] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::MyChatMember,
    AllowedUpdate::InlineQuery,
];

/// An inline query not answered within this is not answered at all: Telegram's clients
/// have given up on it (and refuse a late answer as "query is too old").
const INLINE_FRESH: Duration = Duration::from_secs(10);

/// A message older than this when it arrives (after an outage, or a backlog at Telegram) is
/// dropped at once, whatever the queue: nobody wants an answer to a command of an hour ago.
/// Messages younger than this age from their arrival, so a server clock a little off
/// cannot silence the bot.
const TOO_OLD_ON_ARRIVAL: Duration = Duration::from_secs(300);

/// What the workers handle.
pub(super) enum Work {
    Update(Box<Update>),
    /// The one notice of a flood, to a chat.
    Notice {
        chat: ChatId,
        language_code: Option<String>,
    },
    /// The one notice of a flood of button presses.
    ButtonNotice {
        query: CallbackQueryId,
        user: i64,
        language_code: Option<String>,
    },
}

/// The intake of updates: admission, then the workers.
pub struct Updates {
    pool: Pool<Work>,
    allowance: Allowance,
    /// Inline queries come one per keystroke: their own, larger allowance.
    inline: Allowance,
    app: Arc<Tribune>,
    gauges: Arc<Gauges>,
}

/// Who sent an update, from where, and what a flood of it deserves.
struct Seen {
    chat: i64,
    sender: Option<i64>,
    guard: Guard,
    /// `None`: too old already.
    at: Option<Instant>,
}

enum Guard {
    /// Not counted: the bot's own membership (channel notices have their own cap).
    None,
    Message {
        notice: bool,
        language_code: Option<String>,
    },
    Button {
        query: CallbackQueryId,
        language_code: Option<String>,
    },
    Inline,
}

/// What the handlers need, besides the update.
pub(super) struct Handling {
    pub bot: Bot,
    pub app: Arc<Tribune>,
    pub pacer: Arc<Pacer>,
    pub replies: Arc<Replies>,
    pub handler: UpdateHandler<HandlerError>,
    pub deps: DependencyMap,
}

impl Updates {
    pub(super) fn new(app: Arc<Tribune>, gauges: Arc<Gauges>, config: PoolConfig) -> Updates {
        let inline = AllowanceConfig { burst: 30.0, per_second: 3.0, ..AllowanceConfig::default() };
        Updates {
            pool: Pool::new(config, gauges.clone()),
            allowance: Allowance::new(AllowanceConfig::default()),
            inline: Allowance::new(inline),
            app,
            gauges,
        }
    }

    pub fn gauges(&self) -> &Arc<Gauges> {
        &self.gauges
    }

    /// Takes one update as it arrives: queued, or dropped. `false` only when it was refused
    /// because the queue is full (a webhook then answers 503 and Telegram sends it again).
    pub fn admit(&self, update: Update, overflow: Overflow) -> bool {
        let Some(seen) = seen(&update, self.app.clock().now()) else { return true };
        let Some(at) = seen.at else {
            self.gauges.count_dropped(Dropped::Stale, 1);
            return true;
        };
        let known = self.app.is_known(seen.chat, seen.sender);
        let class = if known { Class::Known } else { Class::Unknown };
        let sender = seen.sender.unwrap_or(seen.chat);
        let verdict = match &seen.guard {
            Guard::None => Verdict::Allow,
            Guard::Inline => self.inline.check(sender, known),
            Guard::Message { .. } | Guard::Button { .. } => self.allowance.check(sender, known),
        };
        let work = match (verdict, seen.guard) {
            (Verdict::Allow, _) => Work::Update(Box::new(update)),
            (Verdict::Warn, Guard::Message { notice: true, language_code }) => {
                self.gauges.count_dropped(Dropped::Flood, 1);
                Work::Notice { chat: ChatId(seen.chat), language_code }
            }
            (Verdict::Warn, Guard::Button { query, language_code }) => {
                self.gauges.count_dropped(Dropped::Flood, 1);
                Work::ButtonNotice { query, user: sender, language_code }
            }
            _ => {
                self.gauges.count_dropped(Dropped::Flood, 1);
                return true;
            }
        };
        self.pool.offer(seen.chat, class, at, work, overflow) != Admission::Refused
    }

    /// Starts the workers.
    pub(super) fn start(&self, handling: Arc<Handling>) {
        let pool = self.pool.clone();
        handling.replies.on_drained(move || pool.wake());
        let replies = handling.replies.clone();
        self.pool.set_gate(Arc::new(move |class| replies.has_room(class)));
        self.pool.start(move |work, meta| handle(handling.clone(), work, meta));
    }

    /// Whether the workers run.
    pub fn alive(&self) -> bool {
        self.pool.alive()
    }

    /// Drops what waits; lets updates in hand finish within `grace`.
    pub async fn stop(&self, grace: Duration) {
        self.pool.stop(grace).await;
    }
}

/// Reads who sent an update and when; `None` for kinds Tribune does not handle.
fn seen(update: &Update, wall: chrono::DateTime<chrono::Utc>) -> Option<Seen> {
    let now = Instant::now();
    Some(match &update.kind {
        UpdateKind::Message(m) | UpdateKind::EditedMessage(m) => {
            let edited = matches!(update.kind, UpdateKind::EditedMessage(_));
            let notice = if edited { m.chat.is_private() } else { flood::answered(m) };
            let made = m.edit_date().copied().unwrap_or(m.date);
            Seen {
                chat: m.chat.id.0,
                sender: Some(flood::sender(m)),
                guard: Guard::Message {
                    notice: notice && m.via_bot.is_none(),
                    language_code: m.from.as_ref().and_then(|u| u.language_code.clone()),
                },
                at: made_at(made, wall, now),
            }
        }
        UpdateKind::CallbackQuery(q) => Seen {
            chat: q.message.as_ref().map_or(q.from.id.0 as i64, |m| m.chat().id.0),
            sender: Some(q.from.id.0 as i64),
            guard: Guard::Button {
                query: q.id.clone(),
                language_code: q.from.language_code.clone(),
            },
            at: Some(now),
        },
        UpdateKind::InlineQuery(q) => {
            let user = q.from.id.0 as i64;
            Seen { chat: user, sender: Some(user), guard: Guard::Inline, at: Some(now) }
        }
        UpdateKind::MyChatMember(u) => {
            Seen { chat: u.chat.id.0, sender: None, guard: Guard::None, at: Some(now) }
        }
        _ => return None,
    })
}

/// When a message was made, as a moment of this process: its arrival, unless Telegram's
/// date says it is older than [`TOO_OLD_ON_ARRIVAL`] by the app's clock (`wall`; then
/// `None`: drop it). A date ahead of the clock counts as new.
fn made_at(
    date: chrono::DateTime<chrono::Utc>,
    wall: chrono::DateTime<chrono::Utc>,
    now: Instant,
) -> Option<Instant> {
    let age = wall.signed_duration_since(date).to_std().unwrap_or_default();
    (age <= TOO_OLD_ON_ARRIVAL).then_some(now)
}

/// Handles one piece of work, with its replies going through the scope's queue.
async fn handle(handling: Arc<Handling>, work: Work, meta: Meta) {
    let scope = Scope {
        replies: handling.replies.clone(),
        chat: meta.chat,
        class: meta.class,
        deadline: meta.arrived + MAX_AGE,
    };
    let result = send::in_scope(scope, run(&handling, work, meta)).await;
    if let Err(e) = result {
        log::error!("an update could not be handled: {e}");
    }
}

async fn run(handling: &Handling, work: Work, meta: Meta) -> HandlerResult {
    let Handling { bot, app, pacer, .. } = handling;
    match work {
        Work::Update(update) => {
            if matches!(update.kind, UpdateKind::InlineQuery(_))
                && meta.arrived.elapsed() > INLINE_FRESH
            {
                return Ok(());
            }
            let mut deps = handling.deps.clone();
            deps.insert(*update);
            match handling.handler.dispatch(deps).await {
                ControlFlow::Break(result) => result,
                ControlFlow::Continue(_) => Ok(()),
            }
        }
        Work::Notice { chat, language_code } => {
            flood::notice(bot, app, pacer, chat, language_code.as_deref()).await
        }
        Work::ButtonNotice { query, user, language_code } => {
            flood::button_notice(bot, app, query, user, language_code.as_deref()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// teloxide keeps the handler tree's update kinds to itself; its description's debug
    /// text names them, which is enough to notice a kind added to the tree and not here.
    #[test]
    fn telegram_is_asked_for_exactly_the_kinds_the_handler_tree_handles() {
        let description = format!("{:?}", super::super::handlers::schema().description());
        let observed = description.split("observed").nth(1).unwrap_or_default();
        let observed = observed.split('}').next().unwrap_or_default();
        let mut kinds: Vec<&str> = observed
            .split("Kind(")
            .skip(1)
            .map(|k| k.split(')').next().unwrap_or_default())
            .collect();
        kinds.sort_unstable();
        let mut allowed: Vec<String> = ALLOWED.iter().map(|k| format!("{k:?}")).collect();
        allowed.sort_unstable();
        assert_eq!(kinds, allowed, "{description}");
    }
}

#[cfg(test)]
mod fuzz;
