//! The example of README.md, word for word: another teloxide bot tested through the
//! emulator's public API alone.

use std::time::Duration;

use telegram_bot_api_emulator::Emulator;
use teloxide::{prelude::*, types::ParseMode, utils::command::BotCommands};

#[derive(BotCommands, Clone)]
#[command(rename_rule = "lowercase")]
enum Command {
    /// Say hello.
    Start,
}

async fn answer(bot: Bot, message: Message, command: Command) -> ResponseResult<()> {
    match command {
        Command::Start => {
            let hello = format!("Hello, <b>{}</b>!", message.chat.first_name().unwrap_or("you"));
            bot.send_message(message.chat.id, hello).parse_mode(ParseMode::Html).await?
        }
    };
    Ok(())
}

#[tokio::test]
async fn start_says_hello() {
    let emulator = Emulator::start().await.unwrap();
    let bot = Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().unwrap());
    let handler = Update::filter_message().filter_command::<Command>().endpoint(answer);
    let mut dispatcher = Dispatcher::builder(bot, handler).build();
    let stop = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    let ann = emulator.user(42, "Ann", Some("en"));
    ann.send_text("/start");
    let replies = ann.wait_for_messages(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(replies[0].text, "Hello, <b>Ann</b>!", "as the bot sent it");
    assert_eq!(replies[0].plain_text(), "Hello, Ann!", "as Ann sees it");

    // Stop the dispatcher first: the emulator's shutdown then releases its long poll.
    let stopping = stop.shutdown().unwrap();
    emulator.shutdown().await;
    stopping.await;
    running.await.unwrap();
}
