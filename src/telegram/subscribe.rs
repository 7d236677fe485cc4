//! Subscriptions from Telegram: `/subscribe`, `/settings`, `/unsubscribe`, `/stop`,
//! `/channels`, the settings card's buttons, and typed times and zones. Each gathers who is
//! asking, calls its use case in `app/`, and renders what it came to.

use super::{access, send};
use crate::{
    app::{Answered, Caller, CardStep, Refusal, Tribune},
    content::Lang,
    delivery::Pacer,
    render::{self, Action, Ctx, Reply, SettingsStep, html::escape},
    subscription::{Question, Subscription},
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
    let caller = access::of_message(msg);
    let text = |key: &str| Reply::html(ctx.t(key), Vec::new());
    let answer = match which {
        SubCommand::Channels => Ok(channels(env, &ctx, caller).await),
        SubCommand::Subscribe => env
            .app
            .subscribe(&managing(env, caller).await, lang)
            .map(|sub| render::settings_card(&ctx, &sub, None, Some(ctx.t("subscribe.done")))),
        SubCommand::Settings => {
            env.app.settings(&managing(env, caller).await).map(|sub| match sub {
                Some(sub) => render::settings_card(&ctx, &sub, None, None),
                None => text("settings.none"),
            })
        }
        SubCommand::Unsubscribe => {
            env.app.unsubscribe(&managing(env, caller).await).map(|sub| match sub {
                Some(_) => text("unsubscribe.done"),
                None => text("unsubscribe.none"),
            })
        }
        SubCommand::Stop => env.app.stop(&managing(env, caller).await).map(|()| text("stop.done")),
    };
    let reply = answer.unwrap_or_else(|refusal| access::refused(&ctx, refusal, ""));
    send::reply(env.bot, env.pacer, msg.chat.id, &reply).await?;
    Ok(())
}

/// The caller, with what Telegram says about their rights in their own chat.
async fn managing(env: &Env<'_>, caller: Caller) -> Caller {
    let chat = caller.chat;
    access::with_rights(env.bot, caller, &[chat]).await
}

/// The channels Tribune may post in that this user administers, one button each.
async fn channels(env: &Env<'_>, ctx: &Ctx<'_>, caller: Caller) -> Reply {
    let candidates = match env.app.channel_candidates(&caller) {
        Ok(candidates) => candidates,
        Err(refusal) => return access::refused(ctx, refusal, "/channels"),
    };
    let caller = access::with_rights(env.bot, caller, &candidates).await;
    let channels = match env.app.channels(&caller) {
        Ok(channels) => channels,
        Err(refusal) => return access::refused(ctx, refusal, "/channels"),
    };
    let mut buttons = Vec::new();
    for channel in channels {
        let title = channel_title(env.bot, channel).await;
        buttons.push(vec![render::Button::action(
            format!("📣 {title}"),
            Action::Settings { chat: channel, step: SettingsStep::Open },
        )]);
    }
    if buttons.is_empty() {
        Reply::html(ctx.f("channels.none", &[("bot", &escape(env.me.username()))]), Vec::new())
    } else {
        Reply::html(ctx.t("channels.list"), buttons)
    }
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
) -> (Reply, bool) {
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let Some(caller) = access::of_press(q) else { return (render::stale_button(&ctx), false) };
    let shown_in = caller.chat;
    let caller = access::with_rights(env.bot, caller, &[target]).await;
    let outcome = env.app.settings_step(&caller, target, step);
    let title = match &outcome {
        Ok(CardStep::Opened(_) | CardStep::Changed(_) | CardStep::Saved(_))
            if target != shown_in =>
        {
            Some(channel_title(env.bot, target).await)
        }
        _ => None,
    };
    let card = |sub: &Subscription, notice: Option<String>| {
        render::settings_card(&ctx, sub, title.as_deref(), notice)
    };
    match outcome {
        Ok(CardStep::Opened(sub)) => (card(&sub, None), false),
        Ok(CardStep::Changed(sub)) => (card(&sub, None), true),
        Ok(CardStep::Asked(question)) => {
            let key = match question {
                Question::Time => "subscribe.ask_time",
                Question::Zone => "subscribe.ask_zone",
            };
            (Reply::html(ctx.t(key), Vec::new()), false)
        }
        Ok(CardStep::Saved(sub)) => {
            let mut reply = card(&sub, Some(ctx.t("settings.saved")));
            if let Some(last) = reply.messages.last_mut() {
                last.buttons.clear();
            }
            (reply, true)
        }
        Err(Refusal::Stale) => (render::stale_button(&ctx), false),
        Err(refusal) => (Reply::default().with_notice(access::notice(&ctx, refusal)), false),
    }
}

/// A typed answer to "Other time…" / "Other zone…"; `None` when nothing was asked.
pub async fn typed(env: &Env<'_>, msg: &Message, lang: Lang, text: &str) -> Option<Reply> {
    let caller = access::of_message(msg);
    let asked = env.app.take_question(&caller)?;
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let caller = access::with_rights(env.bot, caller, &[asked.target]).await;
    let shown: String = text.chars().take(64).collect();
    Some(match env.app.answer(&caller, asked, text) {
        Ok(Answered::Retry(question)) => {
            let key = match question {
                Question::Time => "subscribe.bad_time",
                Question::Zone => "subscribe.bad_zone",
            };
            Reply::html(ctx.f(key, &[("input", &escape(&shown))]), Vec::new())
        }
        Ok(Answered::Saved(sub)) => {
            let title = if asked.target == msg.chat.id.0 {
                None
            } else {
                Some(channel_title(env.bot, asked.target).await)
            };
            render::settings_card(&ctx, &sub, title.as_deref(), Some(ctx.t("settings.saved")))
        }
        Ok(Answered::NoSubscription) => Reply::html(ctx.t("settings.none"), Vec::new()),
        Err(refusal) => access::refused(&ctx, refusal, ""),
    })
}
