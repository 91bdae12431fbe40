//! Starting and stopping the runtime, and attaching threads.

use std::marker::PhantomData;

use snowrt_sys as sys;

use crate::error::{check, Error, Result};
use crate::message::Pid;
use crate::process::self_pid;

/// The started runtime, owned by the thread that started it, which is the
/// main process until [`Runtime::run`]. Neither `Send` nor `Sync`: the C
/// ABI wants `snow_rt_run_scheduler` on the starting thread.
#[derive(Debug)]
pub struct Runtime {
    not_send: PhantomData<*const ()>,
}

impl Runtime {
    /// Starts `schedulers` worker threads (0: `$SNOW_SCHEDULERS`, else one
    /// per CPU) and makes the calling thread the main process.
    /// [`Error::AlreadyStarted`] if the runtime runs, [`Error::OutOfMemory`]
    /// if the workers cannot be created.
    pub fn start(schedulers: u32) -> Result<Runtime> {
        // SAFETY: snow_rt_init is idempotent and takes no arguments.
        unsafe { sys::snow_rt_init() };
        // SAFETY: plain value argument.
        check(i64::from(unsafe { sys::snow_rt_init_actor(schedulers) }))?;
        Ok(Runtime { not_send: PhantomData })
    }

    /// Ends the main process with `normal` and waits until every process
    /// has exited (a process waiting for messages keeps the program
    /// running) or [`halt`] is called; returns the exit status (0, or the
    /// halt status). The runtime can then be started again.
    pub fn run(self) -> i32 {
        // SAFETY: called on the starting thread (Runtime is not Send).
        unsafe { sys::snow_rt_run_scheduler() }
    }
}

/// Stops everything from any thread: every process exits with `shutdown`
/// and [`Runtime::run`] returns `status`.
pub fn halt(status: i32) {
    // SAFETY: plain value argument; any thread.
    unsafe { sys::snow_rt_halt(status) }
}

/// Chooses whether the next [`Runtime::start`] installs the runtime's
/// SIGINT and SIGTERM handlers (default: yes, unless `SNOW_SIGNALS=0`).
/// [`Error::AlreadyStarted`] while the runtime runs.
pub fn set_signal_handling(enabled: bool) -> Result<()> {
    // SAFETY: plain value argument; any thread.
    check(i64::from(unsafe { sys::snow_rt_set_signal_handling(enabled) })).map(drop)
}

/// The ABI version of the loaded library (`SNOW_ABI_VERSION`, 2 for this
/// crate).
pub fn abi_version() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::snow_rt_abi_version() }
}

/// The calling OS thread as a process, from [`attach`] until the guard is
/// dropped. Not `Send`: the attachment belongs to the thread.
#[derive(Debug)]
pub struct ThreadGuard {
    pid: Pid,
    owned: bool,
    not_send: PhantomData<*const ()>,
}

impl ThreadGuard {
    /// The thread's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

impl Drop for ThreadGuard {
    /// Exits the thread's process with `normal` (its links and monitors
    /// fire), unless the thread was already a process before [`attach`].
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: no arguments; on the attached thread (not Send). An
            // error means the process already ended: nothing to undo.
            unsafe { sys::snow_thread_detach() };
        }
    }
}

/// Makes the calling OS thread a process with a mailbox, so it can
/// receive, link and monitor; blocking calls block the thread.
/// [`Error::NotStarted`] if the runtime is not running. On a thread that is
/// already a process (the main thread, or an outer guard) the guard holds
/// the existing pid and detaches nothing.
pub fn attach() -> Result<ThreadGuard> {
    let already = self_pid();
    // SAFETY: no arguments.
    let pid = Pid::from_raw(unsafe { sys::snow_thread_attach() }).ok_or(Error::NotStarted)?;
    Ok(ThreadGuard { pid, owned: already.is_none(), not_send: PhantomData })
}
