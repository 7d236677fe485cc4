//! Broadcasts: a draft with a preview and an audience card, sent once on confirmation, and
//! `/cancel` for a running job.

use super::{
    super::{
        error::{HandlerError, HandlerResult},
        send,
    },
    env::{OpEnv, formatted, reply, text, text_after},
    progress::follow,
};
use crate::{
    app::Tribune,
    broadcast::{Audience, AudienceCounts, Body, Draft, DraftState, Job, JobKind},
    content::Lang,
    render::{self, Action, Ctx, OutMessage, Reply, html, operator as views},
    store::{Launch, Op, OutboxItem, unix_now},
};
use teloxide::{
    prelude::*,
    types::{MessageId, ParseMode},
};

pub(super) async fn broadcast(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    msg: &Message,
    user: i64,
    args: &str,
) -> HandlerResult {
    let body = match msg.reply_to_message() {
        Some(original) => match original.text() {
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
        },
        None if args.trim().is_empty() => {
            return reply(env, msg.chat.id, &text(ctx.t("op.broadcast_empty"))).await;
        }
        None => {
            Body::Text { html: text_after(msg, 1).unwrap_or_else(|| html::escape(args.trim())) }
        }
    };
    if let Body::Text { html } = &body
        && html::visible_len(html) > html::MESSAGE_LIMIT
    {
        return reply(env, msg.chat.id, &render::too_long(ctx)).await;
    }
    let draft = Draft {
        operator: user,
        body: body.clone(),
        audience: Audience::All,
        created_at: unix_now(),
        state: DraftState::Open,
    };
    let id = env.app.store().put_draft(&draft)?;
    env.app.store().audit(user, format!("prepared broadcast draft {id}"))?;
    // The preview: exactly what subscribers will get.
    match &body {
        Body::Text { html } => {
            let request = env
                .bot
                .send_message(msg.chat.id, html)
                .parse_mode(ParseMode::Html)
                .link_preview_options(send::no_preview());
            send::paced(env.pacer, || request.clone().send()).await?;
        }
        Body::Copy { from_chat, message_id, .. } => {
            let request =
                env.bot.copy_message(msg.chat.id, ChatId(*from_chat), MessageId(*message_id));
            send::paced(env.pacer, || request.clone().send()).await?;
        }
    }
    let counts = audience_counts(env.app);
    reply(env, msg.chat.id, &views::broadcast_card(ctx, id, Audience::All, &counts)).await
}

fn audience_counts(app: &Tribune) -> AudienceCounts {
    let subs: Vec<_> = app.store().subscriptions().collect();
    AudienceCounts::of(&subs)
}

/// A pressed operator button: re-checks the presser, then acts on the draft.
pub async fn on_button(
    env: &OpEnv<'_>,
    q: &CallbackQuery,
    lang: Lang,
    action: &Action,
) -> HandlerResult {
    let corpus = env.app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let user = q.from.id.0 as i64;
    let answer = env.bot.answer_callback_query(q.id.clone());
    if !env.app.is_operator(user) {
        log::info!("refused an operator button from a non-operator");
        answer.text(ctx.t("op.refused")).await?;
        return Ok(());
    }
    let Some(pressed) = q.message.as_ref() else {
        answer.await?;
        return Ok(());
    };
    let (chat, card_id) = (pressed.chat().id, pressed.id());
    let store = env.app.store();
    match *action {
        Action::BroadcastAudience { draft, audience } => {
            if !store.set_draft_audience(draft, audience)? {
                answer.text(ctx.t("stale_button")).await?;
                return Ok(());
            }
            store.audit(user, format!("broadcast draft {draft} audience: {}", audience.code()))?;
            answer.await?;
            let card = views::broadcast_card(&ctx, draft, audience, &audience_counts(env.app));
            send::edit(env.bot, chat, card_id, &card.messages[0]).await?;
        }
        Action::BroadcastDiscard { draft } => match store.discard_draft(draft)? {
            Some(DraftState::Open) => {
                store.audit(user, format!("discarded broadcast draft {draft}"))?;
                answer.await?;
                let done = OutMessage { html: ctx.t("op.discarded"), buttons: Vec::new() };
                send::edit(env.bot, chat, card_id, &done).await?;
            }
            Some(DraftState::Sent { edition }) => {
                answer.text(ctx.f("op.already_sent", &[("edition", &edition.to_string())])).await?;
            }
            _ => {
                answer.text(ctx.t("op.discarded")).await?;
            }
        },
        Action::BroadcastSend { draft } => {
            let Some(d) = store.draft(draft)? else {
                answer.text(ctx.t("stale_button")).await?;
                return Ok(());
            };
            let audience: Vec<_> =
                store.subscriptions().filter(|s| d.audience.includes(s)).collect();
            if audience.is_empty() && d.state == DraftState::Open {
                answer.text(ctx.t("op.nobody")).await?;
                return Ok(());
            }
            let (op, message, media, fixed) = match &d.body {
                Body::Text { html } => {
                    (Op::Send, OutMessage { html: html.clone(), buttons: Vec::new() }, false, false)
                }
                Body::Copy { from_chat, message_id, caption } => (
                    Op::Copy { from_chat: *from_chat, message_id: *message_id },
                    OutMessage::default(),
                    true,
                    !caption,
                ),
            };
            let job = Job { media, fixed, ..Job::running(JobKind::Broadcast, user, unix_now()) };
            let launched = store.launch_draft(draft, &job, |edition| {
                audience
                    .iter()
                    .map(|s| OutboxItem {
                        edition,
                        chat_id: s.chat_id,
                        kind: s.kind,
                        message: message.clone(),
                        attempts: 0,
                        op: op.clone(),
                    })
                    .collect()
            })?;
            match launched {
                Launch::Started { edition, queued } => {
                    let chats = queued.len();
                    (env.push)(queued);
                    store.audit(
                        user,
                        format!(
                            "broadcast edition {edition} to {} ({chats} chats)",
                            d.audience.code()
                        ),
                    )?;
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
                Launch::AlreadySent { edition } => {
                    answer
                        .text(ctx.f("op.already_sent", &[("edition", &edition.to_string())]))
                        .await?;
                }
                Launch::Discarded => {
                    answer.text(ctx.t("op.discarded")).await?;
                }
            }
        }
        _ => {
            answer.await?;
        }
    }
    Ok(())
}

pub(super) fn cancel(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    user: i64,
    args: &str,
) -> Result<Reply, HandlerError> {
    let store = env.app.store();
    let edition = match args.trim() {
        "" => match store.running_jobs()?.last() {
            Some((edition, _)) => *edition,
            None => return Ok(text(ctx.t("op.nothing_to_cancel"))),
        },
        arg => match arg.parse::<u64>().ok().filter(|e| store.job(*e).ok().flatten().is_some()) {
            Some(edition) => edition,
            None => {
                return Ok(text(ctx.f("op.no_edition", &[("edition", &html::escape(arg))])));
            }
        },
    };
    let Some(removed) = store.cancel_job(edition)? else {
        return Ok(text(ctx.t("op.nothing_to_cancel")));
    };
    store.audit(user, format!("cancelled edition {edition} ({removed} messages not sent)"))?;
    let job = store.job(edition)?.ok_or("the job vanished")?;
    let progress = store.job_progress(edition, &job)?;
    Ok(text(views::progress(ctx, job.kind, edition, job.target, job.state, &progress, 0.0)))
}
