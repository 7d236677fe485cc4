//! The crash campaign: the real `tribune serve` is killed with SIGKILL at random points, run
//! after run, while it imports changed content, fans a digest out, takes subscriptions and
//! settings from readers, or sends an operator's broadcast. After each kill the store must
//! open, every subscription the bot confirmed to a reader must be there, every message due
//! must be in the outbox or still due, and after the restart every digest and broadcast due
//! is delivered, with duplicates only within the in-flight window (ARCHITECTURE.md, "Nothing
//! sent in bulk is lost").
//!
//! One command reproduces it: `cargo test --test it fault_campaign -- --nocapture`. The seed is
//! printed; `TRIBUNE_CAMPAIGN_SEED=<seed>` picks the same kill points again and
//! `TRIBUNE_CAMPAIGN_RUNS=<n>` lengthens the campaign (default [`DEFAULT_RUNS`], 24: six runs
//! for each of the four scenarios). The seed and the tally go to stderr directly, so a plain
//! `cargo test` (which captures what tests print) shows them too. The kill points are
//! seeded; the interleaving of two processes is not, so a seed reproduces where the kills
//! aim, not every byte of the outcome.
//!
//! A scenario is one async function from a [`Run`] to an [`Outcome`], listed in
//! [`SCENARIOS`]; adding one (a withdrawal, say) is a function and a line.

use crate::support;

use crate::support::{Process, Rng, copy_dir, messages_dir};
use std::{
    collections::BTreeMap,
    future::Future,
    io::Write,
    path::{Path, PathBuf},
    pin::Pin,
    time::Duration,
};
use telegram_bot_api_emulator::{BotMessage, Emulator, User};
use tribune::{
    content::{self, Lang},
    delivery::Limits,
    store::{Store, unix_now},
    subscription::{ChatKind, Frequency, Subscription},
};

/// Runs when `TRIBUNE_CAMPAIGN_RUNS` is not set: six per scenario.
const DEFAULT_RUNS: usize = 24;
/// The operator of the broadcast scenario (`TRIBUNE_ADMINS`).
const OPERATOR: i64 = 900;
/// The rate the campaign's bot sends at (paid broadcasts, so fan-outs are short).
const RATE: u32 = 300;
/// How long a restarted bot has to finish what the killed one left.
const FINISH: Duration = Duration::from_secs(20);

/// One scenario: what it does to a fresh data directory and emulator, and what it found.
type Scenario = fn(Run) -> Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The scenarios, by name. A run picks them in turn.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("content import", |run| Box::pin(content_import(run))),
    ("digest fan-out", |run| Box::pin(digest_fan_out(run))),
    ("subscription changes", |run| Box::pin(subscription_changes(run))),
    ("operator broadcast", |run| Box::pin(operator_broadcast(run))),
];

/// What one run works with: its own random numbers, directory and emulator.
struct Run {
    rng: Rng,
    dir: tempfile::TempDir,
    emulator: Emulator,
}

/// What one run found. A scenario asserts what must hold and reports what it counted.
#[derive(Debug, Default, Clone)]
struct Outcome {
    /// Subscribers, settings or messages missing after a kill and restart (must stay 0).
    lost: usize,
    /// Messages a reader received more than once.
    duplicated: usize,
    /// The most duplicates one run produced.
    max_duplicated: usize,
    /// Requests a reader had to repeat because the killed bot took them along unanswered.
    asked_again: usize,
    /// Where the kill came, in words, for the log.
    kill: String,
    /// Kills of the content-import scenario that landed before the import was done, and after.
    before_import: usize,
    after_import: usize,
}

