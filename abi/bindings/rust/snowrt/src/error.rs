//! Errors: the runtime's negative `SNOW_E*` return codes as an enum.

use std::fmt;

use snowrt_sys as sys;

/// What went wrong, one variant per `SNOW_E*` code of the C ABI. The text
/// (`Display`) is the runtime's own (`snow_strerror`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// `SNOW_EINVAL`: an invalid argument.
    InvalidArgument,
    /// `SNOW_ENOTPROC`: the call needs a calling process (a spawned
    /// process, the main thread after [`Runtime::start`](crate::Runtime::start),
    /// or a thread attached with [`attach`](crate::attach)).
    NotAProcess,
    /// `SNOW_ENOPROC`: no such process.
    NoProcess,
    /// `SNOW_ENOTSTARTED`: the runtime or distribution is not started.
    NotStarted,
    /// `SNOW_EALREADY`: already started.
    AlreadyStarted,
    /// `SNOW_EEXIST`: the name is already registered.
    NameTaken,
    /// `SNOW_ENONODE`: no such node, or it is unreachable.
    NoNode,
    /// `SNOW_ECONNREFUSED`: the connection was refused.
    ConnectionRefused,
    /// `SNOW_EAUTH`: authentication failed (cookie mismatch).
    AuthenticationFailed,
    /// `SNOW_ETIMEDOUT`: timed out.
    TimedOut,
    /// `SNOW_ENOMEM`: out of memory.
    OutOfMemory,
    /// `SNOW_EBADNAME`: a bad process or node name.
    BadName,
    /// `SNOW_EMSGSIZE`: a message or argument beyond `SNOW_MAX_MSG_SIZE`.
    MessageTooLarge,
    /// `SNOW_ENOFUNC`: no such registered function.
    NoFunction,
    /// `SNOW_ENOTFOUND`: the name is not registered by this process.
    NotRegistered,
    /// `SNOW_ESHUTDOWN`: the runtime is shutting down.
    ShuttingDown,
    /// `SNOW_EADDRINUSE`: the node's listen port is in use.
    AddressInUse,
    /// `SNOW_EEPMD`: the port mapper (epmd) closed the registration or
    /// answered outside its protocol.
    PortMapperFailed,
    /// `SNOW_ENOCOOKIE`: no cookie given and `~/.erlang.cookie` unusable.
    NoCookie,
    /// `SNOW_EBUSY`: the node's send queue is at its busy limit; a thread
    /// outside a process sent nothing and may retry.
    Busy,
    /// `SNOW_ETLS`: TLS distribution failed (its settings, a certificate,
    /// or a connection's TLS handshake).
    Tls,
    /// A negative code this crate does not know (a newer runtime).
    Unknown(i64),
}

/// The result of a fallible call.
pub type Result<T> = std::result::Result<T, Error>;

const CODES: [(i64, Error); 21] = [
    (sys::SNOW_EINVAL, Error::InvalidArgument),
    (sys::SNOW_ENOTPROC, Error::NotAProcess),
    (sys::SNOW_ENOPROC, Error::NoProcess),
    (sys::SNOW_ENOTSTARTED, Error::NotStarted),
    (sys::SNOW_EALREADY, Error::AlreadyStarted),
    (sys::SNOW_EEXIST, Error::NameTaken),
    (sys::SNOW_ENONODE, Error::NoNode),
    (sys::SNOW_ECONNREFUSED, Error::ConnectionRefused),
    (sys::SNOW_EAUTH, Error::AuthenticationFailed),
    (sys::SNOW_ETIMEDOUT, Error::TimedOut),
    (sys::SNOW_ENOMEM, Error::OutOfMemory),
    (sys::SNOW_EBADNAME, Error::BadName),
    (sys::SNOW_EMSGSIZE, Error::MessageTooLarge),
    (sys::SNOW_ENOFUNC, Error::NoFunction),
    (sys::SNOW_ENOTFOUND, Error::NotRegistered),
    (sys::SNOW_ESHUTDOWN, Error::ShuttingDown),
    (sys::SNOW_EADDRINUSE, Error::AddressInUse),
    (sys::SNOW_EEPMD, Error::PortMapperFailed),
    (sys::SNOW_ENOCOOKIE, Error::NoCookie),
    (sys::SNOW_EBUSY, Error::Busy),
    (sys::SNOW_ETLS, Error::Tls),
];

impl Error {
    /// The error for a return code: `None` for a success (`code >= 0`).
    pub fn from_code(code: i64) -> Option<Error> {
        if code >= 0 {
            return None;
        }
        Some(CODES.iter().find(|(c, _)| *c == code).map_or(Error::Unknown(code), |(_, e)| *e))
    }

    /// The `SNOW_E*` code of this error.
    pub fn code(self) -> i64 {
        match self {
            Error::Unknown(code) => code,
            known => CODES.iter().find(|(_, e)| *e == known).map_or(sys::SNOW_EINVAL, |(c, _)| *c),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", sys::strerror(self.code()), self.code())
    }
}

impl std::error::Error for Error {}

/// `Ok(code)` for a success code, the error otherwise.
pub(crate) fn check(code: i64) -> Result<i64> {
    match Error::from_code(code) {
        None => Ok(code),
        Some(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_its_variant_and_back() {
        for code in -20..=-1 {
            let e = Error::from_code(code).expect("a negative code is an error");
            assert!(!matches!(e, Error::Unknown(_)), "code {} has a variant", code);
            assert_eq!(e.code(), code);
        }
    }

    #[test]
    fn success_codes_are_not_errors() {
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(7), None);
        assert_eq!(check(3), Ok(3));
    }

    #[test]
    fn an_unknown_code_keeps_its_value() {
        assert_eq!(Error::from_code(-999), Some(Error::Unknown(-999)));
        assert_eq!(Error::Unknown(-999).code(), -999);
    }

    #[test]
    fn display_uses_the_runtime_text() {
        assert_eq!(Error::NotStarted.to_string(), "runtime or distribution not started (-4)");
        assert_eq!(Error::AuthenticationFailed.to_string(), "authentication failed (cookie mismatch) (-9)");
    }
}
