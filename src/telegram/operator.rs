//! Operators' commands and buttons: broadcasts with live progress, cancelling, withdrawing and
//! correcting what was sent, content edits (slogans, statements, prisoners), the audit log.
//!
//! The caller's id is checked against `TRIBUNE_ADMINS` on every command and every button
//! (callback data can be forged); anyone else gets a short refusal and nothing changes. Every
//! action that changes something is written to the audit log.

use super::{handlers::HandlerError, send};
use crate::{
    app::Tribune,
    broadcast::{Audience, AudienceCounts, Body, Draft, DraftState, Job, JobKind, JobState},
    content::{ContentEdit, Lang, Status, parse::parse_date, parse::parse_statement_file},
    delivery::Pacer,
    render::{self, Action, Ctx, OutMessage, Reply, html, operator as views},
    schedule::{Push, Scheduler},
    store::{Edition, EditionKind, Launch, Op, OutboxItem, PrisonerChange, unix_now},
    subscription::ChatKind,
};
use std::{sync::Arc, time::Duration};
use teloxide::{
    net::Download,
    prelude::*,
    types::{Me, MessageEntity, MessageEntityKind, MessageId, ParseMode},
    utils::{command::BotCommands, render::Renderer},
};

type HandlerResult = Result<(), HandlerError>;

/// How often a progress message is edited: well inside Telegram's per-chat limits.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// How long after sending Telegram lets a bot delete its message.
const DELETE_WITHIN: Duration = Duration::from_secs(48 * 3600);
/// The largest statement file accepted from Telegram.
const MAX_DOCUMENT_BYTES: u32 = 512 * 1024;
/// Entries `/audit` shows.
const AUDIT_SHOWN: usize = 20;
/// Editions `/editions` shows.
const EDITIONS_SHOWN: usize = 10;

/// Commands only operators may use. Not in the public menu: each operator's private chat gets
/// them in its own menu.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum OperatorCommand {
    #[command(description = "operator commands")]
    Operator(String),
    #[command(description = "send a message to subscribers")]
    Broadcast(String),
    #[command(description = "stop a running broadcast, withdrawal or correction")]
    Cancel(String),
    #[command(description = "delete an edition in every chat")]
    Withdraw(String),
    #[command(description = "edit an edition in every chat")]
    Correct(String),
    #[command(description = "recent editions")]
    Editions(String),
    #[command(description = "add a slogan")]
    AddSlogan(String),
    #[command(description = "change a prisoner's status")]
    SetPrisoner(String),
    #[command(description = "content edits made from Telegram")]
    Edits(String),
    #[command(description = "what operators did")]
    Audit(String),
}

/// Everything an operator handler needs.
pub struct OpEnv<'a> {
    pub bot: &'a Bot,
    pub app: &'a Arc<Tribune>,
    pub pacer: &'a Arc<Pacer>,
    pub push: &'a Push,
    pub me: &'a Me,
    pub tasks: &'a Arc<Tasks>,
}

/// Progress messages being kept up to date; stopped when the bot stops.
#[derive(Default)]
pub struct Tasks(std::sync::Mutex<tokio::task::JoinSet<()>>);

impl Tasks {
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Finished ones are reaped here, so the set only holds what runs.
        while set.try_join_next().is_some() {}
        set.spawn(task);
    }

    /// Stops them all.
    pub fn abort_all(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).abort_all();
    }
}

impl OpEnv<'_> {
    fn ctx<'c>(&'c self, corpus: &'c crate::content::Corpus, lang: Lang) -> Ctx<'c> {
        Ctx { corpus, lang, bot_username: self.me.username(), seed: 0 }
    }
}

/// Registers the operators' menu in each operator's private chat (the public menu plus theirs).
pub async fn register_menu(bot: &Bot, app: &Tribune) {
    let corpus = app.corpus();
    for &operator in app.operators() {
        let mut commands = super::commands::menu(&corpus, app.lang_for(operator, None));
        commands.extend(OperatorCommand::bot_commands());
        commands.extend(render::OPERATOR_COMMANDS.iter().map(|c| {
            let description = match *c {
                "stats" => "subscribers and deliveries, with a 30-day chart",
                _ => "outbox, last delivery, errors in the last hour",
            };
            teloxide::types::BotCommand::new(*c, description)
        }));
        let scope = teloxide::types::BotCommandScope::Chat {
            chat_id: teloxide::types::Recipient::Id(ChatId(operator)),
        };
        if let Err(e) = bot.set_my_commands(commands).scope(scope).await {
            // An operator who never opened a chat with the bot has no chat to scope to yet.
            log::info!("cannot register the operators' menu for one operator yet: {e}");
        }
    }
}

