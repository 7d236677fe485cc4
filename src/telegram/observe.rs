//! `/stats` and `/health`: operators only, in a private chat. The caller's id is checked
//! against `TRIBUNE_ADMINS` on every command; anyone else gets a short refusal and nothing
//! is read or sent.

use super::{commands::Command, error::HandlerError, send};
use crate::{
    app::Tribune,
    delivery::{Observer, Pacer},
    render::{self, Ctx, Reply},
    stats::{HealthReport, StatsReport, chart},
    store::unix_now,
};
use teloxide::{
    prelude::*,
    types::{InputFile, Me, ParseMode},
};

/// Whether the sender of `msg` is one of the operators.
pub fn is_operator(app: &Tribune, msg: &Message) -> bool {
    msg.from.as_ref().is_some_and(|u| app.is_operator(u.id.0 as i64))
}

pub async fn command(
    bot: &Bot,
    app: &Tribune,
    pacer: &Pacer,
    observer: &Observer,
    me: &Me,
    msg: &Message,
    cmd: &Command,
) -> Result<(), HandlerError> {
    let code = msg.from.as_ref().and_then(|u| u.language_code.as_deref());
    let lang = app.lang_for(msg.chat.id.0, code);
    let corpus = app.corpus();
    let ctx = Ctx { corpus: &corpus, lang, bot_username: me.username(), seed: 0 };
    let (name, args) = match cmd {
        Command::Stats(args) => ("/stats", args),
        Command::Health(args) => ("/health", args),
        _ => return Ok(()),
    };
    let reply = if !is_operator(app, msg) {
        // In a group a bare `/stats` may be meant for another bot: stay quiet.
        if !super::access::addressed_to_me(msg, me) {
            return Ok(());
        }
        render::operator::refused(&ctx)
    } else if !msg.chat.is_private() {
        // Counts are for operators, not for everyone in a group.
        Reply::html(ctx.f("private.only", &[("command", name)]), Vec::new())
    } else if !args.trim().is_empty() {
        render::no_arguments(&ctx, name)
    } else if name == "/health" {
        let report = HealthReport::collect(app.store(), observer)?;
        render::health(&ctx, &report, unix_now())
    } else {
        return stats(bot, app, pacer, &ctx, msg.chat.id).await;
    };
    send::reply(bot, pacer, msg.chat.id, &reply).await?;
    Ok(())
}

/// The numbers as text, then the chart as a photo.
async fn stats(
    bot: &Bot,
    app: &Tribune,
    pacer: &Pacer,
    ctx: &Ctx<'_>,
    chat: ChatId,
) -> Result<(), HandlerError> {
    let report = StatsReport::collect(app.store(), unix_now())?;
    send::reply(bot, pacer, chat, &render::stats(ctx, &report)).await?;
    let png = chart::render_png(&report.chart())?;
    let request = bot
        .send_photo(chat, InputFile::memory(png).file_name("tribune-stats.png"))
        .caption(render::stats_caption(ctx, &report))
        .parse_mode(ParseMode::Html);
    send::paced(pacer, || request.clone().send()).await?;
    Ok(())
}
