//! Broadcasts: a draft with its audience, sent once on confirmation (the transaction that
//! marks the draft sent starts its job, so a double confirmation queues once; the audience
//! is then queued a chunk at a time), and `/cancel` for a running job.

use super::{
    super::{
        caller::{Refusal, unavailable},
        tribune::Tribune,
    },
    Operator,
    records::JobStatus,
};
use crate::{
    broadcast::{Audience, AudienceCounts, Body, Draft, DraftState, Job, JobKind},
    message::{Op, OutMessage, OutboxItem},
    render::html,
    store::{Launch, Resumed},
    subscription::Subscription,
};

/// What `/broadcast` came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Prepared {
    /// Nothing to send was given.
    Empty,
    /// The text is longer than one Telegram message.
    TooLong,
    /// A draft, for everyone until the operator chooses: preview it, then show its card.
    Draft { id: u64, body: Body, counts: AudienceCounts },
}

/// What the draft card's Cancel came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discarded {
    Discarded,
    /// Too late: it went out as this edition.
    AlreadySent(u64),
    /// Discarded before, or unknown.
    Gone,
}

/// What the draft card's Send came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Queued as this edition.
    Started { edition: u64 },
    /// Confirmed before: nothing queued again.
    AlreadySent { edition: u64 },
    /// Discarded before confirmation.
    Discarded,
    /// Nobody is in the audience chosen.
    Nobody,
}

/// What `/cancel` came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Cancelled {
    NothingRunning,
    /// The argument names no job.
    NoEdition(String),
    /// Stopped: where it stands now.
    Cancelled(JobStatus),
}

impl Tribune {
    /// `/broadcast`: saves a draft of `body` (`None` when nothing was given).
    pub fn prepare_broadcast(
        &self,
        operator: &Operator,
        body: Option<Body>,
    ) -> Result<Prepared, Refusal> {
        let Some(body) = body else { return Ok(Prepared::Empty) };
        if let Body::Text { html } = &body
            && html::visible_len(html) > html::MESSAGE_LIMIT
        {
            return Ok(Prepared::TooLong);
        }
        let draft = Draft {
            operator: operator.id(),
            body: body.clone(),
            audience: Audience::All,
            created_at: self.clock.unix(),
            state: DraftState::Open,
        };
        let id = self.store.put_draft(&draft).map_err(unavailable)?;
        self.audit(operator, format!("prepared broadcast draft {id}"))?;
        Ok(Prepared::Draft { id, body, counts: self.audience_counts() })
    }

    fn audience_counts(&self) -> AudienceCounts {
        AudienceCounts::of(self.store.subscriptions())
    }

    /// The draft card's audience buttons: the counts to show with the new choice.
    pub fn choose_audience(
        &self,
        operator: &Operator,
        draft: u64,
        audience: Audience,
    ) -> Result<AudienceCounts, Refusal> {
        if !self.store.set_draft_audience(draft, audience).map_err(unavailable)? {
            return Err(Refusal::Stale);
        }
        self.audit(operator, format!("broadcast draft {draft} audience: {}", audience.code()))?;
        Ok(self.audience_counts())
    }

    /// The draft card's Cancel.
    pub fn discard_draft(&self, operator: &Operator, draft: u64) -> Result<Discarded, Refusal> {
        Ok(match self.store.discard_draft(draft).map_err(unavailable)? {
            Some(DraftState::Open) => {
                self.audit(operator, format!("discarded broadcast draft {draft}"))?;
                Discarded::Discarded
            }
            Some(DraftState::Sent { edition }) => Discarded::AlreadySent(edition),
            _ => Discarded::Gone,
        })
    }