/// A line for the campaign's summary, on stderr itself: libtest captures the print macros
/// (so a plain `cargo test`, as CI runs it, would swallow them) but not the stream.
fn report(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_at_random_points_loses_nothing() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let seed = Rng::campaign_seed();
    let runs = std::env::var("TRIBUNE_CAMPAIGN_RUNS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_RUNS);
    report(format_args!(
        "crash campaign: seed {seed}, {runs} runs (TRIBUNE_CAMPAIGN_SEED={seed} repeats it)"
    ));
    let mut rng = Rng(seed);
    let mut tally: BTreeMap<&str, (usize, Outcome)> = BTreeMap::new();
    let started = std::time::Instant::now();
    for i in 0..runs {
        let (name, scenario) = SCENARIOS[i % SCENARIOS.len()];
        let run = Run {
            rng: Rng(rng.next()),
            dir: tempfile::tempdir().unwrap(),
            emulator: Emulator::start().await.unwrap(),
        };
        let emulator = run.emulator.clone();
        let outcome = scenario(run).await;
        emulator.shutdown().await;
        println!(
            "run {i:>2} {name:<21} killed {}: lost {}, duplicated {}, asked again {}",
            outcome.kill, outcome.lost, outcome.duplicated, outcome.asked_again
        );
        let entry = tally.entry(name).or_default();
        entry.0 += 1;
        entry.1.lost += outcome.lost;
        entry.1.duplicated += outcome.duplicated;
        entry.1.asked_again += outcome.asked_again;
        entry.1.max_duplicated = entry.1.max_duplicated.max(outcome.max_duplicated);
        entry.1.before_import += outcome.before_import;
        entry.1.after_import += outcome.after_import;
    }
    let lost: usize = tally.values().map(|(_, o)| o.lost).sum();
    let duplicated: usize = tally.values().map(|(_, o)| o.duplicated).sum();
    let max = tally.values().map(|(_, o)| o.max_duplicated).max().unwrap_or(0);
    let again: usize = tally.values().map(|(_, o)| o.asked_again).sum();
    let before: usize = tally.values().map(|(_, o)| o.before_import).sum();
    let after: usize = tally.values().map(|(_, o)| o.after_import).sum();
    report(format_args!(
        "crash campaign tally (seed {seed}, {:.1} s):",
        started.elapsed().as_secs_f64()
    ));
    for (name, (n, o)) in &tally {
        report(format_args!(
            "  {name:<21} runs {n:>3}  lost {:>3}  duplicated {:>4}  max duplicates in a run {:>3}  asked again {:>3}",
            o.lost, o.duplicated, o.max_duplicated, o.asked_again
        ));
    }
    report(format_args!(
        "  {:<21} runs {runs:>3}  lost {lost:>3}  duplicated {duplicated:>4}  max duplicates in a run {max:>3}  asked again {again:>3}",
        "total"
    ));
    report(format_args!(
        "  content import kills: {before} before the import was done, {after} after it"
    ));
    assert_eq!(lost, 0, "something was lost (seed {seed})");
}

/// Content changes between runs while subscribers wait: a kill during the start-up import
/// leaves the old content or the new one (never a mix), and no subscriber.
async fn content_import(mut run: Run) -> Outcome {
    const SUBSCRIBERS: i64 = 20;
    let messages = run.dir.path().join("messages");
    copy_dir(&messages_dir(), &messages);
    let data = run.dir.path().join("data");
    let old = content::load_dir(&messages).unwrap();
    {
        let store = Store::open(&data).unwrap();
        tribune::app::sync_content(&store, &messages, unix_now()).unwrap();
        let later = unix_now() + 86_400;
        store.load_subscriptions(subscribers(40_000, SUBSCRIBERS, later)).unwrap();
    }
    // The new content: one slogan fewer, or one extra prisoner note, picked at random.
    change_content(&messages, &mut run.rng);
    let new = content::load_dir(&messages).unwrap();
    assert_ne!(old.hash, new.hash);

    // The import is done some 20 to 40 ms after the start: most kills land around it.
    let delay = Duration::from_millis(run.rng.below(80));
    let mut serve = serve(&run.emulator, &data, &messages, run.dir.path());
    tokio::time::sleep(delay).await;
    serve.kill();
    let mut outcome =
        Outcome { kill: format!("{} ms after start", delay.as_millis()), ..Outcome::default() };
    {
        let store = Store::open(&data).expect("the store opens after a kill");
        let (corpus, hash) = store.corpus().unwrap().expect("content survives");
        let stored_hash = store.content_hash().unwrap();
        assert_eq!(stored_hash, Some(hash), "corpus and fingerprint agree");
        if hash == new.hash {
            assert_eq!(corpus, new.corpus, "the new content, whole");
            outcome.kill.push_str(" (after the import)");
            outcome.after_import += 1;
        } else {
            assert_eq!(hash, old.hash, "the fingerprint is the old or the new one");
            assert_eq!(corpus, old.corpus, "the old content, whole");
            outcome.kill.push_str(" (before the import)");
            outcome.before_import += 1;
        }
        outcome.lost += missing_subscribers(&store, 40_000, SUBSCRIBERS);
    }
    // The restart serves the new content and keeps every subscriber.
    let reader = run.emulator.user(49_999, "Reader", Some("en"));
    let mut serve = serve_again(&run.emulator, &data, &messages, run.dir.path()).await;
    reader.send_text("/start");
    reader.wait_for_messages(1, FINISH).await.expect("the restarted bot answers /start");
    let exit = serve.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "SIGTERM after the restart: {exit:?}");
    let store = Store::open(&data).unwrap();
    assert_eq!(store.content_hash().unwrap(), Some(new.hash), "the restart imported the change");
    outcome.lost += missing_subscribers(&store, 40_000, SUBSCRIBERS);
    outcome
}

