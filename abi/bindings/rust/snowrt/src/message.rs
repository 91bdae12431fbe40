//! Pids, monitor references, exit reasons and received messages.

use std::fmt;
use std::num::NonZeroU64;

use snowrt_sys as sys;

use crate::error::{check, Result};

/// A process identifier. Never zero (the C ABI's "none"). A pid of another
/// node is a handle that is meaningful only in this program; to name a
/// process in a message to another node, send [`Pid::to_term`] bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(NonZeroU64);

impl Pid {
    /// The pid with this raw `snow_pid_t` value; `None` for 0.
    pub fn from_raw(raw: u64) -> Option<Pid> {
        NonZeroU64::new(raw).map(Pid)
    }

    /// The raw `snow_pid_t` value.
    pub fn as_raw(self) -> u64 {
        self.0.get()
    }

    /// The pid in the external term format (starting with 131), the form in
    /// which a pid crosses nodes. Fails with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a
    /// remote handle this runtime no longer knows.
    pub fn to_term(self) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; 128];
        // SAFETY: buf is writable for its length.
        let len = check(unsafe { sys::snow_term_encode_pid(self.as_raw(), buf.as_mut_ptr(), buf.len() as u64) })?;
        buf.truncate(len as usize);
        Ok(buf)
    }

    /// The pid held by an external-term-format pid (or a tuple starting
    /// with one), as made by [`Pid::to_term`] on any node; `None` if the
    /// bytes hold no pid.
    pub fn from_term(term: &[u8]) -> Option<Pid> {
        // SAFETY: the runtime reads at most term.len() bytes.
        Pid::from_raw(unsafe { sys::snow_term_decode_pid(term.as_ptr(), term.len() as u64) })
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pid({:#x})", self.as_raw())
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{:#x}>", self.as_raw())
    }
}

/// The reference of a process monitor ([`monitor`](crate::monitor)); the
/// [`Message::Down`] it produces carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(NonZeroU64);

impl MonitorRef {
    /// The reference with this raw `snow_ref_t` value; `None` for 0.
    pub fn from_raw(raw: u64) -> Option<MonitorRef> {
        NonZeroU64::new(raw).map(MonitorRef)
    }

    /// The raw `snow_ref_t` value.
    pub fn as_raw(self) -> u64 {
        self.0.get()
    }
}

/// Why a process exited, as carried by exit signals, [`Message::Exit`] and
/// [`Message::Down`] (the `SNOW_REASON_*` encodings of the C ABI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// It returned, or exited with `normal`.
    Normal,
    /// It crashed: `snow_panic`'s "file:line: message", or another error text.
    Error(String),
    /// It was killed (as a signal: the untrappable kill).
    Killed,
    /// It was shut down (by a supervisor, or the runtime stopping).
    Shutdown,
    /// A reason of the program's own, as text (an atom for Erlang peers).
    Custom(String),
    /// Its node was lost.
    NoConnection,
    /// It did not exist (a link or monitor to a dead pid).
    NoProc,
    /// An Erlang term in the external term format.
    Term(Vec<u8>),
}

impl Reason {
    /// The C ABI's encoding: a tag byte, then `[u64 len][bytes]` for
    /// `Error`, `Custom` and `Term`.
    pub fn encode(&self) -> Vec<u8> {
        let with_data = |tag: u8, data: &[u8]| {
            let mut out = Vec::with_capacity(9 + data.len());
            out.push(tag);
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
            out.extend_from_slice(data);
            out
        };
        match self {
            Reason::Normal => vec![sys::SNOW_REASON_NORMAL],
            Reason::Error(text) => with_data(sys::SNOW_REASON_ERROR, text.as_bytes()),
            Reason::Killed => vec![sys::SNOW_REASON_KILLED],
            Reason::Shutdown => vec![sys::SNOW_REASON_SHUTDOWN],
            Reason::Custom(text) => with_data(sys::SNOW_REASON_CUSTOM, text.as_bytes()),
            Reason::NoConnection => vec![sys::SNOW_REASON_NOCONNECTION],
            Reason::NoProc => vec![sys::SNOW_REASON_NOPROC],
            Reason::Term(term) => with_data(sys::SNOW_REASON_TERM, term),
        }
    }

    /// Decodes an encoded reason; `None` if malformed or truncated. Texts
    /// that are not UTF-8 are decoded lossily.
    pub fn decode(bytes: &[u8]) -> Option<Reason> {
        let (&tag, rest) = bytes.split_first()?;
        let data = || -> Option<&[u8]> {
            let len = usize::try_from(read_u64(rest, 0)?).ok()?;
            rest.get(8..8usize.checked_add(len)?)
        };
        let text = |d: &[u8]| String::from_utf8_lossy(d).into_owned();
        Some(match tag {
            sys::SNOW_REASON_NORMAL => Reason::Normal,
            sys::SNOW_REASON_ERROR => Reason::Error(text(data()?)),
            sys::SNOW_REASON_KILLED => Reason::Killed,
            sys::SNOW_REASON_SHUTDOWN => Reason::Shutdown,
            sys::SNOW_REASON_CUSTOM => Reason::Custom(text(data()?)),
            sys::SNOW_REASON_NOCONNECTION => Reason::NoConnection,
            sys::SNOW_REASON_NOPROC => Reason::NoProc,
            sys::SNOW_REASON_TERM => Reason::Term(data()?.to_vec()),
            _ => return None,
        })
    }
}

/// The kind of a received message (`SNOW_MSG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Bytes sent by a process ([`send`](crate::send)) or a timer.
    User,
    /// An exit signal turned into a message (the receiver traps exits).
    Exit,
    /// A monitored process ended.
    Down,
    /// A monitored node connected.
    NodeUp,
    /// A monitored node was lost.
    NodeDown,
    /// A spawn reply (reserved: [`node::spawn`](crate::node::spawn) takes its own).
    SpawnReply,
    /// An Erlang term in the external term format.
    Term,
}

