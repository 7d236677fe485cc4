//! Subscriptions from Telegram: `/subscribe`, `/settings`, `/unsubscribe`, `/stop`,
//! `/channels`, the settings card's buttons, and typed times and zones.

use super::{access, send};
use crate::{
    app::{AppError, Tribune},
    content::Lang,
    delivery::Pacer,
    render::{self, Action, Ctx, Reply, SettingsStep, html::escape},
    subscription::{Change, ChatKind, LocalTime, Question, Subscription, Zone},
};
use teloxide::{prelude::*, types::Me};

/// The subscription commands, as typed in `msg`'s chat.
pub enum SubCommand {
    Subscribe,
    Settings,
    Unsubscribe,
    Stop,
    Channels,
}

type Result<T> = std::result::Result<T, super::error::HandlerError>;

/// What the subscription handlers work with.
pub struct Env<'a> {
    pub bot: &'a Bot,
    pub app: &'a Tribune,
    pub pacer: &'a Pacer,
    pub me: &'a Me,
}

impl Env<'_> {
    fn ctx<'c>(&'c self, corpus: &'c crate::content::Corpus, lang: Lang) -> Ctx<'c> {
        Ctx { corpus, lang, bot_username: self.me.username(), seed: 0 }
    }
}

pub async fn command(env: &Env<'_>, msg: &Message, lang: Lang, which: SubCommand) -> Result<()> {
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let chat = msg.chat.id.0;
    let kind = if msg.chat.is_private() { ChatKind::Private } else { ChatKind::Group };
    let allowed = matches!(which, SubCommand::Channels)
        || access::may_manage(env.bot, &msg.chat, msg.from.as_ref(), msg.sender_chat.as_ref())
            .await;
    let reply = if !allowed {
        Reply::html(ctx.t("admins.only"), Vec::new())
    } else {
        match which {
            SubCommand::Subscribe => match env.app.subscribe(chat, kind, lang) {
                Ok(sub) => render::settings_card(&ctx, &sub, None, Some(ctx.t("subscribe.done"))),
                Err(e) => unsaved(&ctx, e),
            },
            SubCommand::Settings => match env.app.store().subscription(chat)? {
                Some(sub) => render::settings_card(&ctx, &sub, None, None),
                None => Reply::html(ctx.t("settings.none"), Vec::new()),
            },
            SubCommand::Unsubscribe => match env.app.change_subscription(chat, Change::Off) {
                Ok(Some(_)) => Reply::html(ctx.t("unsubscribe.done"), Vec::new()),
                Ok(None) => Reply::html(ctx.t("unsubscribe.none"), Vec::new()),
                Err(e) => unsaved(&ctx, e),
            },
            SubCommand::Stop => match env.app.store().erase_chat(chat) {
                Ok(()) => Reply::html(ctx.t("stop.done"), Vec::new()),
                Err(e) => unsaved(&ctx, e.into()),
            },
            SubCommand::Channels if !msg.chat.is_private() => {
                Reply::html(ctx.f("private.only", &[("command", "/channels")]), Vec::new())
            }
            SubCommand::Channels => channels(env, &ctx, msg).await?,
        }
    };
    send::reply(env.bot, env.pacer, msg.chat.id, &reply).await?;
    Ok(())
}

/// The channels Tribune may post in that this user administers, one button each.
async fn channels(env: &Env<'_>, ctx: &Ctx<'_>, msg: &Message) -> Result<Reply> {
    let Some(user) = msg.from.as_ref() else {
        return Ok(Reply::html(ctx.t("admins.only"), Vec::new()));
    };
    let mut buttons = Vec::new();
    let channels: Vec<Subscription> = env
        .app
        .store()
        .subscriptions()
        .filter(|s| s.kind == ChatKind::Channel && s.active)
        .collect();
    for channel in channels {
        if access::is_admin(env.bot, ChatId(channel.chat_id), user.id).await {
            let title = channel_title(env.bot, channel.chat_id).await;
            buttons.push(vec![render::Button::action(
                format!("📣 {title}"),
                Action::Settings { chat: channel.chat_id, step: SettingsStep::Open },
            )]);
        }
    }
    Ok(if buttons.is_empty() {
        Reply::html(ctx.f("channels.none", &[("bot", &escape(env.me.username()))]), Vec::new())
    } else {
        Reply::html(ctx.t("channels.list"), buttons)
    })
}

/// A channel's title as Telegram has it now (Tribune does not store names).
pub async fn channel_title(bot: &Bot, chat: i64) -> String {
    match bot.get_chat(ChatId(chat)).await {
        Ok(info) => info.title().map(str::to_string).unwrap_or_else(|| chat.to_string()),
        Err(_) => chat.to_string(),
    }
}

