//! Live progress of a bulk job: one message in the operator's chat, edited as the job goes,
//! and after a restart a fresh one for each job still running.

use super::{
    super::{error::HandlerResult, send},
    env::OpEnv,
};
use crate::{
    broadcast::JobState,
    content::Lang,
    render::{Ctx, OutMessage, operator as views},
};
use std::time::Duration;
use teloxide::{prelude::*, types::ParseMode};

/// How often a progress message is edited: well inside Telegram's per-chat limits.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// Sends a progress message for a job and keeps it up to date until the job ends.
pub(super) async fn follow(
    env: &OpEnv<'_>,
    chat: ChatId,
    lang: Lang,
    edition: u64,
) -> HandlerResult {
    let app = env.app.clone();
    let Some(job) = app.store().job(edition)? else { return Ok(()) };
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let start = app.store().job_progress(edition, &job)?;
    let first = views::progress(&ctx, job.kind, edition, job.target, job.state, &start, 0.0);
    let request = env.bot.send_message(chat, &first).parse_mode(ParseMode::Html);
    let sent = send::paced(env.pacer, || request.clone().send()).await?;
    if job.state != JobState::Running || start.finished() {
        return Ok(());
    }
    let (bot, username) = (env.bot.clone(), env.me.username().to_string());
    let started = tokio::time::Instant::now();
    env.tasks.spawn(async move {
        let corpus = app.corpus();
        let ctx = Ctx { corpus: &corpus, lang, bot_username: &username, seed: 0 };
        let mut last = first;
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let Ok(Some(job)) = app.store().job(edition) else { return };
            let Ok(now) = app.store().job_progress(edition, &job) else { return };
            let rate = now.rate_since(&start, started.elapsed().as_secs_f64());
            let text = views::progress(&ctx, job.kind, edition, job.target, job.state, &now, rate);
            if text != last {
                let message = OutMessage { html: text.clone(), buttons: Vec::new() };
                if let Err(e) = send::edit(&bot, chat, sent.id, &message).await {
                    log::warn!("cannot update a progress message: {e}");
                }
                last = text;
            }
            if job.state != JobState::Running || now.finished() {
                if now.finished()
                    && let Err(e) = app.store().finish_job(edition)
                {
                    log::warn!("cannot mark edition {edition} finished: {e}");
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
    let running = match env.app.store().running_jobs() {
        Ok(running) => running,
        Err(e) => {
            log::error!("cannot read running jobs: {e}");
            return;
        }
    };
    for (edition, job) in running {
        let lang = env.app.lang_for(job.operator, None);
        if let Err(e) = follow(env, ChatId(job.operator), lang, edition).await {
            log::warn!("cannot show the progress of edition {edition}: {e}");
        }
    }
}
