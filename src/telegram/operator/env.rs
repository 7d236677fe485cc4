//! What every operator command works with: the handler's dependencies, how to answer, and an
//! operator's message text as Telegram HTML.

use super::super::{error::HandlerResult, send};
use crate::{
    app::Tribune,
    content::{Corpus, Lang},
    delivery::{Observer, Pacer},
    render::{Ctx, Reply, html},
};
use std::sync::Arc;
use teloxide::{
    prelude::*,
    types::{Me, MessageEntity, MessageEntityKind},
    utils::render::Renderer,
};

/// Everything an operator handler needs.
pub struct OpEnv<'a> {
    pub bot: &'a Bot,
    pub app: &'a Arc<Tribune>,
    pub pacer: &'a Arc<Pacer>,
    pub me: &'a Me,
    pub tasks: &'a Arc<Tasks>,
    /// The delivery engine's health, for `/health`.
    pub observer: &'a Arc<Observer>,
}

/// Progress messages being kept up to date; stopped when the bot stops.
#[derive(Default)]
pub struct Tasks(std::sync::Mutex<tokio::task::JoinSet<()>>);

impl Tasks {
    pub(super) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
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
    pub(super) fn ctx<'c>(&'c self, corpus: &'c Corpus, lang: Lang) -> Ctx<'c> {
        Ctx { corpus, lang, bot_username: self.me.username(), seed: 0 }
    }
}

/// The language to answer a message in.
pub(super) fn lang_of(app: &Tribune, msg: &Message) -> Lang {
    let code = msg.from.as_ref().and_then(|u| u.language_code.as_deref());
    app.lang_for(msg.chat.id.0, code)
}

pub(super) async fn reply(env: &OpEnv<'_>, chat: ChatId, reply: &Reply) -> HandlerResult {
    send::reply(env.bot, env.pacer, chat, reply).await?;
    Ok(())
}

pub(super) fn text(html: String) -> Reply {
    Reply::html(html, Vec::new())
}

/// A message's text with its formatting, as Telegram HTML. teloxide's renderer returns the
/// text unescaped when it has no formatting entities (a bot command is not one), so that case
/// is escaped here.
pub(super) fn formatted(text: &str, entities: Option<&[teloxide::types::MessageEntity]>) -> String {
    let rendered = Renderer::new(text, entities.unwrap_or_default()).as_html();
    if rendered == text { html::escape(text) } else { rendered }
}

/// The formatted text of a command's message after its first `words` words (the command and
/// its plain arguments), as Telegram HTML: the entities are cut where the text is, so
/// formatting that spans the cut stays balanced. `None` when nothing follows.
pub(super) fn text_after(msg: &Message, words: usize) -> Option<String> {
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
