//! Processes: spawning, messages, links, monitors, exits and names. Every
//! call here that says "calling process" needs one: code running in a
//! spawned process, the main thread after
//! [`Runtime::start`](crate::Runtime::start), or a thread attached with
//! [`attach`](crate::attach).

use std::os::raw::c_char;
use std::ptr;
use std::time::Duration;

use snowrt_sys as sys;

use crate::error::{check, Error, Result};
use crate::message::{Message, MonitorRef, Pid, Reason};

/// A process entry: `extern "C" fn entry(args: *const u8)`. `args` points
/// to the copy of the bytes given to [`spawn`], valid while the process
/// lives (NULL for none). The function runs on a runtime stack and may
/// resume on another OS thread after any blocking call: hold no reference
/// to a thread-local across one. A panic must not leave it (an `extern "C"`
/// function aborts the program on unwinding).
pub type Entry = sys::snow_proc_fn;

/// Scheduling priority of a spawned process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Runs before normal and low processes.
    High,
    /// The default.
    #[default]
    Normal,
    /// Runs when nothing else is runnable.
    Low,
}

/// Options of [`spawn_with`]. Link and monitor are set up before the child
/// runs, so not even an instant exit of the child is missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpawnOptions {
    /// Link the calling process and the child.
    pub link: bool,
    /// Monitor the child from the calling process.
    pub monitor: bool,
    /// Its priority.
    pub priority: Priority,
    /// Its stack size in bytes; 0 for the default (`SNOW_STACK_SIZE`).
    pub stack_size: u64,
}

/// A process started by [`spawn_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spawned {
    /// The child.
    pub pid: Pid,
    /// The monitor on it, when [`SpawnOptions::monitor`] was set.
    pub monitor: Option<MonitorRef>,
}

/// A pointer for a byte slice the runtime may read; NULL when empty.
fn bytes_ptr(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() {
        ptr::null()
    } else {
        bytes.as_ptr()
    }
}

/// A string as the C ABI's (pointer, length) pair.
pub(crate) fn str_arg(s: &str) -> (*const c_char, u64) {
    (s.as_ptr().cast(), s.len() as u64)
}

fn check_size(len: usize) -> Result<u64> {
    let len = len as u64;
    if len > sys::SNOW_MAX_MSG_SIZE {
        return Err(Error::MessageTooLarge);
    }
    Ok(len)
}

