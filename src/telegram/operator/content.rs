//! Content edits in Telegram: `/addslogan`, `/setprisoner` and `/edits` answered from what
//! the app's use case came to, and statement files sent as documents, downloaded here.

use super::{
    super::{access, error::HandlerResult},
    env::{OpEnv, Tasks, lang_of, reply, text},
};
use crate::{
    app::{EditOutcome, Refusal, Tribune},
    delivery::{Observer, Pacer},
    render::{self, Ctx, Reply, html, operator as views},
};
use std::sync::Arc;
use teloxide::{net::Download, prelude::*, types::Me};

/// What a content command or a statement file came to, as a reply.
pub(super) fn answer(ctx: &Ctx<'_>, outcome: Result<EditOutcome, Refusal>) -> Reply {
    let alerts = |count: Option<usize>| match count {
        Some(count) => format!("\n{}", ctx.f("op.alerts_queued", &[("count", &count.to_string())])),
        None => String::new(),
    };
    match outcome {
        Ok(EditOutcome::SloganUsage) => {
            let ids: Vec<String> = ctx
                .corpus
                .statements
                .iter()
                .map(|s| format!("<code>{}</code>", html::escape(&s.id)))
                .collect();
            text(ctx.f("op.addslogan_usage", &[("statements", &ids.join(", "))]))
        }
        Ok(EditOutcome::PrisonerUsage) => text(ctx.t("op.setprisoner_usage")),
        Ok(EditOutcome::Help) => views::operator_help(ctx),
        Ok(EditOutcome::BadDate(date)) => {
            text(ctx.f("op.bad_date", &[("date", &html::escape(&date))]))
        }
        Ok(EditOutcome::Saved { edit, alerts: count }) => {
            let mut answer = ctx.f("op.edit_saved", &[("edit", &html::escape(&edit))]);
            answer.push_str(&alerts(count));
            text(answer)
        }
        Ok(EditOutcome::Dropped { seq, alerts: count }) => {
            let mut answer = ctx.f("op.edit_dropped", &[("number", &seq.to_string())]);
            answer.push_str(&alerts(count));
            text(answer)
        }
        Ok(EditOutcome::NoSuchEdit(number)) => {
            text(ctx.f("op.no_such_edit", &[("number", &html::escape(&number))]))
        }
        Ok(EditOutcome::Problems(problems)) => views::edit_problems(ctx, &problems),
        Ok(EditOutcome::List(edits)) => views::edits(ctx, &edits),
        Ok(EditOutcome::Unreadable(reason)) => {
            text(ctx.f("op.document_unreadable", &[("reason", &html::escape(reason))]))
        }
        Err(refusal) => access::refused(ctx, refusal, ""),
    }
}

/// A document sent in a private chat: from an operator, a statement file to add or replace;
/// from anyone else, a message without text.
// dptree injects each dependency as its own parameter.
#[allow(clippy::too_many_arguments)]
pub async fn on_document(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    tasks: Arc<Tasks>,
    observer: Arc<Observer>,
    me: Me,
    msg: Message,
) -> HandlerResult {
    let env =
        OpEnv { bot: &bot, app: &app, pacer: &pacer, me: &me, tasks: &tasks, observer: &observer };
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang_of(&app, &msg));
    let Some(document) = msg.document() else { return Ok(()) };
    let Ok(operator) = app.operator(&access::of_message(&msg)) else {
        return reply(&env, msg.chat.id, &render::non_text(&ctx)).await;
    };
    let name = document.file_name.clone().unwrap_or_default();
    if let Some(refused) = app.refuses_statement_file(&operator, &name, document.file.size) {
        return reply(&env, msg.chat.id, &answer(&ctx, Ok(refused))).await;
    }
    let not_downloaded =
        || answer(&ctx, Ok(EditOutcome::Unreadable("it could not be downloaded; send it again")));
    let file = match bot.get_file(document.file.id.clone()).await {
        Ok(file) => file,
        Err(e) => {
            log::warn!("cannot fetch a statement file's location: {e}");
            return reply(&env, msg.chat.id, &not_downloaded()).await;
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = bot.download_file(&file.path, &mut bytes).await {
        log::warn!("cannot download a statement file: {e}");
        return reply(&env, msg.chat.id, &not_downloaded()).await;
    }
    let outcome = app.statement_file(&operator, &name, bytes);
    reply(&env, msg.chat.id, &answer(&ctx, outcome)).await
}