/// A digest fan-out killed after a random number of sends: every message not yet delivered
/// is in the outbox or still due; after a restart every subscriber has the digest.
async fn digest_fan_out(mut run: Run) -> Outcome {
    const CHATS: i64 = 80;
    let data = run.dir.path().join("data");
    let users: Vec<User> =
        (1..=CHATS).map(|id| run.emulator.user(50_000 + id, "Reader", Some("en"))).collect();
    {
        let store = Store::open(&data).unwrap();
        store.load_subscriptions(subscribers(50_000, CHATS, unix_now() - 60)).unwrap();
    }
    let after = run.rng.below(CHATS as u64 * 9 / 10) as usize;
    let mut serve = serve(&run.emulator, &data, &messages_dir(), run.dir.path());
    run.emulator
        .wait_for_requests("sendMessage", after, FINISH)
        .await
        .unwrap_or_else(|e| panic!("the fan-out does not start: {e}\n{}", logs(run.dir.path())));
    serve.kill();
    let mut outcome = Outcome { kill: format!("after {after} sends"), ..Outcome::default() };
    {
        let store = Store::open(&data).expect("the store opens after a kill");
        let queued: std::collections::HashSet<i64> =
            store.outbox().unwrap().into_iter().map(|(_, item)| item.chat_id).collect();
        let now = unix_now();
        for user in &users {
            let due = store.subscription(user.id()).unwrap().and_then(|s| s.next_due);
            let pending = queued.contains(&user.id()) || due.is_some_and(|t| t <= now);
            if user.messages().is_empty() && !pending {
                eprintln!("chat {} has no digest, nothing queued and nothing due", user.id());
                outcome.lost += 1;
            }
        }
    }
    let mut serve = serve_again(&run.emulator, &data, &messages_dir(), run.dir.path()).await;
    let deadline = tokio::time::Instant::now() + FINISH;
    while users.iter().any(|u| u.messages().is_empty()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Whatever is still queued goes out before duplicates are counted: the outbox is empty
    // once every send is confirmed.
    serve.wait_metric("tribune_outbox_depth", FINISH, |depth| depth == 0).await;
    let exit = serve.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "SIGTERM after the restart: {exit:?}");
    let counts: Vec<usize> = users.iter().map(|u| u.messages().len()).collect();
    outcome.lost += counts.iter().filter(|c| **c == 0).count();
    outcome.duplicated = counts.iter().map(|c| c.saturating_sub(1)).sum();
    outcome.max_duplicated = outcome.duplicated;
    assert!(
        users.iter().flat_map(|u| u.messages()).all(|m| m.plain_text().starts_with("🗞 Tribune · ")),
        "only digests were sent"
    );
    let window = in_flight_window();
    assert!(
        outcome.duplicated <= window,
        "{} duplicates exceed the in-flight window of {window}",
        outcome.duplicated
    );
    let store = Store::open(&data).unwrap();
    assert_eq!(store.outbox_len(), 0, "the outbox ends empty");
    outcome
}

