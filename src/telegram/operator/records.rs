//! What operators read: `/audit`, `/editions`, `/health`, and `/stats` with its chart sent as
//! a photo.

use super::{
    super::{access, error::HandlerResult, send},
    env::OpEnv,
};
use crate::{
    app::Operator,
    render::{self, Ctx, Reply, operator as views},
    stats::chart,
};
use teloxide::{
    prelude::*,
    types::{InputFile, ParseMode},
};

/// `/audit`: the latest entries of the audit log.
pub(super) fn audit(env: &OpEnv<'_>, ctx: &Ctx<'_>, operator: &Operator) -> Reply {
    match env.app.audit_log(operator) {
        Ok(entries) => views::audit(ctx, &entries),
        Err(refusal) => access::refused(ctx, refusal, ""),
    }
}

/// `/editions`: the latest editions and the chats each reached.
pub(super) fn editions(env: &OpEnv<'_>, ctx: &Ctx<'_>, operator: &Operator) -> Reply {
    match env.app.editions(operator) {
        Ok(editions) => views::editions(ctx, &editions),
        Err(refusal) => access::refused(ctx, refusal, ""),
    }
}

/// `/health`: the delivery engine and the queue, now.
pub(super) fn health(env: &OpEnv<'_>, ctx: &Ctx<'_>, operator: &Operator) -> Reply {
    match env.app.health(operator, env.observer) {
        Ok((report, now)) => render::health(ctx, &report, now),
        Err(refusal) => access::refused(ctx, refusal, ""),
    }
}

/// `/stats`: the numbers as text, then the chart as a photo.
pub(super) async fn stats(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    chat: ChatId,
    operator: &Operator,
) -> HandlerResult {
    let report = match env.app.stats(operator) {
        Ok(report) => report,
        Err(refusal) => {
            send::reply(env.bot, env.pacer, chat, &access::refused(ctx, refusal, "")).await?;
            return Ok(());
        }
    };
    send::reply(env.bot, env.pacer, chat, &render::stats(ctx, &report)).await?;
    let png = chart::render_png(&report.chart())?;
    let request = env
        .bot
        .send_photo(chat, InputFile::memory(png).file_name("tribune-stats.png"))
        .caption(render::stats_caption(ctx, &report))
        .parse_mode(ParseMode::Html);
    send::paced(env.pacer, || request.clone().send()).await?;
    Ok(())
}