impl Kind {
    /// The kind for a `SNOW_MSG_*` value; `None` for an unknown one.
    pub fn from_raw(raw: u32) -> Option<Kind> {
        Some(match raw {
            sys::SNOW_MSG_USER => Kind::User,
            sys::SNOW_MSG_EXIT => Kind::Exit,
            sys::SNOW_MSG_DOWN => Kind::Down,
            sys::SNOW_MSG_NODEUP => Kind::NodeUp,
            sys::SNOW_MSG_NODEDOWN => Kind::NodeDown,
            sys::SNOW_MSG_SPAWN_REPLY => Kind::SpawnReply,
            sys::SNOW_MSG_TERM => Kind::Term,
            _ => return None,
        })
    }
}

/// A received message, copied out of the runtime (so it outlives the next
/// receive), decoded by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Bytes from [`send`](crate::send); `tag` is their first 8 bytes,
    /// little-endian, zero-padded.
    User {
        /// The message tag.
        tag: u64,
        /// The bytes sent.
        data: Vec<u8>,
    },
    /// An exit signal received while trapping exits.
    Exit {
        /// The sender; `None` for a signal sent from outside a process.
        from: Option<Pid>,
        /// Why.
        reason: Reason,
    },
    /// A monitored process ended (or never existed: [`Reason::NoProc`]).
    Down {
        /// The monitor that fired.
        monitor: MonitorRef,
        /// The process it watched.
        pid: Pid,
        /// Why it ended.
        reason: Reason,
    },
    /// A monitored node connected; its name.
    NodeUp(String),
    /// A monitored node was lost; its name.
    NodeDown(String),
    /// A spawn reply's raw payload.
    SpawnReply(Vec<u8>),
    /// An Erlang term (external term format).
    Term(Vec<u8>),
    /// A system message whose payload does not decode (never produced by a
    /// working runtime), or a kind this crate does not know.
    Malformed {
        /// The raw `SNOW_MSG_*` kind.
        kind: u32,
        /// The payload.
        data: Vec<u8>,
    },
}