/// An operator's broadcast killed after a random number of sends: every chat not yet reached
/// still has the broadcast in the outbox; after the restart every chat has it once (or within
/// the in-flight window), and the operator gets a progress message that ends at the full count.
async fn operator_broadcast(mut run: Run) -> Outcome {
    const CHATS: i64 = 80;
    const TEXT: &str = "Campaign broadcast";
    let data = run.dir.path().join("data");
    let users: Vec<User> =
        (1..=CHATS).map(|id| run.emulator.user(70_000 + id, "Reader", Some("en"))).collect();
    let operator = run.emulator.user(OPERATOR, "Operator", Some("en"));
    {
        let store = Store::open(&data).unwrap();
        // Digests are not due: only the broadcast is sent.
        store.load_subscriptions(subscribers(70_000, CHATS, unix_now() + 86_400)).unwrap();
    }
    let mut serve = serve(&run.emulator, &data, &messages_dir(), run.dir.path());
    run.emulator
        .wait_for_requests("getUpdates", 1, FINISH)
        .await
        .unwrap_or_else(|e| panic!("the bot does not poll: {e}\n{}", logs(run.dir.path())));
    operator.send_text(&format!("/broadcast {TEXT}"));
    let card = operator.wait_for_messages(2, FINISH).await.expect("a preview and a card").remove(1);
    let send = card.button("✅ Send").and_then(|b| b.callback_data.clone()).expect("Send");
    let before = run.emulator.requests("sendMessage");
    let after = 1 + run.rng.below(CHATS as u64 * 9 / 10) as usize;
    operator.press(card.message_id, &send);
    run.emulator
        .wait_for_requests("sendMessage", before + after, FINISH)
        .await
        .unwrap_or_else(|e| panic!("the broadcast does not start: {e}\n{}", logs(run.dir.path())));
    serve.kill();
    let mut outcome = Outcome { kill: format!("after {after} sends"), ..Outcome::default() };
    let got = |u: &User| u.messages().iter().filter(|m| m.plain_text() == TEXT).count();
    {
        let store = Store::open(&data).expect("the store opens after a kill");
        let queued: std::collections::HashSet<i64> =
            store.outbox().unwrap().into_iter().map(|(_, item)| item.chat_id).collect();
        for user in &users {
            if got(user) == 0 && !queued.contains(&user.id()) {
                eprintln!("chat {}: no broadcast and nothing queued", user.id());
                outcome.lost += 1;
            }
        }
    }
    let mut serve = serve_again(&run.emulator, &data, &messages_dir(), run.dir.path()).await;
    let deadline = tokio::time::Instant::now() + FINISH;
    while users.iter().any(|u| got(u) == 0) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The restarted bot reports on the broadcast it resumed, up to the full count.
    let full = format!("Done: {CHATS} · failed: 0 · chat gone: 0 of {CHATS}");
    let reported = |op: &User| op.messages().iter().any(|m| m.plain_text().contains(&full));
    while !reported(&operator) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exit = serve.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "SIGTERM after the restart: {exit:?}");
    let counts: Vec<usize> = users.iter().map(got).collect();
    outcome.lost += counts.iter().filter(|c| **c == 0).count();
    outcome.duplicated = counts.iter().map(|c| c.saturating_sub(1)).sum();
    outcome.max_duplicated = outcome.duplicated;
    let window = in_flight_window();
    assert!(
        outcome.duplicated <= window,
        "{} duplicates exceed the in-flight window of {window}",
        outcome.duplicated
    );
    assert!(
        reported(&operator),
        "the operator was not told the broadcast finished: {:?}",
        operator.messages().iter().map(BotMessage::plain_text).collect::<Vec<_>>()
    );
    let store = Store::open(&data).unwrap();
    assert_eq!(store.outbox_len(), 0, "the outbox ends empty");
    outcome
}

