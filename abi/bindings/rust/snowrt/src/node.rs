//! Distribution: this program as a node of an Erlang-style cluster, over
//! the Erlang distribution protocol on TCP (a port mapper is started if
//! none runs). Names are `"alive@host"` or `"alive@host:port"`.

use std::time::Duration;

use snowrt_sys as sys;

use crate::error::{check, Error, Result};
use crate::message::Pid;
use crate::process::{str_arg, Entry};

/// Starts distribution as node `name` with `cookie`. Blocks (parks a
/// calling process) until listening and registered. [`Error::AlreadyStarted`],
/// [`Error::BadName`], [`Error::NameTaken`] (the name is registered on this
/// host), [`Error::InvalidArgument`] (the port cannot be bound),
/// [`Error::NotStarted`] (the runtime is not running). Any thread.
pub fn start(name: &str, cookie: &str) -> Result<()> {
    let (n, nlen) = str_arg(name);
    let (c, clen) = str_arg(cookie);
    // SAFETY: both strings are readable for their lengths.
    check(unsafe { sys::snow_node_start(n, nlen, c, clen) }).map(drop)
}

/// Disconnects every node, unregisters and stops listening.
/// [`Error::NotStarted`] if distribution is not started.
pub fn stop() -> Result<()> {
    // SAFETY: no arguments.
    check(unsafe { sys::snow_node_stop() }).map(drop)
}

/// Connects to and authenticates with `node`, blocking until done:
/// [`Error::ConnectionRefused`], [`Error::AuthenticationFailed`],
/// [`Error::TimedOut`], [`Error::NoNode`], [`Error::BadName`],
/// [`Error::NotStarted`]. Sending to, linking or monitoring a pid of a node
/// also connects on demand.
pub fn connect(node: &str) -> Result<()> {
    let (p, len) = str_arg(node);
    // SAFETY: node is readable for its length.
    check(unsafe { sys::snow_node_connect(p, len) }).map(drop)
}

/// Closes the connection to `node`: `noconnection` exit signals and DOWNs
/// and NODEDOWN fire on both sides. [`Error::NoNode`] if not connected.
pub fn disconnect(node: &str) -> Result<()> {
    let (p, len) = str_arg(node);
    // SAFETY: node is readable for its length.
    check(unsafe { sys::snow_node_disconnect(p, len) }).map(drop)
}

/// This node's full name; `None` when distribution is not started.
pub fn name() -> Option<String> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: buf is writable for its length.
        let len = unsafe { sys::snow_node_name(buf.as_mut_ptr().cast(), buf.len() as u64) };
        let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
        if len <= buf.len() {
            buf.truncate(len);
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        buf.resize(len, 0);
    }
}

/// A node monitor's id ([`monitor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeMonitor(i64);

/// Monitors `node` from the calling process: a
/// [`Message::NodeDown`](crate::Message::NodeDown) when the connection is
/// lost (at once if it cannot be made), a
/// [`Message::NodeUp`](crate::Message::NodeUp) when it is made, until
/// [`demonitor`].
pub fn monitor(node: &str) -> Result<NodeMonitor> {
    let (p, len) = str_arg(node);
    // SAFETY: node is readable for its length.
    check(unsafe { sys::snow_node_monitor(p, len) }).map(NodeMonitor)
}

/// Cancels a node monitor: `true` if it was active.
pub fn demonitor(monitor: NodeMonitor) -> bool {
    // SAFETY: plain value argument.
    unsafe { sys::snow_node_demonitor(monitor.0) == 0 }
}

/// Makes `entry` spawnable by `name` from other nodes ([`spawn`], or an
/// Erlang `spawn_request` of `snow:name/1`). Any thread; a bad name is
/// ignored.
pub fn register_function(name: &str, entry: Entry) {
    let (p, len) = str_arg(name);
    // SAFETY: name is readable for its length.
    unsafe { sys::snow_register_function(p, len, Some(entry)) }
}

/// Spawns the function registered as `function` on `node` with a copy of
/// `args`, linked to the calling process when `link`; parks the calling
/// process until the reply. [`Error::NotAProcess`] outside a process;
/// [`Error::NoFunction`] when the spawn failed (an unknown function, or
/// the node is lost, unreachable or not started: the C ABI does not tell
/// them apart).
pub fn spawn(node: &str, function: &str, args: &[u8], link: bool) -> Result<Pid> {
    if crate::self_pid().is_none() {
        return Err(Error::NotAProcess);
    }
    if args.len() as u64 > sys::SNOW_MAX_MSG_SIZE {
        return Err(Error::MessageTooLarge);
    }
    let (n, nlen) = str_arg(node);
    let (f, flen) = str_arg(function);
    // SAFETY: every pointer is readable for its length.
    let raw = unsafe { sys::snow_node_spawn(n, nlen, f, flen, args.as_ptr(), args.len() as u64, link as u8) };
    Pid::from_raw(raw).ok_or(Error::NoFunction)
}

/// Sets the tick time: a silent peer is declared down after 1 to 1.25
/// times it (default 60 s). Use the same value on every node.
pub fn set_ticktime(tick: Duration) -> Result<()> {
    let ms = u32::try_from(tick.as_millis()).map_err(|_| Error::InvalidArgument)?;
    // SAFETY: plain value argument.
    check(unsafe { sys::snow_node_set_ticktime(ms) }).map(drop)
}

/// Sets one TLS distribution setting for the next [`start`] (as
/// `snow_node_set_tls`): `"enabled"` (`"true"`/`"false"`), `"optfile"` (an
/// ssl_dist.conf file), or `"certfile"`, `"keyfile"`, `"cacertfile"`,
/// `"password"`, `"verify"` (`"verify_peer"`/`"verify_none"`),
/// `"fail_if_no_peer_cert"`, `"depth"`, optionally prefixed `"server_"` or
/// `"client_"`. [`Error::InvalidArgument`] for an unknown key or a
/// malformed value; [`start`] returns [`Error::Tls`] for unusable files.
/// Any thread.
pub fn set_tls(key: &str, value: &str) -> Result<()> {
    let (k, klen) = str_arg(key);
    let (v, vlen) = str_arg(value);
    // SAFETY: both strings are readable for their lengths.
    check(unsafe { sys::snow_node_set_tls(k, klen, v, vlen) }).map(drop)
}
