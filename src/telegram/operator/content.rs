//! Content edits from Telegram: `/addslogan`, `/setprisoner`, `/edits` (and dropping one), and
//! statement files sent as documents. Each is checked with the files as a whole before it is
//! stored; status changes it makes are alerted.

use super::{
    super::error::{HandlerError, HandlerResult},
    env::{OpEnv, Tasks, reply, sender, text},
};
use crate::{
    app::Scheduler,
    app::Tribune,
    content::{ContentEdit, Corpus, Lang, Status, parse::parse_date, parse::parse_statement_file},
    delivery::{Pacer, Push},
    render::{self, Ctx, Reply, html, operator as views},
    store::PrisonerChange,
};
use std::sync::Arc;
use teloxide::{net::Download, prelude::*, types::Me};

/// The largest statement file accepted from Telegram.
const MAX_DOCUMENT_BYTES: u32 = 512 * 1024;

pub(super) fn add_slogan(
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
fn slogan_id(corpus: &Corpus, text: &str) -> String {
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

pub(super) fn set_prisoner(
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

pub(super) fn edits(
    env: &OpEnv<'_>,
    ctx: &Ctx<'_>,
    user: i64,
    args: &str,
) -> Result<Reply, HandlerError> {
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
        fn prisoner_arguments_never_panic(text in "/?[a-z]{0,14}(@[a-z_]{0,12})? ?.{0,80}") {
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
