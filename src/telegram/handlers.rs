//! The dptree handler tree: each endpoint works out who is asking and in which language,
//! calls a use case of `app/` (which decides whether they may) or a view, and sends the reply.
//! Nothing here formats text, decides content or decides permissions.

use super::{
    access,
    commands::Command,
    error::{HandlerError, HandlerResult},
    inline, members,
    operator::{self, OpEnv, OperatorCommand},
    send,
    subscribe::{self, Env, SubCommand},
};
use crate::{
    app::{Caller, Refusal, Tribune},
    content::Lang,
    delivery::{Observer, Pacer},
    render::{self, Action, Ctx, Effect, Reply},
};
use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
};
use teloxide::{
    dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler},
    prelude::*,
    types::{ChatKind, Me},
};

/// The whole update-handling tree. Each sender's allowance was checked when the update
/// arrived (`intake.rs`): what reaches the tree is to be answered.
pub fn schema() -> UpdateHandler<HandlerError> {
    dptree::entry()
        .branch(
            Update::filter_message()
                .branch(
                    dptree::filter(|m: Message| m.migrate_to_chat_id().is_some())
                        .endpoint(members::on_migration),
                )
                .branch(dptree::filter(inline::sent_via_me).endpoint(inline::ignore))
                .branch(
                    dptree::entry()
                        .filter_command::<OperatorCommand>()
                        .endpoint(operator::on_command),
                )
                .branch(dptree::entry().filter_command::<Command>().endpoint(on_command))
                .branch(
                    dptree::filter(|m: Message| m.document().is_some() && m.chat.is_private())
                        .endpoint(operator::on_document),
                )
                .branch(dptree::endpoint(on_other_message)),
        )
        .branch(Update::filter_edited_message().endpoint(on_edited))
        .branch(Update::filter_callback_query().endpoint(on_callback))
        .branch(Update::filter_my_chat_member().endpoint(members::on_my_chat_member))
        .branch(Update::filter_inline_query().endpoint(inline::on_inline_query))
}

async fn on_command(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    me: Me,
    msg: Message,
    cmd: Command,
) -> HandlerResult {
    let lang = reader_lang(&app, &msg);
    let which = match &cmd {
        Command::Subscribe(args) => Some((SubCommand::Subscribe, "/subscribe", args)),
        Command::Settings(args) => Some((SubCommand::Settings, "/settings", args)),
        Command::Unsubscribe(args) => Some((SubCommand::Unsubscribe, "/unsubscribe", args)),
        Command::Stop(args) => Some((SubCommand::Stop, "/stop", args)),
        Command::Channels(args) => Some((SubCommand::Channels, "/channels", args)),
        _ => None,
    };
    if let Some((which, name, args)) = which {
        if !args.trim().is_empty() {
            // Above all `/stop something`: erasing is not done on a guess.
            let corpus = app.corpus();
            let ctx = Ctx { corpus: &corpus, lang, bot_username: me.username(), seed: 0 };
            send::reply(&bot, &pacer, msg.chat.id, &render::no_arguments(&ctx, name)).await?;
            return Ok(());
        }
        let env = Env { bot: &bot, app: &app, pacer: &pacer, me: &me };
        return subscribe::command(&env, &msg, lang, which).await;
    }
    let corpus = app.corpus();
    let ctx =
        Ctx { corpus: &corpus, lang, bot_username: me.username(), seed: seed(msg.id.0 as u64) };
    let mut reply = respond(&ctx, &cmd);
    if let Err(refusal) = apply_effect(&bot, &app, access::of_message(&msg), &reply).await {
        reply = access::refused(&ctx, refusal, "");
    }
    send::reply(&bot, &pacer, msg.chat.id, &reply).await?;
    Ok(())
}

/// Maps a command to its view.
pub fn respond(ctx: &Ctx, cmd: &Command) -> Reply {
    let bare = |args: &str, name: &str, view: fn(&Ctx) -> Reply| {
        if args.trim().is_empty() { view(ctx) } else { render::no_arguments(ctx, name) }
    };
    match cmd {
        Command::Start(payload) => render::start(ctx, payload),
        Command::Help(args) => bare(args, "/help", render::help),
        Command::Excerpt(args) => render::excerpt(ctx, args),
        Command::Slogan(args) => render::slogan(ctx, args),
        Command::Prisoners(args) => render::prisoners(ctx, args),
        Command::Prisoner(args) => render::prisoner(ctx, args),
        Command::Statements(args) => bare(args, "/statements", render::statements),
        Command::Read(args) => render::read(ctx, args),
        Command::Search(args) => render::search(ctx, args),
        Command::Lang(args) => render::lang(ctx, args),
        Command::About(args) => bare(args, "/about", render::about),
        // Use cases of the app with their permission checks, in `subscribe`.
        Command::Subscribe(_)
        | Command::Settings(_)
        | Command::Unsubscribe(_)
        | Command::Stop(_)
        | Command::Channels(_) => Reply::default(),
    }
}