impl Message {
    /// Its kind; `None` for [`Message::Malformed`] of an unknown kind.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Message::User { .. } => Some(Kind::User),
            Message::Exit { .. } => Some(Kind::Exit),
            Message::Down { .. } => Some(Kind::Down),
            Message::NodeUp(_) => Some(Kind::NodeUp),
            Message::NodeDown(_) => Some(Kind::NodeDown),
            Message::SpawnReply(_) => Some(Kind::SpawnReply),
            Message::Term(_) => Some(Kind::Term),
            Message::Malformed { kind, .. } => Kind::from_raw(*kind),
        }
    }

    /// Decodes a payload of kind `kind` (`SNOW_MSG_*`) with tag `tag`.
    pub fn decode(kind: u32, tag: u64, data: &[u8]) -> Message {
        let malformed = || Message::Malformed { kind, data: data.to_vec() };
        let name = || String::from_utf8_lossy(data).into_owned();
        match Kind::from_raw(kind) {
            Some(Kind::User) => Message::User { tag, data: data.to_vec() },
            Some(Kind::Exit) => match (read_u64(data, 0), data.get(8..).and_then(Reason::decode)) {
                (Some(from), Some(reason)) => Message::Exit { from: Pid::from_raw(from), reason },
                _ => malformed(),
            },
            Some(Kind::Down) => {
                let monitor = read_u64(data, 0).and_then(MonitorRef::from_raw);
                let pid = read_u64(data, 8).and_then(Pid::from_raw);
                match (monitor, pid, data.get(16..).and_then(Reason::decode)) {
                    (Some(monitor), Some(pid), Some(reason)) => Message::Down { monitor, pid, reason },
                    _ => malformed(),
                }
            }
            Some(Kind::NodeUp) => Message::NodeUp(name()),
            Some(Kind::NodeDown) => Message::NodeDown(name()),
            Some(Kind::SpawnReply) => Message::SpawnReply(data.to_vec()),
            Some(Kind::Term) => Message::Term(data.to_vec()),
            None => malformed(),
        }
    }

    /// Copies and decodes a message returned by a receive call.
    ///
    /// # Safety
    /// `msg` must be NULL or the latest message the calling process
    /// received (still valid).
    pub(crate) unsafe fn from_received(msg: *const sys::snow_msg) -> Option<Message> {
        if msg.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees msg is a live received message. (The
        // block is needed from the 2024 edition on; rustc before 1.65 calls
        // it unused.)
        #[allow(unused_unsafe)]
        unsafe {
            let kind = sys::snow_msg_kind(msg);
            let header = &*msg;
            Some(Message::decode(kind, header.tag, header.payload()))
        }
    }
}

/// The little-endian u64 at `offset`, if there are 8 bytes.
fn read_u64(data: &[u8], offset: usize) -> Option<u64> {
    let bytes = data.get(offset..offset.checked_add(8)?)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    Some(u64::from_le_bytes(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_reason() -> Vec<Reason> {
        vec![
            Reason::Normal,
            Reason::Error("f.rs:3: boom".into()),
            Reason::Killed,
            Reason::Shutdown,
            Reason::Custom("timeout".into()),
            Reason::NoConnection,
            Reason::NoProc,
            Reason::Term(vec![131, 100, 0, 2, b'o', b'k']),
        ]
    }

    #[test]
    fn reasons_survive_encoding() {
        for reason in every_reason() {
            assert_eq!(Reason::decode(&reason.encode()), Some(reason.clone()), "{:?}", reason);
        }
    }

    #[test]
    fn truncated_or_unknown_reasons_do_not_decode() {
        let full = Reason::Error("boom".into()).encode();
        for cut in 0..full.len() {
            assert_eq!(Reason::decode(&full[..cut]), None, "cut at {}", cut);
        }
        assert_eq!(Reason::decode(&[sys::SNOW_REASON_RESERVED]), None);
        assert_eq!(Reason::decode(&[9]), None);
        let mut huge = vec![sys::SNOW_REASON_CUSTOM];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Reason::decode(&huge), None);
    }

    #[test]
    fn a_down_payload_decodes_into_its_fields() {
        let mut data = Vec::new();
        data.extend_from_slice(&7u64.to_le_bytes());
        data.extend_from_slice(&9u64.to_le_bytes());
        data.extend_from_slice(&Reason::Custom("bye".into()).encode());
        let m = Message::decode(sys::SNOW_MSG_DOWN, sys::SNOW_TAG_DOWN, &data);
        assert_eq!(
            m,
            Message::Down {
                monitor: MonitorRef::from_raw(7).unwrap(),
                pid: Pid::from_raw(9).unwrap(),
                reason: Reason::Custom("bye".into())
            }
        );
        assert_eq!(m.kind(), Some(Kind::Down));
    }

    #[test]
    fn a_short_system_payload_is_malformed_not_a_panic() {
        let m = Message::decode(sys::SNOW_MSG_EXIT, sys::SNOW_TAG_EXIT, &[1, 2, 3]);
        assert_eq!(m, Message::Malformed { kind: sys::SNOW_MSG_EXIT, data: vec![1, 2, 3] });
        assert_eq!(m.kind(), Some(Kind::Exit));
        assert_eq!(Message::decode(42, 0, &[]).kind(), None);
    }

    #[test]
    fn every_raw_kind_has_a_variant() {
        for raw in 0..=6 {
            assert!(Kind::from_raw(raw).is_some(), "kind {}", raw);
        }
        assert_eq!(Kind::from_raw(7), None);
    }

    #[test]
    fn pid_zero_is_none() {
        assert_eq!(Pid::from_raw(0), None);
        assert_eq!(Pid::from_raw(5).map(Pid::as_raw), Some(5));
        assert_eq!(MonitorRef::from_raw(0), None);
    }
}