/// A press on a settings card. Returns the reply and whether it replaces the card.
pub async fn button(
    env: &Env<'_>,
    q: &CallbackQuery,
    lang: Lang,
    target: i64,
    step: SettingsStep,
) -> Result<(Reply, bool)> {
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let Some(shown_in) = q.message.as_ref().map(|m| m.chat().clone()) else {
        return Ok((render::stale_button(&ctx), false));
    };
    if !access::may_manage_from(env.bot, &shown_in, &q.from, target).await {
        return Ok((Reply::default().with_notice(ctx.t("admins.only")), false));
    }
    let title =
        if target == shown_in.id.0 { None } else { Some(channel_title(env.bot, target).await) };
    let card = |sub: &Subscription, notice: Option<String>| {
        render::settings_card(&ctx, sub, title.as_deref(), notice)
    };
    Ok(match step {
        SettingsStep::Open => match env.app.store().subscription(target)? {
            Some(sub) => (card(&sub, None), false),
            None => (render::stale_button(&ctx), false),
        },
        SettingsStep::Set(change) => match env.app.change_subscription(target, change) {
            Ok(Some(sub)) => (card(&sub, None), true),
            Ok(None) => (render::stale_button(&ctx), false),
            Err(e) => {
                log_unsaved(&e);
                (Reply::default().with_notice(ctx.t("store.unavailable")), false)
            }
        },
        SettingsStep::AskTime | SettingsStep::AskZone => {
            let (question, key) = if step == SettingsStep::AskTime {
                (Question::Time, "subscribe.ask_time")
            } else {
                (Question::Zone, "subscribe.ask_zone")
            };
            match env.app.ask(shown_in.id.0, q.from.id.0, target, question) {
                Ok(()) => (Reply::html(ctx.t(key), Vec::new()), false),
                Err(e) => {
                    log_unsaved(&e);
                    (Reply::default().with_notice(ctx.t("store.unavailable")), false)
                }
            }
        }
        SettingsStep::Done => match env.app.store().subscription(target)? {
            Some(sub) => {
                let mut reply = card(&sub, Some(ctx.t("settings.saved")));
                if let Some(last) = reply.messages.last_mut() {
                    last.buttons.clear();
                }
                (reply, true)
            }
            None => (render::stale_button(&ctx), false),
        },
    })
}

/// A typed answer to "Other time…" / "Other zone…"; `None` when nothing was asked.
pub async fn typed(env: &Env<'_>, msg: &Message, lang: Lang, text: &str) -> Result<Option<Reply>> {
    let Some(user) = msg.from.as_ref() else { return Ok(None) };
    let (chat, who) = (msg.chat.id.0, user.id.0);
    let asked = env.app.take_question(chat, who).unwrap_or_else(|e| {
        // The text is then read as what it would be without a question (a search).
        log::warn!("cannot read a waiting question: {e}");
        None
    });
    let Some(asked) = asked else { return Ok(None) };
    let (target, question) = (asked.target, asked.question);
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let shown: String = text.chars().take(64).collect();
    let change = match question {
        Question::Time => LocalTime::parse(text).map(Change::Time).ok_or("subscribe.bad_time"),
        Question::Zone => Zone::parse(text).map(Change::Zone).ok_or("subscribe.bad_zone"),
    };
    let change = match change {
        Ok(change) => change,
        Err(key) => {
            // Ask again: the reader is still answering.
            if let Err(e) = env.app.ask(chat, who, target, question) {
                return Ok(Some(unsaved(&ctx, e)));
            }
            return Ok(Some(Reply::html(ctx.f(key, &[("input", &escape(&shown))]), Vec::new())));
        }
    };
    if !access::may_manage_from(env.bot, &msg.chat, user, target).await {
        return Ok(Some(Reply::html(ctx.t("admins.only"), Vec::new())));
    }
    let title =
        if target == msg.chat.id.0 { None } else { Some(channel_title(env.bot, target).await) };
    Ok(Some(match env.app.change_subscription(target, change) {
        Ok(Some(sub)) => {
            render::settings_card(&ctx, &sub, title.as_deref(), Some(ctx.t("settings.saved")))
        }
        Ok(None) => Reply::html(ctx.t("settings.none"), Vec::new()),
        Err(e) => unsaved(&ctx, e),
    }))
}

/// The store could not save a change (a full or failing disk): the reader is asked to try
/// again later, the log says why, and nothing else changes.
fn unsaved(ctx: &Ctx<'_>, e: AppError) -> Reply {
    log_unsaved(&e);
    Reply::html(ctx.t("store.unavailable"), Vec::new())
}

fn log_unsaved(e: &AppError) {
    log::error!("cannot save a chat's change, refusing it: {e}");
}
