//! snowrt: Erlang-style processes, messages, links, monitors and
//! distribution from Rust, over libsnowrt's C ABI ([`sys`], the
//! `snowrt-sys` crate).
//!
//! A program starts the runtime on its main thread ([`Runtime::start`],
//! which makes that thread the main process), spawns processes running
//! `extern "C"` entry functions ([`spawn`]), exchanges byte messages
//! ([`send`], [`receive`]), links and monitors processes, possibly on
//! other nodes ([`node`]), and finally waits for its processes
//! ([`Runtime::run`]). Other OS threads take part through [`attach`].
//! Fallible calls return [`Result`] with an [`Error`] made from the
//! runtime's `SNOW_E*` codes; received messages are copied and decoded into
//! [`Message`] by [`Kind`].
//!
//! ```no_run
//! use snowrt::{Message, Reason, Runtime, SpawnOptions};
//! use std::time::Duration;
//!
//! extern "C" fn worker(_args: *const u8) {
//!     if let Some(Message::User { data, .. }) = snowrt::receive(None) {
//!         snowrt::exit_self(&Reason::Custom(String::from_utf8_lossy(&data).into_owned()));
//!     }
//! }
//!
//! let rt = Runtime::start(0)?;
//! let child = snowrt::spawn_with(worker, &[], &SpawnOptions { monitor: true, ..Default::default() })?;
//! snowrt::send(child.pid, b"done")?;
//! match snowrt::receive(Some(Duration::from_secs(5))) {
//!     Some(Message::Down { pid, reason, .. }) => println!("{} ended: {:?}", pid, reason),
//!     other => println!("unexpected: {:?}", other),
//! }
//! let status = rt.run(); // 0 once every process has exited
//! # assert_eq!(status, 0);
//! # Ok::<(), snowrt::Error>(())
//! ```
//!
//! Process entry functions run on runtime stacks and may move between OS
//! threads at blocking calls; see [`Entry`]. Linking: see README.md (the
//! library is found through pkg-config or `$SNOWRT_LIB_DIR`).
#![deny(missing_docs)]

pub use snowrt_sys as sys;

mod error;
mod message;
pub mod node;
mod process;
mod runtime;

pub use error::{Error, Result};
pub use message::{Kind, Message, MonitorRef, Pid, Reason};
pub use process::{
    demonitor, demonitor_flush, exit, exit_self, link, monitor, receive, register, self_pid, send, send_named,
    set_trap_exit, sleep, spawn, spawn_with, unlink, unregister, whereis, yield_now, Entry, Priority, SpawnOptions,
    Spawned,
};
pub use runtime::{abi_version, attach, halt, set_signal_handling, Runtime, ThreadGuard};