    /// The draft card's Send: queues the broadcast to its audience, once. The audience is
    /// streamed from the store and queued a chunk at a time, each chunk handed to the engine
    /// once it is durable, so memory holds a chunk, never the audience.
    pub fn send_draft(&self, operator: &Operator, draft: u64) -> Result<Sent, Refusal> {
        let Some(d) = self.store.draft(draft).map_err(unavailable)? else {
            return Err(Refusal::Stale);
        };
        if d.state == DraftState::Open
            && !self.store.subscriptions().any(|s| d.audience.includes(&s))
        {
            return Ok(Sent::Nobody);
        }
        let (media, fixed) = match &d.body {
            Body::Text { .. } => (false, false),
            Body::Copy { caption, .. } => (true, !caption),
        };
        let started = Job::running(JobKind::Broadcast, operator.id(), self.clock.unix());
        let job = Job { media, fixed, ..started };
        let launched = self
            .store
            .launch_draft(draft, &job, &broadcast_item, &mut |queued| self.hand_over(queued))
            .map_err(unavailable)?;
        Ok(match launched {
            Launch::Started { edition, chats } => {
                let to = d.audience.code();
                self.audit(
                    operator,
                    format!("broadcast edition {edition} to {to} ({chats} chats)"),
                )?;
                Sent::Started { edition }
            }
            Launch::AlreadySent { edition } => Sent::AlreadySent { edition },
            Launch::Discarded => Sent::Discarded,
        })
    }

    /// At start: finishes queueing the broadcasts a crash interrupted (each chat of their
    /// audience queued once; see `store::operator::launch`). Called before the engine
    /// loads the outbox, which then holds them.
    /// The audit line the interrupted confirmation did not get to write is written then.
    pub fn resume_broadcasts(&self) {
        let resumed = match self.store.resume_launches(&broadcast_item, &mut |_| {}) {
            Ok(resumed) => resumed,
            Err(e) => return log::error!("cannot finish queueing interrupted broadcasts: {e}"),
        };
        for Resumed { edition, draft, chats } in resumed {
            log::warn!("broadcast edition {edition} was interrupted; now queued to {chats} chats");
            let operator = self.store.job(edition).ok().flatten().map_or(0, |job| job.operator);
            let to = self.store.draft(draft).ok().flatten().map_or("?", |d| d.audience.code());
            let action =
                format!("broadcast edition {edition} to {to} ({chats} chats), after a restart");
            if let Err(e) = self.store.audit(operator, action, self.clock.unix()) {
                log::error!("cannot audit broadcast edition {edition}: {e}");
            }
        }
    }

    /// `/cancel [edition]`: stops a running job (the latest when none is named).
    pub fn cancel(&self, operator: &Operator, arg: &str) -> Result<Cancelled, Refusal> {
        let store = &self.store;
        let edition = match arg.trim() {
            "" => match store.running_jobs().map_err(unavailable)?.last() {
                Some((edition, _)) => *edition,
                None => return Ok(Cancelled::NothingRunning),
            },
            arg => match arg.parse::<u64>().ok().filter(|e| store.job(*e).ok().flatten().is_some())
            {
                Some(edition) => edition,
                None => return Ok(Cancelled::NoEdition(arg.to_string())),
            },
        };
        let Some(removed) = store.cancel_job(edition).map_err(unavailable)? else {
            return Ok(Cancelled::NothingRunning);
        };
        let action = format!("cancelled edition {edition} ({removed} messages not sent)");
        self.audit(operator, action)?;
        match self.job_status(edition) {
            Some(status) => Ok(Cancelled::Cancelled(status)),
            None => Err(unavailable("the cancelled job vanished")),
        }
    }
}

/// The message `draft` makes for `sub` in `edition`, if the chat is in its audience.
fn broadcast_item(draft: &Draft, edition: u64, sub: &Subscription) -> Option<OutboxItem> {
    if !draft.audience.includes(sub) {
        return None;
    }
    let (op, message) = match &draft.body {
        Body::Text { html } => (Op::Send, OutMessage { html: html.clone(), buttons: Vec::new() }),
        Body::Copy { from_chat, message_id, .. } => {
            (Op::Copy { from_chat: *from_chat, message_id: *message_id }, OutMessage::default())
        }
    };
    Some(OutboxItem { edition, chat_id: sub.chat_id, kind: sub.kind, message, attempts: 0, op })
}