/// Milliseconds for the C ABI: -1 (forever) for `None`, saturating.
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> i64 {
    match timeout {
        None => -1,
        Some(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
    }
}

/// Spawns a process running `entry` with a copy of `args`. Any thread.
/// Fails with [`Error::MessageTooLarge`] beyond `SNOW_MAX_MSG_SIZE` and
/// [`Error::NotStarted`] when the runtime is not running.
pub fn spawn(entry: Entry, args: &[u8]) -> Result<Pid> {
    spawn_with(entry, args, &SpawnOptions::default()).map(|s| s.pid)
}

/// [`spawn`] with options. Linking or monitoring needs a calling process
/// ([`Error::NotAProcess`] otherwise).
pub fn spawn_with(entry: Entry, args: &[u8], options: &SpawnOptions) -> Result<Spawned> {
    let size = check_size(args.len())?;
    if (options.link || options.monitor) && self_pid().is_none() {
        return Err(Error::NotAProcess);
    }
    let mut opts = sys::snow_spawn_opts {
        link: options.link as u8,
        monitor: options.monitor as u8,
        priority: match options.priority {
            Priority::High => sys::SNOW_PRIO_HIGH,
            Priority::Normal => sys::SNOW_PRIO_NORMAL,
            Priority::Low => sys::SNOW_PRIO_LOW,
        },
        stack_size: options.stack_size,
        ..Default::default()
    };
    // SAFETY: args is readable for size bytes; opts is a valid, zeroed struct.
    let raw = unsafe { sys::snow_actor_spawn_opts(Some(entry), bytes_ptr(args), size, &mut opts) };
    let pid = Pid::from_raw(raw).ok_or(Error::NotStarted)?;
    Ok(Spawned { pid, monitor: MonitorRef::from_raw(opts.monitor_ref) })
}

/// The calling process's pid; `None` outside a process.
pub fn self_pid() -> Option<Pid> {
    // SAFETY: no arguments; any thread.
    Pid::from_raw(unsafe { sys::snow_actor_self() })
}

/// Sends a copy of `data` to `to` as a user message. Any thread. Sending to
/// a dead pid succeeds (the message is dropped), as in Erlang.
pub fn send(to: Pid, data: &[u8]) -> Result<()> {
    let size = check_size(data.len())?;
    // SAFETY: data is readable for size bytes.
    check(i64::from(unsafe { sys::snow_actor_send(to.as_raw(), bytes_ptr(data), size) })).map(drop)
}

/// Sends to the process registered as `name` on `node` (`None`: this
/// node). An unknown name drops the message.
pub fn send_named(name: &str, node: Option<&str>, data: &[u8]) -> Result<()> {
    let size = check_size(data.len())?;
    let (n, nlen) = str_arg(name);
    let (d, dlen) = str_arg(node.unwrap_or(""));
    // SAFETY: every pointer is readable for its length.
    check(i64::from(unsafe { sys::snow_actor_send_named(n, nlen, d, dlen, bytes_ptr(data), size) })).map(drop)
}

/// Removes and returns the oldest message of the calling process, waiting
/// up to `timeout` (`None`: forever; `Some(Duration::ZERO)`: poll). `None`
/// on timeout or outside a process.
pub fn receive(timeout: Option<Duration>) -> Option<Message> {
    // SAFETY: the message is copied before this process can receive again.
    unsafe { Message::from_received(sys::snow_actor_receive(timeout_ms(timeout))) }
}

/// Links the calling process and `pid`: when one exits abnormally, the
/// other gets an exit signal (a [`Message::Exit`] when trapping exits).
/// Linking a dead pid gives the caller a `noproc` exit signal.
pub fn link(pid: Pid) -> Result<()> {
    // SAFETY: plain value argument.
    check(i64::from(unsafe { sys::snow_actor_link(pid.as_raw()) })).map(drop)
}

/// Removes a link; once it returns, the link has no effect.
pub fn unlink(pid: Pid) -> Result<()> {
    // SAFETY: plain value argument.
    check(i64::from(unsafe { sys::snow_actor_unlink(pid.as_raw()) })).map(drop)
}

/// Turns exit trapping of the calling process on or off; returns the
/// previous setting (false outside a process).
pub fn set_trap_exit(on: bool) -> bool {
    // SAFETY: plain value argument.
    unsafe { sys::snow_actor_set_trap_exit(on) }
}

/// Monitors `pid` from the calling process: exactly one
/// [`Message::Down`] with the returned reference arrives when it ends
/// (at once with [`Reason::NoProc`] if it is dead; [`Reason::NoConnection`]
/// if its node is lost), unless demonitored.
pub fn monitor(pid: Pid) -> Result<MonitorRef> {
    // SAFETY: plain value argument.
    MonitorRef::from_raw(unsafe { sys::snow_process_monitor(pid.as_raw()) }).ok_or(Error::NotAProcess)
}

/// Cancels a monitor: `true` if it was active, `false` if it had fired or
/// is unknown. No DOWN for it arrives afterwards (one already in the
/// mailbox stays; see [`demonitor_flush`]).
pub fn demonitor(monitor: MonitorRef) -> Result<bool> {
    // SAFETY: plain value argument.
    check(unsafe { sys::snow_process_demonitor(monitor.as_raw()) }).map(|r| r == 0)
}

/// [`demonitor`], also removing its DOWN from the mailbox if there.
pub fn demonitor_flush(monitor: MonitorRef) -> Result<bool> {
    // SAFETY: plain value argument.
    check(unsafe { sys::snow_process_demonitor_flush(monitor.as_raw()) }).map(|r| r == 0)
}

/// Sends `pid` an exit signal with `reason` (Erlang's `exit/2`):
/// [`Reason::Killed`] cannot be trapped; [`Reason::Normal`] is ignored by a
/// process that does not trap exits. Any thread.
pub fn exit(pid: Pid, reason: &Reason) -> Result<()> {
    let encoded = reason.encode();
    // SAFETY: encoded is readable for its length.
    check(i64::from(unsafe { sys::snow_actor_exit_reason(pid.as_raw(), encoded.as_ptr(), encoded.len() as u64) }))
        .map(drop)
}

/// Ends the calling process now with `reason`; its links and monitors
/// fire. Rust destructors of the process's frames do not run. Outside a
/// process the program aborts.
pub fn exit_self(reason: &Reason) -> ! {
    let encoded = reason.encode();
    // SAFETY: encoded is readable for its length.
    unsafe { sys::snow_actor_exit_self(encoded.as_ptr(), encoded.len() as u64) }
}

/// Registers `name` for the calling process on this node (released when it
/// exits). [`Error::NameTaken`], [`Error::BadName`] (empty or over 255
/// bytes), [`Error::NotAProcess`].
pub fn register(name: &str) -> Result<()> {
    let (p, len) = str_arg(name);
    // SAFETY: name is readable for its length.
    check(i64::from(unsafe { sys::snow_actor_register(p, len) })).map(drop)
}

/// Releases a name of the calling process ([`Error::NotRegistered`] if it
/// does not hold it).
pub fn unregister(name: &str) -> Result<()> {
    let (p, len) = str_arg(name);
    // SAFETY: name is readable for its length.
    check(i64::from(unsafe { sys::snow_actor_unregister(p, len) })).map(drop)
}

/// The process registered as `name` on this node. Any thread.
pub fn whereis(name: &str) -> Option<Pid> {
    let (p, len) = str_arg(name);
    // SAFETY: name is readable for its length.
    Pid::from_raw(unsafe { sys::snow_actor_whereis(p, len) })
}

/// Parks the calling process for `duration` (sleeps the thread outside a
/// process).
pub fn sleep(duration: Duration) {
    // SAFETY: plain value argument.
    unsafe { sys::snow_timer_sleep(timeout_ms(Some(duration))) }
}

/// Lets other runnable processes run now.
pub fn yield_now() {
    // SAFETY: no arguments.
    unsafe { sys::snow_actor_yield() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_become_milliseconds() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(timeout_ms(Some(Duration::MAX)), i64::MAX);
    }

    #[test]
    fn oversized_arguments_are_refused_before_the_call() {
        assert_eq!(check_size(1 << 31), Ok(1 << 31));
        assert_eq!(check_size((1 << 31) + 1), Err(Error::MessageTooLarge));
    }
}