/// Readers subscribe and switch to weekly digests while the bot is killed: whatever the bot
/// confirmed to a reader is in the store after the kill, and after the restart every reader's
/// request is carried out (updates Telegram still holds are handed to the new process).
async fn subscription_changes(mut run: Run) -> Outcome {
    const READERS: i64 = 12;
    let data = run.dir.path().join("data");
    let readers: Vec<User> =
        (1..=READERS).map(|id| run.emulator.user(60_000 + id, "Reader", Some("en"))).collect();
    let mut serve = serve(&run.emulator, &data, &messages_dir(), run.dir.path());
    run.emulator
        .wait_for_requests("getUpdates", 1, FINISH)
        .await
        .unwrap_or_else(|e| panic!("the bot does not poll: {e}\n{}", logs(run.dir.path())));
    let tasks: Vec<_> =
        readers.iter().cloned().map(|r| tokio::spawn(subscribe_weekly(r))).collect();
    let delay = Duration::from_millis(run.rng.below(1_000));
    tokio::time::sleep(delay).await;
    serve.kill();
    let mut outcome = Outcome {
        kill: format!("{} ms into the readers' requests", delay.as_millis()),
        ..Outcome::default()
    };
    {
        let store = Store::open(&data).expect("the store opens after a kill");
        for reader in &readers {
            let sub = store.subscription(reader.id()).unwrap();
            let messages = reader.messages();
            if messages.iter().any(confirms_subscription) && !sub.as_ref().is_some_and(|s| s.active)
            {
                eprintln!("chat {}: subscription confirmed but not stored", reader.id());
                outcome.lost += 1;
            }
            if messages.iter().any(shows_weekly) && !sub.as_ref().is_some_and(is_weekly) {
                eprintln!("chat {}: weekly confirmed but not stored", reader.id());
                outcome.lost += 1;
            }
        }
    }
    let mut serve = serve_again(&run.emulator, &data, &messages_dir(), run.dir.path()).await;
    let mut asked_again = Vec::new();
    for task in tasks {
        match task.await {
            Ok(again) => asked_again.push(again),
            Err(e) => panic!("a reader's task failed: {e:?}\n{}", logs(run.dir.path())),
        }
    }
    outcome.asked_again = asked_again.iter().sum();
    let exit = serve.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "SIGTERM after the restart: {exit:?}");
    let store = Store::open(&data).unwrap();
    for (reader, again) in readers.iter().zip(asked_again) {
        let sub = store.subscription(reader.id()).unwrap();
        if !sub.as_ref().is_some_and(|s| s.active && is_weekly(s)) {
            eprintln!("chat {}: not subscribed weekly after the restart", reader.id());
            outcome.lost += 1;
        }
        // A request the killed bot handled but Telegram had not seen confirmed is handled
        // again by the new one: at most one extra card per reader, and one per repeat.
        let cards = reader.messages().iter().filter(|m| confirms_subscription(m)).count();
        assert!(cards <= 2 + again, "chat {} got {cards} confirmations", reader.id());
        outcome.duplicated += cards.saturating_sub(1);
    }
    outcome.max_duplicated = outcome.duplicated;
    outcome
}

/// A reader's part: `/subscribe`, then "Weekly" on the card, waiting across a restart.
/// Returns how often the reader had to ask again.
///
/// teloxide confirms a batch of updates to Telegram when it asks for the next batch, which
/// can be before the handlers finished: a kill then drops a request the bot never answered.
/// Nothing confirmed to the reader is lost that way; like a person, the reader asks again.
async fn subscribe_weekly(reader: User) -> usize {
    let (card, mut again) = ask_until(
        &reader,
        || {
            reader.send_text("/subscribe");
        },
        confirms_subscription,
    )
    .await;
    let weekly =
        card.button("Weekly").and_then(|b| b.callback_data.clone()).expect("a Weekly button");
    again += ask_until(
        &reader,
        || {
            reader.press(card.message_id, &weekly);
        },
        shows_weekly,
    )
    .await
    .1;
    again
}

