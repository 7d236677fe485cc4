//! What readers and chats' administrators ask of a chat's subscription: `/subscribe`,
//! `/settings` and each change on its card, the card's typed questions, `/unsubscribe`,
//! `/stop`, `/lang` and the language buttons, and `/channels`. Each checks who is asking
//! ([`Caller::may_manage`]) before it reads or changes anything.

use super::{
    caller::{Caller, Refusal, unsaved},
    tribune::Tribune,
};
use crate::{
    content::Lang,
    message::SettingsStep,
    subscription::{Change, ChatKind, LocalTime, PendingQuestion, Question, Subscription, Zone},
};

/// What a press on a settings card came to.
#[derive(Clone, Debug, PartialEq)]
pub enum CardStep {
    /// The card as it is, to show as a new message.
    Opened(Subscription),
    /// The card after a change, to show in place of the pressed one.
    Changed(Subscription),
    /// A setting is to be typed: the question was asked.
    Asked(Question),
    /// The settings are done: the card, saved, in place of the pressed one.
    Saved(Subscription),
}

/// What a typed answer to a card's question came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Answered {
    /// Not a time (or zone): the question is asked again.
    Retry(Question),
    /// Saved: the card as it is now.
    Saved(Subscription),
    /// The chat's subscription is gone (erased meanwhile).
    NoSubscription,
}

/// How long `/channels` reuses the list of channels it read.
const CHANNELS_FRESH: std::time::Duration = std::time::Duration::from_secs(10);

impl Tribune {
    /// The one permission check of this file.
    fn manage(&self, caller: &Caller, target: i64) -> Result<(), Refusal> {
        if caller.may_manage(target) { Ok(()) } else { Err(Refusal::AdminsOnly) }
    }

    /// `/subscribe`: subscribes the chat, or resumes its digests as they were chosen.
    pub fn subscribe(&self, caller: &Caller, lang: Lang) -> Result<Subscription, Refusal> {
        self.manage(caller, caller.chat)?;
        self.subscribe_chat(caller.chat, caller.kind, lang).map_err(unsaved)
    }

    /// `/settings`: the chat's subscription, `None` when it has none.
    pub fn settings(&self, caller: &Caller) -> Result<Option<Subscription>, Refusal> {
        self.manage(caller, caller.chat)?;
        self.store.subscription(caller.chat).map_err(unsaved)
    }

    /// `/unsubscribe`: digests stop, the settings are kept; `None` when there is no
    /// subscription.
    pub fn unsubscribe(&self, caller: &Caller) -> Result<Option<Subscription>, Refusal> {
        self.manage(caller, caller.chat)?;
        self.change_subscription(caller.chat, Change::Off).map_err(unsaved)
    }

    /// `/stop`: erases everything stored about the chat.
    pub fn stop(&self, caller: &Caller) -> Result<(), Refusal> {
        self.manage(caller, caller.chat)?;
        self.store.erase_chat(caller.chat).map(drop).map_err(unsaved)
    }

    /// `/lang xx` or a language button: the language the chat reads in, and its digests with
    /// it. A private chat's own person may always; in a group only its administrators, as for
    /// `/settings` (the group's digests are everyone's).
    pub fn set_lang(&self, caller: &Caller, lang: Lang) -> Result<(), Refusal> {
        self.manage(caller, caller.chat)?;
        self.store.set_chat_lang(caller.chat, lang).map_err(unsaved)?;
        if let Err(e) = self.change_subscription(caller.chat, Change::Lang(lang)) {
            log::error!("cannot update a subscription's language: {e}");
        }
        Ok(())
    }

    /// `/channels`, first: the channels Tribune may post in, about which Telegram is to be
    /// asked whether the caller administers them. Only a person, in a private chat.
    pub fn channel_candidates(&self, caller: &Caller) -> Result<Vec<i64>, Refusal> {
        if !caller.is_private() {
            return Err(Refusal::PrivateOnly);
        }
        if caller.user.is_none() {
            return Err(Refusal::AdminsOnly);
        }
        // One read of every subscription (seconds at a million readers) serves every caller
        // for `CHANNELS_FRESH`: a flood of `/channels` costs one read per interval, and callers
        // meanwhile wait for the read under way rather than start their own.
        let mut cached = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((read_at, channels)) = &*cached
            && read_at.elapsed() < CHANNELS_FRESH
        {
            return Ok(channels.clone());
        }
        let mut channels: Vec<i64> = self
            .store
            .subscriptions()
            .filter(|s| s.kind == ChatKind::Channel && s.active)
            .map(|s| s.chat_id)
            .collect();
        // Seen twice if a key rotation moved it during the walk.
        channels.sort_unstable();
        channels.dedup();
        *cached = Some((std::time::Instant::now(), channels.clone()));
        Ok(channels)
    }

    /// `/channels`: of those, the ones the caller administers (each gets a settings button).
    pub fn channels(&self, caller: &Caller) -> Result<Vec<i64>, Refusal> {
        let candidates = self.channel_candidates(caller)?;
        Ok(candidates.into_iter().filter(|&chat| caller.may_manage(chat)).collect())
    }

    /// A press on `target`'s settings card.
    pub fn settings_step(
        &self,
        caller: &Caller,
        target: i64,
        step: SettingsStep,
    ) -> Result<CardStep, Refusal> {
        self.manage(caller, target)?;
        let stored = || self.store.subscription(target).map_err(unsaved);
        match step {
            SettingsStep::Open => stored()?.map(CardStep::Opened).ok_or(Refusal::Stale),
            SettingsStep::Set(change) => self
                .change_subscription(target, change)
                .map_err(unsaved)?
                .map(CardStep::Changed)
                .ok_or(Refusal::Stale),
            SettingsStep::AskTime | SettingsStep::AskZone => {
                let question =
                    if step == SettingsStep::AskTime { Question::Time } else { Question::Zone };
                let user = caller.user.ok_or(Refusal::AdminsOnly)?;
                self.ask(caller.chat, user as u64, target, question).map_err(unsaved)?;
                Ok(CardStep::Asked(question))
            }
            SettingsStep::Done => stored()?.map(CardStep::Saved).ok_or(Refusal::Stale),
        }
    }

    /// The question the caller was asked in this chat and has not answered, unless it
    /// expired; it counts as answered now (a wrong answer asks it again).
    pub fn take_question(&self, caller: &Caller) -> Option<PendingQuestion> {
        let user = caller.user?;
        self.store.take_question(caller.chat, user as u64, self.clock.unix()).unwrap_or_else(|e| {
            // The text is then read as what it would be without a question (a search).
            log::warn!("cannot read a waiting question: {e}");
            None
        })
    }

    /// A typed answer to `asked` (from [`Tribune::take_question`]).
    pub fn answer(
        &self,
        caller: &Caller,
        asked: PendingQuestion,
        text: &str,
    ) -> Result<Answered, Refusal> {
        let change = match asked.question {
            Question::Time => LocalTime::parse(text).map(Change::Time),
            Question::Zone => Zone::parse(text).map(Change::Zone),
        };
        let Some(change) = change else {
            // Asked again: the reader is still answering.
            let user = caller.user.ok_or(Refusal::AdminsOnly)?;
            self.ask(caller.chat, user as u64, asked.target, asked.question).map_err(unsaved)?;
            return Ok(Answered::Retry(asked.question));
        };
        self.manage(caller, asked.target)?;
        Ok(match self.change_subscription(asked.target, change).map_err(unsaved)? {
            Some(sub) => Answered::Saved(sub),
            None => Answered::NoSubscription,
        })
    }
}
