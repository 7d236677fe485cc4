//! The command enum teloxide parses, and the menu registered with `setMyCommands`.
//!
//! Every command takes the rest of the line as one string, so the core, not the parser,
//! decides what a missing or extra argument means and answers it helpfully.

use crate::{content::Lang, render::COMMANDS};
use std::sync::Arc;
use teloxide::{prelude::*, types::BotCommand, utils::command::BotCommands};

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    Start(String),
    Help(String),
    Excerpt(String),
    Slogan(String),
    Prisoners(String),
    Prisoner(String),
    Statements(String),
    Read(String),
    Search(String),
    Subscribe(String),
    Settings(String),
    Unsubscribe(String),
    Stop(String),
    Channels(String),
    Lang(String),
    About(String),
    // Operators' commands are `operator::OperatorCommand`, behind one check.
}

/// The public command menu in one language.
pub fn menu(corpus: &crate::content::Corpus, lang: Lang) -> Vec<BotCommand> {
    COMMANDS.iter().map(|c| BotCommand::new(*c, corpus.ui.get(lang, &format!("cmd.{c}")))).collect()
}

/// Registers the command menu: English as the default, and one list per other language.
pub async fn register(
    bot: &Bot,
    corpus: &Arc<crate::content::Corpus>,
) -> Result<(), teloxide::RequestError> {
    for lang in Lang::ALL {
        let request = bot.set_my_commands(menu(corpus, lang));
        match lang {
            Lang::En => request.await?,
            other => request.language_code(other.code()).await?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_lists_exactly_the_parsed_commands() {
        let parsed: Vec<String> = Command::bot_commands()
            .into_iter()
            .map(|c| c.command.trim_start_matches('/').to_string())
            .collect();
        assert_eq!(parsed, COMMANDS);
    }

    #[test]
    fn arguments_are_kept_whole() {
        let parsed = Command::parse("/read 1 2", "tribune_bot").unwrap();
        assert_eq!(parsed, Command::Read("1 2".into()));
        assert_eq!(
            Command::parse("/slogan@tribune_bot", "tribune_bot").unwrap(),
            Command::Slogan(String::new())
        );
        assert!(Command::parse("/nope", "tribune_bot").is_err());
    }
}
