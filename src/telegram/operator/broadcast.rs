//! Broadcasts in Telegram: what the operator's message says (text with its formatting, or a
//! message to copy), its preview and audience card, the card's buttons, and `/cancel`.

use super::{
    super::{access, error::HandlerResult, send},
    env::{OpEnv, formatted, reply, text, text_after},
    progress::follow,
};
use crate::{
    app::{Caller, Cancelled, Discarded, Operator, Prepared, Refusal, Sent},
    broadcast::{Audience, Body},
    content::Lang,
    render::{self, Action, Ctx, OutMessage, Reply, html, operator as views},
};
use teloxide::{
    prelude::*,
    types::{MessageId, ParseMode},
};

/// What a `/broadcast` message asks to send: the message it replies to (its text with its
/// formatting, or the message itself to copy), else the formatted text after the command.
fn body_of(msg: &Message, args: &str) -> Option<Body> {
    match msg.reply_to_message() {
        Some(original) => Some(match original.text() {
            Some(text) => Body::Text { html: formatted(text, original.entities()) },
            None => Body::Copy {
                from_chat: original.chat.id.0,
                message_id: original.id.0,
                caption: original.photo().is_some()
                    || original.video().is_some()
                    || original.document().is_some()
                    || original.audio().is_some()
                    || original.animation().is_some()
                    || original.voice().is_some(),
            },
        }),
        None if args.trim().is_empty() => None,
        None => Some(Body::Text {
            html: text_after(msg, 1).unwrap_or_else(|| html::escape(args.trim())),
        }),
    }
}

pub(super) async fn broadcast(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    msg: &Message,
    operator: &Operator,
    args: &str,
) -> HandlerResult {
    let chat = msg.chat.id;
    let (id, body, counts) = match env.app.prepare_broadcast(operator, body_of(msg, args)) {
        Ok(Prepared::Draft { id, body, counts }) => (id, body, counts),
        Ok(Prepared::Empty) => return reply(env, chat, &text(ctx.t("op.broadcast_empty"))).await,
        Ok(Prepared::TooLong) => return reply(env, chat, &render::too_long(ctx)).await,
        Err(refusal) => return reply(env, chat, &access::refused(ctx, refusal, "")).await,
    };
    // The preview: exactly what subscribers will get.
    match &body {
        Body::Text { html } => {
            let request = env
                .bot
                .send_message(chat, html)
                .parse_mode(ParseMode::Html)
                .link_preview_options(send::no_preview());
            send::paced(env.pacer, || request.clone().send()).await?;
        }
        Body::Copy { from_chat, message_id, .. } => {
            let request = env.bot.copy_message(chat, ChatId(*from_chat), MessageId(*message_id));
            send::paced(env.pacer, || request.clone().send()).await?;
        }
    }
    reply(env, chat, &views::broadcast_card(ctx, id, Audience::All, &counts)).await
}

/// A pressed operator button: the presser passes the operators' check, then the draft is
/// acted on.
pub async fn on_button(
    env: &OpEnv<'_>,
    q: &CallbackQuery,
    lang: Lang,
    action: &Action,
) -> HandlerResult {
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let answer = env.bot.answer_callback_query(q.id.clone());
    // Without the card's message (Telegram did not send it) the chat is unknown: the presser
    // is checked as in their own chat, and then nothing is done.
    let caller = access::of_press(q).unwrap_or_else(|| Caller::private(q.from.id.0 as i64));
    let operator = match env.app.operator(&caller) {
        Ok(operator) => operator,
        Err(refusal) => {
            answer.text(access::notice(&ctx, refusal)).await?;
            return Ok(());
        }
    };
    let Some(pressed) = q.message.as_ref() else {
        answer.await?;
        return Ok(());
    };
    let (chat, card_id) = (pressed.chat().id, pressed.id());
    let stale = || access::notice(&ctx, Refusal::Stale);
    match *action {
        Action::BroadcastAudience { draft, audience } => {
            match env.app.choose_audience(&operator, draft, audience) {
                Ok(counts) => {
                    answer.await?;
                    let card = views::broadcast_card(&ctx, draft, audience, &counts);
                    send::edit(env.bot, chat, card_id, &card.messages[0]).await?;
                }
                Err(refusal) => {
                    answer.text(access::notice(&ctx, refusal)).await?;
                }
            }
        }
        Action::BroadcastDiscard { draft } => match env.app.discard_draft(&operator, draft) {
            Ok(Discarded::Discarded) => {
                answer.await?;
                let done = OutMessage { html: ctx.t("op.discarded"), buttons: Vec::new() };
                send::edit(env.bot, chat, card_id, &done).await?;
            }
            Ok(Discarded::AlreadySent(edition)) => {
                answer.text(ctx.f("op.already_sent", &[("edition", &edition.to_string())])).await?;
            }
            Ok(Discarded::Gone) => {
                answer.text(ctx.t("op.discarded")).await?;
            }
            Err(refusal) => {
                answer.text(access::notice(&ctx, refusal)).await?;
            }
        },
        Action::BroadcastSend { draft } => match env.app.send_draft(&operator, draft) {
            Ok(Sent::Started { edition }) => {
                answer.await?;
                let card = OutMessage {
                    html: ctx.f(
                        "op.progress.broadcast",
                        &[("edition", &edition.to_string()), ("target", "0")],
                    ),
                    buttons: Vec::new(),
                };
                send::edit(env.bot, chat, card_id, &card).await?;
                follow(env, chat, lang, edition).await?;
            }
            Ok(Sent::AlreadySent { edition }) => {
                answer.text(ctx.f("op.already_sent", &[("edition", &edition.to_string())])).await?;
            }
            Ok(Sent::Discarded) => {
                answer.text(ctx.t("op.discarded")).await?;
            }
            Ok(Sent::Nobody) => {
                answer.text(ctx.t("op.nobody")).await?;
            }
            Err(Refusal::Stale) => {
                answer.text(stale()).await?;
            }
            Err(refusal) => {
                answer.text(access::notice(&ctx, refusal)).await?;
            }
        },
        _ => {
            answer.await?;
        }
    }
    Ok(())
}

/// `/cancel [edition]`.
pub(super) fn cancel(env: &OpEnv<'_>, ctx: &Ctx<'_>, operator: &Operator, args: &str) -> Reply {
    match env.app.cancel(operator, args) {
        Ok(Cancelled::NothingRunning) => text(ctx.t("op.nothing_to_cancel")),
        Ok(Cancelled::NoEdition(arg)) => {
            text(ctx.f("op.no_edition", &[("edition", &html::escape(&arg))]))
        }
        Ok(Cancelled::Cancelled(status)) => {
            let job = &status.job;
            text(views::progress(
                ctx,
                job.kind,
                status.edition,
                job.target,
                job.state,
                &status.progress,
                0.0,
            ))
        }
        Err(refusal) => access::refused(ctx, refusal, ""),
    }
}
