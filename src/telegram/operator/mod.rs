//! Operators' commands and buttons in Telegram, one file for each thing an operator does:
//! broadcasts with their drafts and `/cancel` (`broadcast`), live progress of bulk jobs
//! (`progress`), withdrawing and correcting what was sent (`changes`), content edits and
//! statement files (`content`), and what operators read: the audit log, editions, `/stats`
//! and `/health` (`records`); `env` is what they all work with. This file registers the
//! operators' menu and dispatches their commands.
//!
//! Every command and button is one of `app/`'s operator use cases, behind its one check
//! (`Tribune::operator`): a non-operator gets a short refusal and nothing changes.

mod broadcast;
mod changes;
mod content;
mod env;
mod progress;
mod records;

pub use broadcast::on_button;
pub use content::on_document;
pub use env::{OpEnv, Tasks};
pub use progress::resume_progress;

use super::{access, error::HandlerResult};
use crate::{
    app::{Refusal, Tribune},
    broadcast::JobKind,
    delivery::{Observer, Pacer},
    render::{self, html, operator as views},
};
use env::{lang_of, reply};
use std::sync::Arc;
use teloxide::{prelude::*, types::Me, utils::command::BotCommands};

/// Commands only operators may use (`render::OPERATOR_COMMANDS`, in this order). Not in the
/// public menu: each operator's private chat gets them in its own menu.
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
    #[command(description = "subscribers and deliveries, with a 30-day chart")]
    Stats(String),
    #[command(description = "outbox, last delivery, errors in the last hour")]
    Health(String),
}

/// Registers the operators' menu in each operator's private chat (the public menu plus theirs).
pub async fn register_menu(bot: &Bot, app: &Tribune) {
    let corpus = app.corpus();
    for &operator in app.operators() {
        let mut commands = super::commands::menu(&corpus, app.lang_for(operator, None));
        commands.extend(OperatorCommand::bot_commands());
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
    tasks: Arc<Tasks>,
    observer: Arc<Observer>,
    me: Me,
    msg: Message,
    cmd: OperatorCommand,
) -> HandlerResult {
    let env =
        OpEnv { bot: &bot, app: &app, pacer: &pacer, me: &me, tasks: &tasks, observer: &observer };
    let corpus = app.corpus();
    let ctx = env.ctx(&corpus, lang_of(&app, &msg));
    let operator = match app.operator(&access::of_message(&msg)) {
        Ok(operator) => operator,
        // In a group a bare `/cancel` or `/stats` may be meant for another bot: stay quiet.
        Err(Refusal::OperatorsOnly) if !access::addressed_to_me(&msg, &me) => return Ok(()),
        Err(refusal) => {
            let name = msg.text().and_then(|t| t.split_whitespace().next()).unwrap_or("/operator");
            let name = html::escape(name.split('@').next().unwrap_or(name));
            return reply(&env, msg.chat.id, &access::refused(&ctx, refusal, &name)).await;
        }
    };
    let op = &operator;
    let answer = match cmd {
        OperatorCommand::Operator(_) => views::operator_help(&ctx),
        OperatorCommand::Broadcast(args) => {
            return broadcast::broadcast(&env, &ctx, &msg, op, &args).await;
        }
        OperatorCommand::Cancel(args) => broadcast::cancel(&env, &ctx, op, &args),
        OperatorCommand::Withdraw(args) => {
            return changes::start_change(&env, &ctx, &msg, op, JobKind::Withdraw, &args).await;
        }
        OperatorCommand::Correct(args) => {
            return changes::start_change(&env, &ctx, &msg, op, JobKind::Correct, &args).await;
        }
        OperatorCommand::Editions(_) => records::editions(&env, &ctx, op),
        OperatorCommand::AddSlogan(args) => content::answer(&ctx, app.add_slogan(op, &args)),
        OperatorCommand::SetPrisoner(args) => content::answer(&ctx, app.set_prisoner(op, &args)),
        OperatorCommand::Edits(args) => content::answer(&ctx, app.edits(op, &args)),
        OperatorCommand::Audit(_) => records::audit(&env, &ctx, op),
        OperatorCommand::Stats(args) if args.trim().is_empty() => {
            return records::stats(&env, &ctx, msg.chat.id, op).await;
        }
        OperatorCommand::Health(args) if args.trim().is_empty() => records::health(&env, &ctx, op),
        OperatorCommand::Stats(_) => render::no_arguments(&ctx, "/stats"),
        OperatorCommand::Health(_) => render::no_arguments(&ctx, "/health"),
    };
    reply(&env, msg.chat.id, &answer).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_operators_menu_is_the_one_operator_command_set() {
        let parsed: Vec<String> = OperatorCommand::bot_commands()
            .into_iter()
            .map(|c| c.command.trim_start_matches('/').to_string())
            .collect();
        assert_eq!(parsed, render::OPERATOR_COMMANDS);
    }

    proptest! {
        #[test]
        fn operator_commands_never_panic(text in "/?[a-z]{0,14}(@[a-z_]{0,12})? ?.{0,80}") {
            let _ = OperatorCommand::parse(&text, "tribune_bot");
        }
    }
}