// dptree injects each dependency as its own parameter.
#[allow(clippy::too_many_arguments)]
pub async fn on_command(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    push: Push,
    tasks: Arc<Tasks>,
    me: Me,
    msg: Message,
    cmd: OperatorCommand,
) -> HandlerResult {
    let env = OpEnv { bot: &bot, app: &app, pacer: &pacer, push: &push, me: &me, tasks: &tasks };
    let (user, lang) = sender(&app, &msg);
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang);
    if !app.is_operator(user) {
        // In a group a bare `/cancel` or `/edits` may be meant for another bot: stay quiet.
        if !super::access::addressed_to_me(&msg, &me) {
            return Ok(());
        }
        log::info!("refused an operator command from a non-operator");
        return reply(&env, msg.chat.id, &views::refused(&ctx)).await;
    }
    if !msg.chat.is_private() {
        // Operators' work (and the audit log's ids) is not for a group's eyes; a broadcast's
        // copied message must come from a chat that cannot move or vanish under it.
        let name = msg.text().and_then(|t| t.split_whitespace().next()).unwrap_or("/operator");
        let name = html::escape(name.split('@').next().unwrap_or(name));
        return reply(&env, msg.chat.id, &text(ctx.f("private.only", &[("command", &name)]))).await;
    }
    let answer = match cmd {
        OperatorCommand::Operator(_) => views::operator_help(&ctx),
        OperatorCommand::Broadcast(args) => return broadcast(&env, &ctx, &msg, user, &args).await,
        OperatorCommand::Cancel(args) => cancel(&env, &ctx, user, &args)?,
        OperatorCommand::Withdraw(args) => {
            return start_change(&env, &ctx, &msg, user, JobKind::Withdraw, &args).await;
        }
        OperatorCommand::Correct(args) => {
            return start_change(&env, &ctx, &msg, user, JobKind::Correct, &args).await;
        }
        OperatorCommand::Editions(_) => {
            views::editions(&ctx, &app.store().editions_latest(EDITIONS_SHOWN)?)
        }
        OperatorCommand::AddSlogan(args) => add_slogan(&env, &ctx, user, &args)?,
        OperatorCommand::SetPrisoner(args) => set_prisoner(&env, &ctx, user, &args)?,
        OperatorCommand::Edits(args) => edits(&env, &ctx, user, &args)?,
        OperatorCommand::Audit(_) => views::audit(&ctx, &app.store().audit_latest(AUDIT_SHOWN)?),
    };
    reply(&env, msg.chat.id, &answer).await
}

/// Who sent a message (0 for nobody, which is never an operator) and the language to answer in.
fn sender(app: &Tribune, msg: &Message) -> (i64, Lang) {
    let user = msg.from.as_ref().map_or(0, |u| u.id.0 as i64);
    let code = msg.from.as_ref().and_then(|u| u.language_code.as_deref());
    (user, app.lang_for(msg.chat.id.0, code))
}

async fn reply(env: &OpEnv<'_>, chat: ChatId, reply: &Reply) -> HandlerResult {
    send::reply(env.bot, env.pacer, chat, reply).await?;
    Ok(())
}

fn text(html: String) -> Reply {
    Reply::html(html, Vec::new())
}

// ---- Broadcasts ----------------------------------------------------------------------------