/// Does `act`, then waits for a bot message (new or edited) that `what` accepts; does `act`
/// again when nothing came for a while. The message, and how often `act` was repeated.
async fn ask_until(
    reader: &User,
    act: impl Fn(),
    what: fn(&BotMessage) -> bool,
) -> (BotMessage, usize) {
    const PATIENCE: Duration = Duration::from_secs(4);
    let deadline = tokio::time::Instant::now() + FINISH;
    let mut again = 0;
    act();
    let mut asked = tokio::time::Instant::now();
    loop {
        if let Some(found) = reader.messages().into_iter().rev().find(what) {
            return (found, again);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chat {}: no answer in time; it has {:?}",
            reader.id(),
            reader
                .messages()
                .iter()
                .map(|m| (m.plain_text(), m.buttons.clone()))
                .collect::<Vec<_>>()
        );
        if asked.elapsed() > PATIENCE {
            act();
            again += 1;
            asked = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn confirms_subscription(message: &BotMessage) -> bool {
    message.plain_text().starts_with("✅ Subscribed.")
}

fn shows_weekly(message: &BotMessage) -> bool {
    message.buttons.iter().flatten().any(|b| b.text.starts_with("● Weekly"))
}

fn is_weekly(sub: &Subscription) -> bool {
    matches!(sub.frequency, Frequency::Weekly { .. })
}

/// Private-chat subscribers `base + 1 ..= base + n`, due at `due`.
fn subscribers(base: i64, n: i64, due: i64) -> impl Iterator<Item = Subscription> {
    (1..=n).map(move |i| {
        let mut sub = Subscription::new(base + i, ChatKind::Private, Lang::En);
        sub.next_due = Some(due);
        sub
    })
}

fn missing_subscribers(store: &Store, base: i64, n: i64) -> usize {
    (1..=n).filter(|i| !store.subscription(base + i).unwrap().is_some_and(|s| s.active)).count()
}

/// Removes the last slogan, or adds a comment to the prisoners file: the fingerprint changes
/// either way, and the content stays valid.
fn change_content(messages: &Path, rng: &mut Rng) {
    if rng.below(2) == 0 {
        let path = messages.join("slogans.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let cut = text.rfind("[[slogan]]").expect("a slogan");
        std::fs::write(&path, &text[..cut]).unwrap();
    } else {
        let path = messages.join("prisoners.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text + "\n# reviewed by the campaign\n").unwrap();
    }
}

/// Sends that may be unconfirmed at a kill: those in flight (at most the engine's
/// concurrency) plus those confirmed since the last group flush (every 25 ms).
fn in_flight_window() -> usize {
    let flushed_every = tribune::delivery::FLUSH_EVERY.as_secs_f64();
    Limits::telegram(f64::from(RATE), true).concurrency
        + (f64::from(RATE) * flushed_every).ceil() as usize
        + 1
}

/// Starts `tribune serve` against the emulator, its log in `logs`.
fn serve(emulator: &Emulator, data: &Path, messages: &Path, logs: &Path) -> Process {
    support::serve(emulator, data)
        .messages(messages)
        .env("TRIBUNE_PAID_BROADCAST", "true")
        .env("TRIBUNE_RATE_LIMIT", RATE.to_string())
        .env("TRIBUNE_ADMINS", OPERATOR.to_string())
        .log(&next_log(logs))
        .metrics()
        .spawn()
}

/// Starts `serve` again on the data a killed one left; waits until it polls.
async fn serve_again(emulator: &Emulator, data: &Path, messages: &Path, logs: &Path) -> Process {
    let polls = emulator.requests("getUpdates");
    let process = serve(emulator, data, messages, logs);
    emulator
        .wait_for_requests("getUpdates", polls + 1, FINISH)
        .await
        .unwrap_or_else(|e| panic!("the restarted bot does not poll: {e}\n{}", self::logs(logs)));
    process
}

/// Everything the `serve` processes of a run logged, for a failure message.
fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for path in (0..).map(|i| dir.join(format!("serve-{i}.log"))).take_while(|p| p.exists()) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        out.push_str(&format!("--- {}:\n{text}", path.display()));
    }
    out
}

fn next_log(dir: &Path) -> PathBuf {
    (0..).map(|i| dir.join(format!("serve-{i}.log"))).find(|p| !p.exists()).unwrap()
}
