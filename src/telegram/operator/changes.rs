//! `/withdraw` and `/correct` in Telegram: the correction's text is read with its formatting
//! (the message replied to, or what follows the edition), the job is the app's, and its
//! progress is followed in the operator's chat.

use super::{
    super::{access, error::HandlerResult},
    env::{OpEnv, formatted, reply, text, text_after},
    progress::follow,
};
use crate::{
    app::{ChangeOutcome, Operator},
    broadcast::JobKind,
    render::{self, Ctx, html},
};
use teloxide::prelude::*;

pub(super) async fn start_change(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    msg: &Message,
    operator: &Operator,
    kind: JobKind,
    args: &str,
) -> HandlerResult {
    let chat = msg.chat.id;
    let new_html = match kind {
        JobKind::Correct => {
            let replied =
                msg.reply_to_message().and_then(|m| m.text().map(|t| formatted(t, m.entities())));
            // Without a reply: what follows "/correct <edition>", formatting kept.
            replied.or_else(|| text_after(msg, 2))
        }
        _ => None,
    };
    let edition = |e: u64| e.to_string();
    let answer = match env.app.change_edition(operator, kind, args, new_html).await {
        Ok(ChangeOutcome::Started { edition }) => {
            return follow(env, chat, ctx.lang, edition).await;
        }
        Ok(ChangeOutcome::Empty) if kind == JobKind::Correct => ctx.t("op.correct_empty"),
        Ok(ChangeOutcome::Empty) => ctx.t("op.withdraw_empty"),
        Ok(ChangeOutcome::NoEdition(arg)) => {
            ctx.f("op.no_edition", &[("edition", &html::escape(&arg))])
        }
        Ok(ChangeOutcome::ChangeOfChange(e)) => {
            ctx.f("op.change_of_change", &[("edition", &edition(e))])
        }
        Ok(ChangeOutcome::TooOld(e)) => ctx.f("op.too_old", &[("edition", &edition(e))]),
        Ok(ChangeOutcome::Expired { edition: e, days }) => {
            ctx.f("op.expired", &[("edition", &edition(e)), ("days", &days.to_string())])
        }
        Ok(ChangeOutcome::NotCorrectable(e)) => {
            ctx.f("op.not_correctable", &[("edition", &edition(e))])
        }
        Ok(ChangeOutcome::NothingSent(e)) => ctx.f("op.nothing_sent", &[("edition", &edition(e))]),
        Ok(ChangeOutcome::TooLong) => return reply(env, chat, &render::too_long(ctx)).await,
        Err(refusal) => return reply(env, chat, &access::refused(ctx, refusal, "")).await,
    };
    reply(env, chat, &text(answer)).await
}