async fn broadcast(
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

/// A message's text with its formatting, as Telegram HTML. teloxide's renderer returns the
/// text unescaped when it has no formatting entities (a bot command is not one), so that case
/// is escaped here.
fn formatted(text: &str, entities: Option<&[teloxide::types::MessageEntity]>) -> String {
    let rendered = Renderer::new(text, entities.unwrap_or_default()).as_html();
    if rendered == text { html::escape(text) } else { rendered }
}

/// The formatted text of a command's message after its first `words` words (the command and
/// its plain arguments), as Telegram HTML: the entities are cut where the text is, so
/// formatting that spans the cut stays balanced. `None` when nothing follows.
fn text_after(msg: &Message, words: usize) -> Option<String> {
    let text = msg.text()?;
    let mut at = 0;
    for _ in 0..words {
        let start = text[at..].find(|c: char| !c.is_whitespace())? + at;
        at = text[start..].find(char::is_whitespace).map_or(text.len(), |end| start + end);
    }
    let start = text[at..].find(|c: char| !c.is_whitespace()).map(|i| at + i)?;
    let cut = text[..start].encode_utf16().count();
    let rest = text[start..].trim_end();
    let rest_len = rest.encode_utf16().count();
    let entities: Vec<MessageEntity> = msg
        .entities()
        .unwrap_or_default()
        .iter()
        .filter(|e| !matches!(e.kind, MessageEntityKind::BotCommand))
        .filter_map(|e| {
            let begin = e.offset.max(cut);
            let end = (e.offset + e.length).min(cut + rest_len);
            (end > begin).then(|| MessageEntity {
                kind: e.kind.clone(),
                offset: begin - cut,
                length: end - begin,
            })
        })
        .collect();
    Some(formatted(rest, Some(&entities)))
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

/// Sends a progress message for a job and keeps it up to date until the job ends.
async fn follow(env: &OpEnv<'_>, chat: ChatId, lang: Lang, edition: u64) -> HandlerResult {
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

fn cancel(env: &OpEnv<'_>, ctx: &Ctx<'_>, user: i64, args: &str) -> Result<Reply, HandlerError> {
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

// ---- Withdrawals and corrections -------------------------------------------------------------

async fn start_change(
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

// ---- Content edits -------------------------------------------------------------------------

fn add_slogan(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    user: i64,
    args: &str,
) -> Result<Reply, HandlerError> {
    let usage = || {
        let ids: Vec<String> = ctx
            .corpus
            .statements
            .iter()
            .map(|s| format!("<code>{}</code>", html::escape(&s.id)))
            .collect();
        text(ctx.f("op.addslogan_usage", &[("statements", &ids.join(", "))]))
    };
    let mut words = args.trim().splitn(2, char::is_whitespace);
    let (Some(statement_id), Some(rest)) = (words.next(), words.next()) else { return Ok(usage()) };
    let Some(statement) = ctx.corpus.statement(statement_id) else { return Ok(usage()) };
    let rest = rest.trim();
    let (lang, slogan_text) = match rest.split_once(char::is_whitespace) {
        Some((code, after)) if Lang::parse(code).is_some_and(|l| l.code() == code) => {
            (Lang::parse(code).unwrap_or(statement.original_language), after.trim())
        }
        _ => (statement.text_lang(statement.original_language), rest),
    };
    if slogan_text.is_empty() {
        return Ok(usage());
    }
    let id = slogan_id(ctx.corpus, slogan_text);
    let edit = ContentEdit::Slogan {
        id,
        statement: statement.id.clone(),
        lang,
        text: slogan_text.to_string(),
    };
    save_edit(env, ctx, user, edit)
}

/// A stable, unique id from a slogan's words (`long-live-the-struggle`), or `slogan-N`.
fn slogan_id(corpus: &crate::content::Corpus, text: &str) -> String {
    let mut base = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            base.push(c);
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
        if base.len() >= 32 {
            break;
        }
    }
    let base = base.trim_end_matches('-').to_string();
    let base = if base.len() < 3 { "slogan".to_string() } else { base };
    let taken = |id: &str| corpus.slogans.iter().any(|s| s.id == id);
    if !taken(&base) && base != "slogan" {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !taken(id)).unwrap_or(base)
}

fn set_prisoner(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    user: i64,
    args: &str,
) -> Result<Reply, HandlerError> {
    match prisoner_edit(args) {
        Ok(edit) => save_edit(env, ctx, user, edit),
        Err(ArgError::Usage) => Ok(text(ctx.t("op.setprisoner_usage"))),
        Err(ArgError::BadDate(date)) => {
            Ok(text(ctx.f("op.bad_date", &[("date", &html::escape(&date))])))
        }
    }
}

/// Why an operator's arguments were not understood.
#[derive(Debug, PartialEq)]
enum ArgError {
    /// Not in the command's shape: show how to use it.
    Usage,
    /// A word meant as a date that is not one (`2026-02-31`).
    BadDate(String),
}

/// `<id> <status> [YYYY[-MM[-DD]]] [note]` as a prisoner edit. A word after the status that
/// starts with a digit is taken as the date, so a mistyped date is refused, not kept as a note.
fn prisoner_edit(args: &str) -> Result<ContentEdit, ArgError> {
    let mut words = args.split_whitespace();
    let (Some(id), Some(status)) = (words.next(), words.next()) else {
        return Err(ArgError::Usage);
    };
    let status = [
        Status::Imprisoned,
        Status::Released,
        Status::Sentenced,
        Status::Transferred,
        Status::Unknown,
    ]
    .into_iter()
    .find(|s| s.code() == status)
    .ok_or(ArgError::Usage)?;
    let rest: Vec<&str> = words.collect();
    let (since, note_words) = match rest.first() {
        Some(word) if word.starts_with(|c: char| c.is_ascii_digit()) => {
            let date = parse_date(word).map_err(|_| ArgError::BadDate(word.to_string()))?;
            (Some(date), &rest[1..])
        }
        _ => (None, &rest[..]),
    };
    let note = Some(note_words.join(" ")).filter(|n| !n.is_empty());
    Ok(ContentEdit::Prisoner { id: id.to_string(), status, since, note })
}

fn edits(env: &OpEnv<'_>, ctx: &Ctx<'_>, user: i64, args: &str) -> Result<Reply, HandlerError> {
    let store = env.app.store();
    let mut words = args.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => Ok(views::edits(ctx, &store.edits()?)),
        (Some("drop"), Some(number)) => {
            let Some(seq) = number.parse::<u64>().ok() else {
                return Ok(text(ctx.f("op.no_such_edit", &[("number", &html::escape(number))])));
            };
            match env.app.drop_edit(seq)? {
                Ok(Some(changes)) => {
                    store.audit(user, format!("dropped content edit {seq}"))?;
                    let mut answer = ctx.f("op.edit_dropped", &[("number", &seq.to_string())]);
                    answer.push_str(&alerts(env, ctx, &changes));
                    Ok(text(answer))
                }
                Ok(None) => Ok(text(ctx.f("op.no_such_edit", &[("number", &seq.to_string())]))),
                Err(problems) => Ok(views::edit_problems(ctx, &problems)),
            }
        }
        _ => Ok(views::operator_help(ctx)),
    }
}

/// Applies an edit; answers with what was saved, or every problem with its file and line.
fn save_edit(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    user: i64,
    edit: ContentEdit,
) -> Result<Reply, HandlerError> {
    let described = edit.describe();
    match env.app.apply_edit(user, edit)? {
        Ok(changes) => {
            env.app.store().audit(user, format!("content edit: {described}"))?;
            let mut answer = ctx.f("op.edit_saved", &[("edit", &html::escape(&described))]);
            answer.push_str(&alerts(env, ctx, &changes));
            Ok(text(answer))
        }
        Err(problems) => Ok(views::edit_problems(ctx, &problems)),
    }
}

/// Queues status-change alerts for what an edit changed; a line saying how many, if any.
fn alerts(env: &OpEnv<'_>, ctx: &Ctx<'_>, changes: &[PrisonerChange]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let scheduler =
        Scheduler::new(env.app.clone(), env.push.clone(), env.me.username().to_string());
    match scheduler.run_alerts() {
        Ok(count) => format!("\n{}", ctx.f("op.alerts_queued", &[("count", &count.to_string())])),
        Err(e) => {
            log::error!("cannot queue prisoner-status alerts: {e}");
            String::new()
        }
    }
}

/// A document sent by an operator in a private chat: a statement file to add or replace.
pub async fn on_document(
    bot: Bot,
    app: Arc<Tribune>,
    pacer: Arc<Pacer>,
    push: Push,
    tasks: Arc<Tasks>,
    me: Me,
    msg: Message,
) -> HandlerResult {
    let env = OpEnv { bot: &bot, app: &app, pacer: &pacer, push: &push, me: &me, tasks: &tasks };
    let (user, lang) = sender(&app, &msg);
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang);
    let Some(document) = msg.document() else { return Ok(()) };
    if !app.is_operator(user) {
        return reply(&env, msg.chat.id, &render::non_text(&ctx)).await;
    }
    let unreadable =
        |reason: &str| text(ctx.f("op.document_unreadable", &[("reason", &html::escape(reason))]));
    let name = document.file_name.clone().unwrap_or_default();
    if !name.ends_with(".md") {
        return reply(
            &env,
            msg.chat.id,
            &unreadable("send a statement as a .md file in the messages/ format"),
        )
        .await;
    }
    if document.file.size > MAX_DOCUMENT_BYTES {
        return reply(&env, msg.chat.id, &unreadable("the file is larger than 512 KB")).await;
    }
    let file = match bot.get_file(document.file.id.clone()).await {
        Ok(file) => file,
        Err(e) => {
            log::warn!("cannot fetch a statement file's location: {e}");
            let answer = unreadable("it could not be downloaded; send it again");
            return reply(&env, msg.chat.id, &answer).await;
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = bot.download_file(&file.path, &mut bytes).await {
        log::warn!("cannot download a statement file: {e}");
        return reply(&env, msg.chat.id, &unreadable("it could not be downloaded; send it again"))
            .await;
    }
    let Ok(source) = String::from_utf8(bytes) else {
        return reply(&env, msg.chat.id, &unreadable("it is not UTF-8 text")).await;
    };
    let shown_name = format!("statements/{}", name.replace(['/', '\\'], "_"));
    let answer = match parse_statement_file(&shown_name, &source) {
        Err(problems) => views::edit_problems(&ctx, &problems),
        Ok(statement) => {
            let edit = ContentEdit::Statement {
                file: format!("statements/{}.md", statement.id),
                text: source,
            };
            match save_edit(&env, &ctx, user, edit) {
                Ok(reply) => reply,
                Err(e) => return Err(e),
            }
        }
    };
    reply(&env, msg.chat.id, &answer).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::PartialDate;
    use proptest::prelude::*;

    #[test]
    fn prisoner_arguments_are_read_or_refused_clearly() {
        let edit = prisoner_edit("ulvi-hasanli released 2026-11 Freed on bail").unwrap();
        let since = Some(PartialDate { year: 2026, month: Some(11), day: None });
        let note = Some("Freed on bail".to_string());
        let (id, status) = ("ulvi-hasanli".to_string(), Status::Released);
        assert_eq!(edit, ContentEdit::Prisoner { id, status, since, note });
        let edit = prisoner_edit("x sentenced to 9 years").unwrap();
        assert!(
            matches!(edit, ContentEdit::Prisoner { since: None, note: Some(n), .. } if n == "to 9 years")
        );
        assert_eq!(prisoner_edit("x"), Err(ArgError::Usage));
        assert_eq!(prisoner_edit("x freed"), Err(ArgError::Usage));
        assert_eq!(prisoner_edit("x released 2026-13"), Err(ArgError::BadDate("2026-13".into())));
        assert_eq!(prisoner_edit("x released 9 years"), Err(ArgError::BadDate("9".into())));
    }

    proptest! {
        #[test]
        fn operator_commands_and_arguments_never_panic(text in "/?[a-z]{0,14}(@[a-z_]{0,12})? ?.{0,80}") {
            let _ = OperatorCommand::parse(&text, "tribune_bot");
            let _ = prisoner_edit(&text);
        }

        #[test]
        fn well_formed_prisoner_arguments_are_read_back(
            id in "[a-z][a-z0-9-]{0,20}",
            status in prop::sample::select(vec!["imprisoned", "released", "sentenced", "transferred", "unknown"]),
            year in 1900u16..=2100,
            month in proptest::option::of(1u8..=12),
            note in "( [^ \\s0-9][^\\s]{0,8}){0,4}",
        ) {
            let date = match month {
                Some(m) => format!("{year}-{m:02}"),
                None => year.to_string(),
            };
            let edit = prisoner_edit(&format!("{id} {status} {date}{note}")).unwrap();
            let ContentEdit::Prisoner { id: got_id, status: got_status, since, note: got_note } = edit else {
                panic!("not a prisoner edit");
            };
            prop_assert_eq!(got_id, id);
            prop_assert_eq!(got_status.code(), status);
            prop_assert_eq!(since, Some(PartialDate { year, month, day: None }));
            prop_assert_eq!(got_note.unwrap_or_default(), note.trim());
        }
    }
}
