//! Multi-turn conversations (specs/simulator.md §5.3): which arrivals open one, when the next
//! turn comes and what its prompt is. The event loop owns the timing; this module owns the
//! random decisions (one stream per client, [`Purpose::Conversations`], so a client without
//! conversations draws exactly as before) and the turns waiting for their arrival.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::Distribution;

use crate::config::{ClientConfig, ConversationConfig, ThinkTime};
use crate::error::Result;
use crate::rng::{Purpose, stream};
use crate::workload::{LengthSampler, Lengths};

/// Key space of conversations' prefix-cache content: bit 62 set, bit 63 clear (request-unique
/// content has bit 63; workload keys of clients below 16 384 leave bit 62 clear).
const SESSION_KEY_BIT: u64 = 1 << 62;

/// The prefix-cache key of a conversation's token chain.
#[inline]
pub(crate) fn session_key(session: u32) -> u64 {
    SESSION_KEY_BIT | u64::from(session)
}

/// Whether a prompt key is a conversation's chain (its output belongs to the chain too).
#[inline]
pub(crate) fn is_session_key(key: u64) -> bool {
    key >> 62 == 1
}

/// One client's conversation settings and random stream.
#[derive(Debug)]
pub(crate) struct Conversations {
    config: ConversationConfig,
    /// Follow-up input lengths, when they differ from the client's input.
    follow_up: Option<LengthSampler>,
    rng: Xoshiro256PlusPlus,
}

impl Conversations {
    /// The conversations of client `index`, if it has any.
    pub fn new(index: usize, client: &ClientConfig, seed: u64) -> Result<Option<Self>> {
        let Some(config) = &client.conversation else {
            return Ok(None);
        };
        let follow_up = match &config.follow_up_input {
            Some(d) => Some(LengthSampler::new(
                &format!("workload.clients[{index}].conversation.follow_up_input"),
                d,
            )?),
            None => None,
        };
        Ok(Some(Self {
            config: config.clone(),
            follow_up,
            rng: stream(seed, Purpose::Conversations, index as u64),
        }))
    }

    /// Whether a follow-up prompt holds the conversation so far (else only its new input).
    pub fn accumulates(&self) -> bool {
        self.config.accumulate_context
    }

    /// Whether a fresh arrival opens a conversation.
    pub fn opens(&mut self) -> bool {
        let p = self.config.probability;
        p >= 1.0 || (p > 0.0 && self.rng.random::<f64>() < p)
    }

    /// Whether turn `turn` (just completed) is followed by another.
    pub fn continues(&mut self, turn: u32) -> bool {
        if turn >= self.config.max_turns {
            return false;
        }
        let p = self.config.continue_probability;
        p >= 1.0 || (p > 0.0 && self.rng.random::<f64>() < p)
    }

    /// A think time, seconds.
    pub fn think_time(&mut self) -> f64 {
        let mean = self.config.think_time_s;
        match self.config.think {
            ThinkTime::Exponential if mean > 0.0 => {
                let e: f64 = rand_distr::Exp1.sample(&mut self.rng);
                e * mean
            }
            _ => mean,
        }
    }

    /// New input and output lengths of a follow-up turn, from the follow-up input (else the
    /// client's lengths) and the client's output, output capped by `max_tokens`.
    pub fn follow_up_lengths(&mut self, lengths: &Lengths, max_tokens: u32) -> (u32, u32) {
        let (input, output) = match lengths {
            Lengths::Independent(i, o) => {
                let input = match &self.follow_up {
                    Some(f) => f.sample(&mut self.rng),
                    None => i.sample(&mut self.rng),
                };
                (input, o.sample(&mut self.rng))
            }
            Lengths::Empirical(pairs) if !pairs.is_empty() => {
                let [i, o] = pairs[self.rng.random_range(0..pairs.len())];
                let input = match &self.follow_up {
                    Some(f) => f.sample(&mut self.rng),
                    None => i,
                };
                (input, o)
            }
            Lengths::Empirical(_) => (1, 1),
        };
        (input.max(1), output.max(1).min(max_tokens))
    }
}

/// A follow-up turn waiting for its arrival.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PendingTurn {
    pub client: u32,
    pub session: u32,
    pub turn: u32,
    /// Tokens of the conversation so far: the previous prompt and its actual output.
    pub context: u32,
    /// The shared system prompt the conversation started from (0 / 0: none).
    pub group_key: u64,
    pub system_len: u32,
}

/// Turns scheduled but not yet arrived, in slots reused after their arrival.
#[derive(Debug, Default)]
pub(crate) struct PendingTurns {
    slots: Vec<PendingTurn>,
    free: Vec<u32>,
}

impl PendingTurns {
    pub fn insert(&mut self, t: PendingTurn) -> u32 {
        if let Some(s) = self.free.pop() {
            self.slots[s as usize] = t;
            s
        } else {
            self.slots.push(t);
            u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
        }
    }

    pub fn take(&mut self, slot: u32) -> PendingTurn {
        self.free.push(slot);
        self.slots[slot as usize]
    }
}
