//! Live progress of a bulk job: one message in the operator's chat, edited as the job goes,
//! and after a restart a fresh one for each job still running. Where a job stands is the
//! app's (`Tribune::job_status`); this keeps the message up to date.

use super::{
    super::{error::HandlerResult, send},
    env::OpEnv,
};
use crate::{
    app::JobStatus,
    content::Lang,
    render::{Ctx, OutMessage, operator as views},
};
use std::time::Duration;
use teloxide::{prelude::*, types::ParseMode};

/// How often a progress message is edited: well inside Telegram's per-chat limits.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

fn text(ctx: &Ctx<'_>, status: &JobStatus, rate: f64) -> String {
    let job = &status.job;
    views::progress(ctx, job.kind, status.edition, job.target, job.state, &status.progress, rate)
}

/// Sends a progress message for a job and keeps it up to date until the job ends.
pub(super) async fn follow(
    env: &OpEnv<'_>,
    chat: ChatId,
    lang: Lang,
    edition: u64,
) -> HandlerResult {
    let app = env.app.clone();
    let Some(start) = app.job_status(edition) else { return Ok(()) };
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let first = text(&ctx, &start, 0.0);
    let request = env.bot.send_message(chat, &first).parse_mode(ParseMode::Html);
    let sent = send::paced(env.pacer, || request.clone().send()).await?;
    if start.is_over() {
        return Ok(());
    }
    let (bot, username) = (env.bot.clone(), env.me.username().to_string());
    // Elapsed time for the rate: a duration, read from the monotonic clock.
    let started = tokio::time::Instant::now();
    env.tasks.spawn(async move {
        let corpus = app.corpus();
        let ctx = Ctx { corpus: &corpus, lang, bot_username: &username, seed: 0 };
        let mut last = first;
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let Some(now) = app.job_status(edition) else { return };
            let rate = now.progress.rate_since(&start.progress, started.elapsed().as_secs_f64());
            let shown = text(&ctx, &now, rate);
            if shown != last {
                let message = OutMessage { html: shown.clone(), buttons: Vec::new() };
                if let Err(e) = send::edit(&bot, chat, sent.id, &message).await {
                    log::warn!("cannot update a progress message: {e}");
                }
                last = shown;
            }
            if now.is_over() {
                if now.progress.finished() {
                    app.finish_job(edition);
                }
                return;
            }
        }
    });
    Ok(())
}

/// After a restart, jobs still running get a fresh progress message in their operator's chat
/// (the engine resumes their messages from the outbox by itself).
pub async fn resume_progress(env: &OpEnv<'_>) {
    for (edition, operator) in env.app.running_jobs() {
        let lang = env.app.lang_for(operator, None);
        if let Err(e) = follow(env, ChatId(operator), lang, edition).await {
            log::warn!("cannot show the progress of edition {edition}: {e}");
        }
    }
}
