//! Client reconnection: when to dial again after a connection ended or
//! failed, and when to stop.

use crate::backoff::{Backoff, Jitter, Schedule};
use crate::random::{RandomSource, SeededRandom};

use super::close_code::CloseCode;

/// What ended a connection, or a try to open one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disconnect {
    /// No connection: refused, timed out, TLS or proxy failure, or a
    /// handshake answered with a server error.
    ConnectFailed,
    /// The server answered the opening handshake with this HTTP status
    /// (not 101).
    Rejected {
        /// The status.
        status: u16,
    },
    /// An open connection ended: with the peer's close code, or `None` if
    /// it ended without a close frame (reset, EOF, timeout).
    Closed {
        /// The code the peer closed with.
        code: Option<CloseCode>,
    },
}

/// Why a [`Reconnector`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReconnectGiveUp {
    /// [`ReconnectPolicy::max_attempts`] failures in a row.
    AttemptsExhausted,
    /// Down longer than [`ReconnectPolicy::max_down`].
    DownTooLong,
    /// The handshake was refused with a status that will not change by
    /// retrying (4xx other than 408 and 429).
    Rejected {
        /// The status.
        status: u16,
    },
    /// The peer closed with a code that says the client is at fault
    /// (see [`ReconnectPolicy::fatal_close_codes`]).
    Closed {
        /// The code.
        code: CloseCode,
    },
}

/// What to do after a [`Disconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReconnectDecision {
    /// Dial again this many milliseconds from now.
    ReconnectAfter {
        /// The wait, in milliseconds.
        delay_ms: u64,
    },
    /// Stop.
    GiveUp {
        /// Why.
        reason: ReconnectGiveUp,
    },
}

/// How a client reconnects: backoff with jitter (the same code as webhook
/// retries, in milliseconds), a reset once a connection has been stable,
/// and give-up rules.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Delays after 1, 2, … failures in a row, in milliseconds (default:
    /// 250 ms doubling up to 30 s, full jitter).
    pub backoff: Backoff,
    /// Give up after this many failures in a row (default: never).
    pub max_attempts: Option<u32>,
    /// Give up once down this long, in milliseconds (default: never).
    pub max_down: Option<u64>,
    /// A connection that stayed open this long (milliseconds) resets the
    /// count of failures (default 10 s), so the next drop reconnects at
    /// once rather than after the longest delay.
    pub stable_after: u64,
    /// Close codes after which retrying would fail the same way (default
    /// 1002 protocol error, 1003 unsupported data, 1007 invalid payload,
    /// 1008 policy violation, 1009 message too big, 1010 extension
    /// missing); 1000, 1001, 1011–1014 and no close frame reconnect.
    pub fatal_close_codes: Vec<u16>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            backoff: Backoff::new(
                Schedule::Exponential {
                    initial: 250,
                    factor: 2.0,
                    max: 30_000,
                },
                Jitter::Full,
            ),
            max_attempts: None,
            max_down: None,
            stable_after: 10_000,
            fatal_close_codes: vec![1002, 1003, 1007, 1008, 1009, 1010],
        }
    }
}

/// Reconnection state for one client: feed it connects and disconnects, it
/// says when to dial again. Sans-IO: the caller passes a millisecond clock
/// (any epoch) and sleeps.
///
/// ```
/// use webwire::random::SeededRandom;
/// use webwire::ws::{Disconnect, ReconnectDecision, ReconnectPolicy, Reconnector};
///
/// let mut policy = ReconnectPolicy::default();
/// policy.max_attempts = Some(3);
/// let mut reconnect = Reconnector::new(policy, &mut SeededRandom::new(1));
/// let t0 = 1_000_000;
/// reconnect.on_connected(t0);
/// // The server went away after a minute: dial again within 250 ms.
/// let ReconnectDecision::ReconnectAfter { delay_ms } =
///     reconnect.on_disconnect(Disconnect::Closed { code: None }, t0 + 60_000)
/// else { unreachable!() };
/// assert!(delay_ms <= 250);
/// // Two more refusals, then it gives up.
/// reconnect.on_disconnect(Disconnect::ConnectFailed, t0 + 61_000);
/// assert!(matches!(
///     reconnect.on_disconnect(Disconnect::ConnectFailed, t0 + 62_000),
///     ReconnectDecision::GiveUp { .. }
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct Reconnector {
    policy: ReconnectPolicy,
    random: SeededRandom,
    failures: u32,
    previous_delay: u64,
    down_since: Option<u64>,
    connected_at: Option<u64>,
}

impl Reconnector {
    /// Fresh state under `policy`; jitter is seeded from `random`.
    pub fn new<R: RandomSource + ?Sized>(policy: ReconnectPolicy, random: &mut R) -> Self {
        Self {
            policy,
            random: SeededRandom::new(random.next_u64()),
            failures: 0,
            previous_delay: 0,
            down_since: None,
            connected_at: None,
        }
    }

    /// A connection opened (handshake done) at `now_ms`.
    pub fn on_connected(&mut self, now_ms: u64) {
        self.connected_at = Some(now_ms);
    }