/// Anything that is not one of our commands. In private chats every message gets an answer;
/// in groups only commands addressed to this bot do, so Tribune never chatters in a group.
async fn on_other_message(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    me: Me,
    msg: Message,
) -> HandlerResult {
    let private = matches!(msg.chat.kind, ChatKind::Private(_));
    let lang = reader_lang(&app, &msg);
    if let Some(text) = msg.text().filter(|t| !t.starts_with('/')) {
        let env = Env { bot: &bot, app: &app, pacer: &pacer, me: &me };
        if let Some(reply) = subscribe::typed(&env, &msg, lang, text).await {
            send::reply(&bot, &pacer, msg.chat.id, &reply).await?;
            return Ok(());
        }
    }
    let corpus = app.corpus();
    let ctx = Ctx { corpus: &corpus, lang, bot_username: me.username(), seed: seed(0) };
    let reply = match msg.text() {
        Some(text) if text.starts_with('/') => {
            let first = text.split_whitespace().next().unwrap_or(text);
            let addressed = match first.split_once('@') {
                Some((_, bot_name)) => bot_name.eq_ignore_ascii_case(me.username()),
                None => private,
            };
            if !addressed {
                return Ok(());
            }
            render::unknown_command(&ctx, first)
        }
        Some(text) if private => render::search(&ctx, text),
        None if private => render::non_text(&ctx),
        _ => return Ok(()),
    };
    send::reply(&bot, &pacer, msg.chat.id, &reply).await?;
    Ok(())
}

async fn on_edited(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    me: Me,
    msg: Message,
) -> HandlerResult {
    if !matches!(msg.chat.kind, ChatKind::Private(_)) {
        return Ok(());
    }
    let corpus = app.corpus();
    let ctx = Ctx {
        corpus: &corpus,
        lang: reader_lang(&app, &msg),
        bot_username: me.username(),
        seed: seed(0),
    };
    send::reply(&bot, &pacer, msg.chat.id, &render::edited_message(&ctx)).await?;
    Ok(())
}

/// A pressed button. The data is decoded and checked; a forged or stale button gets a short
/// notice and changes nothing.
// dptree injects each dependency as its own parameter.
#[allow(clippy::too_many_arguments)]
async fn on_callback(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    tasks: Arc<operator::Tasks>,
    observer: Arc<Observer>,
    me: Me,
    q: CallbackQuery,
) -> HandlerResult {
    if let Some(action) = q.data.as_deref().and_then(Action::decode).filter(Action::is_operators) {
        let env = OpEnv {
            bot: &bot,
            app: &app,
            pacer: &pacer,
            me: &me,
            tasks: &tasks,
            observer: &observer,
        };
        let chat = q.message.as_ref().map_or(q.from.id.0 as i64, |m| m.chat().id.0);
        let lang = app.lang_for(chat, q.from.language_code.as_deref());
        return operator::on_button(&env, &q, lang, &action).await;
    }
    let (Some(message), Some(caller)) = (q.message.as_ref(), access::of_press(&q)) else {
        bot.answer_callback_query(q.id.clone()).await?;
        return Ok(());
    };
    let chat = message.chat().id;
    let corpus = app.corpus();
    let lang = app.lang_for(chat.0, q.from.language_code.as_deref());
    let ctx = Ctx {
        corpus: &corpus,
        lang,
        bot_username: me.username(),
        seed: seed(message.id().0 as u64),
    };
    let action = q.data.as_deref().and_then(Action::decode);
    let (reply, settings_in_place) = match action {
        Some(Action::Settings { chat: target, step }) => {
            let env = Env { bot: &bot, app: &app, pacer: &pacer, me: &me };
            subscribe::button(&env, &q, lang, target, step).await
        }
        _ => {
            let reply = action
                .as_ref()
                .and_then(|a| render::on_action(&ctx, a))
                .unwrap_or_else(|| render::stale_button(&ctx));
            (reply, false)
        }
    };
    let reply = match apply_effect(&bot, &app, caller, &reply).await {
        Ok(()) => reply,
        Err(refusal) => Reply::default().with_notice(access::notice(&ctx, refusal)),
    };
    let mut answer = bot.answer_callback_query(q.id.clone());
    if let Some(notice) = &reply.notice {
        answer = answer.text(notice.clone());
    }
    answer.await?;
    if reply.messages.is_empty() {
        return Ok(());
    }
    let in_place = (settings_in_place || action.as_ref().is_some_and(Action::edits_in_place))
        && reply.messages.len() == 1;
    if in_place {
        send::edit(&bot, chat, message.id(), &reply.messages[0]).await?;
    } else {
        send::reply(&bot, &pacer, chat, &reply).await?;
    }
    Ok(())
}

fn reader_lang(app: &Tribune, msg: &Message) -> Lang {
    let code = msg.from.as_ref().and_then(|u| u.language_code.as_deref());
    app.lang_for(msg.chat.id.0, code)
}

/// Asks the app to carry out what the reply changes (a language chosen), as `caller`, with
/// what Telegram says of their rights in the chat; the refusal to answer instead, if any (the
/// reader is then not shown a change that did not happen).
async fn apply_effect(
    bot: &Bot,
    app: &Tribune,
    caller: Caller,
    reply: &Reply,
) -> Result<(), Refusal> {
    match reply.effect {
        Some(Effect::SetLang(lang)) => {
            let chat = caller.chat;
            let caller = access::with_rights(bot, caller, &[chat]).await;
            app.set_lang(&caller, lang)
        }
        None => Ok(()),
    }
}

/// A seed for the views' random choices: different on every request. Drawn from the
/// standard library's per-process random keys, not from a clock: time is the app's clock's.
fn seed(salt: u64) -> u64 {
    RandomState::new().hash_one(salt)
}
