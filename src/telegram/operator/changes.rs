//! Withdrawing and correcting an edition everywhere it was sent: a job of deletions or edits,
//! queued in the outbox like any bulk send, stopping the edition's broadcast first if it is
//! still going out.

use super::{
    super::error::{HandlerError, HandlerResult},
    env::{OpEnv, formatted, reply, text, text_after},
    progress::follow,
};
use crate::{
    broadcast::{Job, JobKind, JobState},
    render::{self, Ctx, OutMessage, html},
    store::{Edition, EditionKind, Op, OutboxItem, unix_now},
    subscription::ChatKind,
};
use std::time::Duration;
use teloxide::prelude::*;

/// How long after sending Telegram lets a bot delete its message.
const DELETE_WITHIN: Duration = Duration::from_secs(48 * 3600);

pub(super) async fn start_change(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    msg: &Message,
    user: i64,
    kind: JobKind,
    args: &str,
) -> HandlerResult {
    let chat = msg.chat.id;
    let store = env.app.store();
    let first = args.split_whitespace().next().unwrap_or("");
    let found = first.parse::<u64>().ok().and_then(|e| Some((e, store.edition(e).ok()??)));
    let Some((target, Edition { kind: target_kind, created_at })) = found else {
        let answer = if first.is_empty() && kind == JobKind::Correct {
            ctx.t("op.correct_empty")
        } else if first.is_empty() {
            ctx.t("op.withdraw_empty")
        } else {
            ctx.f("op.no_edition", &[("edition", &html::escape(first))])
        };
        return reply(env, chat, &text(answer)).await;
    };
    let edition = target.to_string();
    // A withdrawal or correction is changed by acting on the edition it changed.
    if matches!(target_kind, EditionKind::Withdraw | EditionKind::Correct) {
        return reply(env, chat, &text(ctx.f("op.change_of_change", &[("edition", &edition)])))
            .await;
    }
    if kind == JobKind::Withdraw
        && env.app.clock().now().timestamp() - created_at > DELETE_WITHIN.as_secs() as i64
    {
        return reply(env, chat, &text(ctx.f("op.too_old", &[("edition", &edition)]))).await;
    }
    let target_job = store.job(target)?;
    if kind == JobKind::Correct && target_job.as_ref().is_some_and(|j| j.fixed) {
        return reply(env, chat, &text(ctx.f("op.not_correctable", &[("edition", &edition)])))
            .await;
    }
    // A copied message (photo, document…) is corrected by its caption.
    let media = target_job.is_some_and(|j| j.media);
    let new_html = match kind {
        JobKind::Correct => {
            let replied =
                msg.reply_to_message().and_then(|m| m.text().map(|t| formatted(t, m.entities())));
            // Without a reply: what follows "/correct <edition>", formatting kept.
            let Some(html) = replied.or_else(|| text_after(msg, 2)) else {
                return reply(env, chat, &text(ctx.t("op.correct_empty"))).await;
            };
            let limit = if media { html::CAPTION_LIMIT } else { html::MESSAGE_LIMIT };
            if html::visible_len(&html) > limit {
                return reply(env, chat, &render::too_long(ctx)).await;
            }
            Some(html)
        }
        _ => None,
    };

    // A broadcast still going out is stopped first, or it would keep sending what is being
    // withdrawn or corrected; what was in flight then lands before the chats are listed.
    let stopped = match store.job(target)? {
        Some(job)
            if job.state == JobState::Running && !store.job_progress(target, &job)?.finished() =>
        {
            store.cancel_job(target)?;
            settle(store, target).await?;
            true
        }
        _ => false,
    };
    let reached: Vec<_> = store
        .deliveries(target)?
        .into_iter()
        .filter(|(_, record)| !record.message_ids.is_empty())
        .collect();
    if reached.is_empty() {
        let answer = ctx.f("op.nothing_sent", &[("edition", &target.to_string())]);
        return reply(env, chat, &text(answer)).await;
    }
    let kinds: Vec<ChatKind> = reached
        .iter()
        .map(|(chat, _)| {
            store.subscription(*chat).ok().flatten().map_or(ChatKind::Private, |s| s.kind)
        })
        .collect();
    let job = Job { target: Some(target), media, ..Job::running(kind, user, unix_now()) };
    let edition_kind =
        if kind == JobKind::Withdraw { EditionKind::Withdraw } else { EditionKind::Correct };
    let (edition, queued) = store.start_job(edition_kind, &job, |edition| {
        let mut items = Vec::new();
        for ((chat_id, record), kind) in reached.iter().zip(&kinds) {
            for (i, &message_id) in record.message_ids.iter().enumerate() {
                let op = match &new_html {
                    // The first message carries the correction; further parts are removed.
                    Some(_) if i == 0 => Op::Edit { message_id, caption: media },
                    _ => Op::Delete { message_id },
                };
                let message = OutMessage {
                    html: new_html.clone().filter(|_| i == 0).unwrap_or_default(),
                    buttons: Vec::new(),
                };
                items.push(OutboxItem {
                    edition,
                    chat_id: *chat_id,
                    kind: *kind,
                    message,
                    attempts: 0,
                    op,
                });
            }
        }
        items
    })?;
    let chats = reached.len();
    (env.push)(queued);
    store.audit(
        user,
        format!(
            "{} edition {target} in {chats} chats (edition {edition}){}",
            kind.code(),
            if stopped { ", stopping it first" } else { "" }
        ),
    )?;
    follow(env, chat, ctx.lang, edition).await
}

/// Waits until the delivery records of `edition` stop growing (sends in flight when it was
/// cancelled finish within the request timeout), at most 15 seconds.
async fn settle(store: &crate::store::Store, edition: u64) -> Result<(), HandlerError> {
    let mut seen = store.deliveries(edition)?.len();
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = store.deliveries(edition)?.len();
        if now == seen {
            break;
        }
        seen = now;
    }
    Ok(())
}