    /// A connection ended, or a try failed, at `now_ms`: when to dial
    /// again, or why not.
    pub fn on_disconnect(&mut self, what: Disconnect, now_ms: u64) -> ReconnectDecision {
        if let Some(since) = self.connected_at.take() {
            if now_ms.saturating_sub(since) >= self.policy.stable_after {
                self.failures = 0;
                self.previous_delay = 0;
            }
            self.down_since = None;
        }
        match what {
            Disconnect::Rejected { status }
                if (400..500).contains(&status) && status != 408 && status != 429 =>
            {
                return give_up(ReconnectGiveUp::Rejected { status });
            }
            Disconnect::Closed { code: Some(code) }
                if self.policy.fatal_close_codes.contains(&code.0) =>
            {
                return give_up(ReconnectGiveUp::Closed { code });
            }
            _ => {}
        }
        self.failures = self.failures.saturating_add(1);
        let down_since = *self.down_since.get_or_insert(now_ms);
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.failures >= max.max(1))
        {
            return give_up(ReconnectGiveUp::AttemptsExhausted);
        }
        let Some(delay_ms) =
            self.policy
                .backoff
                .delay(self.failures, self.previous_delay, &mut self.random)
        else {
            return give_up(ReconnectGiveUp::AttemptsExhausted);
        };
        let down_for = now_ms.saturating_sub(down_since).saturating_add(delay_ms);
        if self.policy.max_down.is_some_and(|max| down_for > max) {
            return give_up(ReconnectGiveUp::DownTooLong);
        }
        self.previous_delay = delay_ms;
        ReconnectDecision::ReconnectAfter { delay_ms }
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

fn give_up(reason: ReconnectGiveUp) -> ReconnectDecision {
    ReconnectDecision::GiveUp { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconnector(policy: ReconnectPolicy) -> Reconnector {
        Reconnector::new(policy, &mut SeededRandom::new(9))
    }

    #[test]
    fn delays_grow_and_a_stable_connection_resets_them() {
        let mut policy = ReconnectPolicy::default();
        policy.backoff.jitter = Jitter::None;
        let mut r = reconnector(policy);
        let delays: Vec<_> = (0..5)
            .map(|i| r.on_disconnect(Disconnect::ConnectFailed, i * 1_000))
            .collect();
        let expected: Vec<_> = [250, 500, 1_000, 2_000, 4_000]
            .map(|delay_ms| ReconnectDecision::ReconnectAfter { delay_ms })
            .into();
        assert_eq!(delays, expected);
        // Up for 2 s only: not stable, the backoff goes on growing.
        r.on_connected(10_000);
        assert_eq!(
            r.on_disconnect(Disconnect::Closed { code: None }, 12_000),
            ReconnectDecision::ReconnectAfter { delay_ms: 8_000 }
        );
        // Up for 10 s: reset.
        r.on_connected(20_000);
        assert_eq!(
            r.on_disconnect(Disconnect::Closed { code: None }, 30_000),
            ReconnectDecision::ReconnectAfter { delay_ms: 250 }
        );
        assert_eq!(r.failures(), 1);
    }

    #[test]
    fn give_up_rules() {
        let mut r = reconnector(ReconnectPolicy::default());
        assert_eq!(
            r.on_disconnect(Disconnect::Rejected { status: 403 }, 0),
            give_up(ReconnectGiveUp::Rejected { status: 403 })
        );
        for status in [408, 429, 503] {
            assert!(matches!(
                r.on_disconnect(Disconnect::Rejected { status }, 0),
                ReconnectDecision::ReconnectAfter { .. }
            ));
        }
        let policy_violation = Disconnect::Closed {
            code: Some(CloseCode(1008)),
        };
        assert_eq!(
            r.on_disconnect(policy_violation, 0),
            give_up(ReconnectGiveUp::Closed {
                code: CloseCode(1008)
            })
        );
        let going_away = Disconnect::Closed {
            code: Some(CloseCode(1001)),
        };
        assert!(matches!(
            r.on_disconnect(going_away, 0),
            ReconnectDecision::ReconnectAfter { .. }
        ));

        let mut r = reconnector(ReconnectPolicy {
            max_down: Some(1_000),
            backoff: Backoff::new(
                Schedule::Exponential {
                    initial: 250,
                    factor: 2.0,
                    max: 30_000,
                },
                Jitter::None,
            ),
            ..ReconnectPolicy::default()
        });
        assert!(matches!(
            r.on_disconnect(Disconnect::ConnectFailed, 0),
            ReconnectDecision::ReconnectAfter { delay_ms: 250 }
        ));
        assert!(matches!(
            r.on_disconnect(Disconnect::ConnectFailed, 300),
            ReconnectDecision::ReconnectAfter { delay_ms: 500 }
        ));
        assert_eq!(
            r.on_disconnect(Disconnect::ConnectFailed, 900),
            give_up(ReconnectGiveUp::DownTooLong)
        );
    }

    #[test]
    fn fixed_schedules_and_extremes() {
        let mut policy = ReconnectPolicy {
            backoff: Backoff::new(Schedule::Fixed(vec![0, 10]), Jitter::None),
            max_attempts: Some(0),
            ..ReconnectPolicy::default()
        };
        let mut r = reconnector(policy.clone());
        assert_eq!(
            r.on_disconnect(Disconnect::ConnectFailed, u64::MAX),
            give_up(ReconnectGiveUp::AttemptsExhausted)
        );
        policy.max_attempts = None;
        let mut r = reconnector(policy);
        assert_eq!(
            r.on_disconnect(Disconnect::ConnectFailed, u64::MAX),
            ReconnectDecision::ReconnectAfter { delay_ms: 10 }
        );
        assert_eq!(
            r.on_disconnect(Disconnect::ConnectFailed, 0),
            give_up(ReconnectGiveUp::AttemptsExhausted)
        );
    }
}
