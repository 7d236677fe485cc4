//! Inline mode: answers `@bot words` typed in any chat with the results `render::inline`
//! composes, as Telegram articles sent in HTML with link and Share buttons.

use super::{
    error::HandlerError,
    send::{keyboard, no_preview},
};
use crate::{
    app::Tribune,
    render::{self, Ctx, InlineResult},
};
use std::sync::Arc;
use teloxide::{
    prelude::*,
    types::{
        InlineQueryResult, InlineQueryResultArticle, InlineQueryResultsButton,
        InlineQueryResultsButtonKind, InputMessageContent, InputMessageContentText, Me, ParseMode,
    },
};

/// How long Telegram may cache an answer. Results change only with the content and the day.
pub const CACHE_SECONDS: u32 = 300;

/// Answers an inline query. Answers are personal: they are in the reader's language (their
/// `/lang`, else their Telegram language), which another reader may not share.
pub async fn on_inline_query(
    bot: Bot,
    app: Arc<Tribune>,
    me: Me,
    q: InlineQuery,
) -> Result<(), HandlerError> {
    let corpus = app.corpus();
    let lang = app.lang_for(q.from.id.0 as i64, q.from.language_code.as_deref());
    let ctx = Ctx { corpus: &corpus, lang, bot_username: me.username(), seed: 0 };
    let today = app.clock().now().date_naive();
    let page = render::inline(&ctx, &q.query, &q.offset, today);
    let results: Vec<InlineQueryResult> = page.results.iter().map(article).collect();
    let mut answer = bot
        .answer_inline_query(q.id.clone(), results)
        .cache_time(CACHE_SECONDS)
        .is_personal(true)
        .next_offset(page.next_offset.unwrap_or_default());
    if let Some((label, start)) = page.no_match {
        answer = answer.button(InlineQueryResultsButton {
            text: label,
            kind: InlineQueryResultsButtonKind::StartParameter(start.encode()),
        });
    }
    answer.await?;
    Ok(())
}

fn article(result: &InlineResult) -> InlineQueryResult {
    let content = InputMessageContentText::new(&result.html)
        .parse_mode(ParseMode::Html)
        .link_preview_options(no_preview());
    InlineQueryResultArticle::new(&result.id, &result.title, InputMessageContent::Text(content))
        .description(&result.description)
        .reply_markup(keyboard(&result.buttons))
        .into()
}

/// A message someone sent through this bot's inline mode: it is for the chat it went to, not a
/// request to the bot (in a private chat it would otherwise be searched).
pub fn sent_via_me(msg: Message, me: Me) -> bool {
    msg.via_bot.as_ref().is_some_and(|bot| bot.id == me.id)
}

pub async fn ignore() -> Result<(), HandlerError> {
    Ok(())
}
