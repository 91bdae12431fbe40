//! snowrt-sys: raw declarations of the libsnowrt C ABI, contract version 2.
//!
//! Every function of `abi/include/snowrt.h`, its `#[repr(C)]` structs and
//! its constants, one to one; the header is authoritative and
//! `codegen-shims/check_decls.py --rust` checks this file against it (ctest
//! `ffi_rust_binding_matches_header`). Everything here is `unsafe` to call;
//! the `snowrt` crate is the safe layer over it.
//!
//! Linking: the build script finds libsnowrt through `pkg-config` (or
//! `$SNOWRT_LIB_DIR`) and links it shared, or statically with the `static`
//! feature or `SNOWRT_STATIC=1`; see README.md next to this crate. No
//! `#[link]` attribute here, so the file also compiles with rustc alone
//! (`#[path = ".../lib.rs"] mod snowrt;` plus `-C link-arg=libsnowrt.so`),
//! as tests/ffi/test_snowrt.rs does.
//!
//! Editions and compilers: the `extern "C"` block is written `unsafe
//! extern "C"`, which the 2024 edition requires and rustc 1.82 or later
//! accepts in every edition; the build script selects a plain `extern "C"`
//! block for an older rustc (Debian 12's 1.63), through the `extern_c!`
//! macro below (with rustc alone, pass `--cfg snowrt_sys_plain_extern`).
//!
//! Process entry functions are `unsafe extern "C" fn(*const u8)`. They run
//! on a runtime stack and may resume on another OS thread after any blocking
//! call (receive, sleep, yield, service call): do not hold a reference to a
//! thread-local across such a call, and do not let a panic unwind out of
//! them (an `extern "C"` function aborts on unwinding).
#![allow(non_camel_case_types, non_upper_case_globals)]

use std::os::raw::{c_char, c_void};

pub type snow_pid_t = u64;
pub type snow_ref_t = u64;

/// Process entry and registered-function signature.
pub type snow_proc_fn = unsafe extern "C" fn(args: *const u8);
/// Selective-receive predicate.
pub type snow_match_fn = unsafe extern "C" fn(msg: *const snow_msg, ctx: *mut c_void) -> i32;
/// Terminate callback.
pub type snow_terminate_fn = unsafe extern "C" fn(state: *const u8, reason: *const u8);
/// Log handler (snow_rt_set_log_handler): called on whichever thread logs.
pub type snow_log_handler = unsafe extern "C" fn(level: i32, line: *const c_char, len: u64, ctx: *mut c_void);
/// A job's function (snow_job_async).
pub type snow_job_fn = unsafe extern "C" fn(env: *mut c_void) -> i64;
/// A Job.map element function (snow_job_map).
pub type snow_job_map_fn = unsafe extern "C" fn(env: *mut c_void, elem: i64) -> i64;

// ---- constants ---------------------------------------------------------------

pub const SNOW_ABI_VERSION: u32 = 2;

pub const SNOW_OK: i64 = 0;
pub const SNOW_EINVAL: i64 = -1;
pub const SNOW_ENOTPROC: i64 = -2;
pub const SNOW_ENOPROC: i64 = -3;
pub const SNOW_ENOTSTARTED: i64 = -4;
pub const SNOW_EALREADY: i64 = -5;
pub const SNOW_EEXIST: i64 = -6;
pub const SNOW_ENONODE: i64 = -7;
pub const SNOW_ECONNREFUSED: i64 = -8;
pub const SNOW_EAUTH: i64 = -9;
pub const SNOW_ETIMEDOUT: i64 = -10;
pub const SNOW_ENOMEM: i64 = -11;
pub const SNOW_EBADNAME: i64 = -12;
pub const SNOW_EMSGSIZE: i64 = -13;
pub const SNOW_ENOFUNC: i64 = -14;
pub const SNOW_ENOTFOUND: i64 = -15;
pub const SNOW_ESHUTDOWN: i64 = -16;
pub const SNOW_EADDRINUSE: i64 = -17;
pub const SNOW_EEPMD: i64 = -18;
pub const SNOW_ENOCOOKIE: i64 = -19;
pub const SNOW_EBUSY: i64 = -20;
pub const SNOW_ETLS: i64 = -21;

pub const SNOW_TAG_EXIT: u64 = u64::MAX;
pub const SNOW_TAG_DOWN: u64 = u64::MAX - 1;
pub const SNOW_TAG_NODEDOWN: u64 = u64::MAX - 2;
pub const SNOW_TAG_NODEUP: u64 = u64::MAX - 3;
pub const SNOW_TAG_SPAWN_REPLY: u64 = u64::MAX - 4;
pub const SNOW_TAG_TERM: u64 = u64::MAX - 5;

pub const SNOW_MSG_USER: u32 = 0;
pub const SNOW_MSG_EXIT: u32 = 1;
pub const SNOW_MSG_DOWN: u32 = 2;
pub const SNOW_MSG_NODEUP: u32 = 3;
pub const SNOW_MSG_NODEDOWN: u32 = 4;
pub const SNOW_MSG_SPAWN_REPLY: u32 = 5;
pub const SNOW_MSG_TERM: u32 = 6;

pub const SNOW_REASON_NORMAL: u8 = 0;
pub const SNOW_REASON_ERROR: u8 = 1;
pub const SNOW_REASON_KILLED: u8 = 2;
pub const SNOW_REASON_RESERVED: u8 = 3;
pub const SNOW_REASON_SHUTDOWN: u8 = 4;
pub const SNOW_REASON_CUSTOM: u8 = 5;
pub const SNOW_REASON_NOCONNECTION: u8 = 6;
pub const SNOW_REASON_NOPROC: u8 = 7;
pub const SNOW_REASON_TERM: u8 = 8;

pub const SNOW_PRIO_HIGH: u8 = 0;
pub const SNOW_PRIO_NORMAL: u8 = 1;
pub const SNOW_PRIO_LOW: u8 = 2;

pub const SNOW_LOG_ERROR: i32 = 0;
pub const SNOW_LOG_WARNING: i32 = 1;
pub const SNOW_LOG_INFO: i32 = 2;
pub const SNOW_LOG_DEBUG: i32 = 3;

pub const SNOW_MAX_MSG_SIZE: u64 = 1 << 31;

pub const SNOW_SUP_ONE_FOR_ONE: u8 = 0;
pub const SNOW_SUP_ONE_FOR_ALL: u8 = 1;
pub const SNOW_SUP_REST_FOR_ONE: u8 = 2;
pub const SNOW_SUP_SIMPLE_ONE_FOR_ONE: u8 = 3;

pub const SNOW_RESTART_PERMANENT: u8 = 0;
pub const SNOW_RESTART_TRANSIENT: u8 = 1;
pub const SNOW_RESTART_TEMPORARY: u8 = 2;

pub const SNOW_SHUTDOWN_BRUTAL_KILL: i64 = 0;

pub const SNOW_SERVICE_EXITED: i64 = 0x100;

// ---- types -------------------------------------------------------------------

/// A received message; the payload (`data`, `len` bytes) is at offset 16.
#[repr(C)]
pub struct snow_msg {
    pub tag: u64,
    pub len: u64,
    pub data: [u8; 0],
}

impl snow_msg {
    /// The payload. Valid until the process's next receive call.
    ///
    /// # Safety
    /// `self` must be a message returned by a receive call that is still valid.
    pub unsafe fn payload(&self) -> &[u8] {
        // SAFETY: the caller guarantees the message is live; the runtime
        // keeps `len` payload bytes right after the header. (The block is
        // needed from the 2024 edition on; rustc before 1.65 calls it unused.)
        #[allow(unused_unsafe)]
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len as usize) }
    }
}

/// Spawn options: fixed size, ending in reserved words that must stay zero
/// (`..Default::default()` zeroes them).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct snow_spawn_opts {
    pub link: u8,
    pub monitor: u8,
    pub priority: u8,
    pub reserved_: [u8; 5],
    pub monitor_ref: snow_ref_t,
    pub stack_size: u64,
    pub terminate: Option<snow_terminate_fn>,
    pub reserved_words_: [u64; 4],
}

/// Runtime counters: fixed size; the reserved words are written as zero.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct snow_stats {
    pub processes_alive: u64,
    pub processes_spawned: u64,
    pub processes_exited: u64,
    pub messages_sent: u64,
    pub nodes_connected: u64,
    pub schedulers: u64,
    pub timers_pending: u64,
    pub stacks_resident: u64,
    pub node_entries: u64,
    pub remote_pids: u64,
    pub heap_bytes: u64,
    pub heap_live_bytes: u64,
    pub gc_collections: u64,
    pub gc_shared_bytes: u64,
    pub alias_sends_dropped: u64,
    pub dist_messages_refused: u64,
}

pub const SNOW_PROC_RUNNING: u8 = 0;
pub const SNOW_PROC_WAITING: u8 = 1;
pub const SNOW_PROC_EXITING: u8 = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct snow_proc_info {
    pub pid: snow_pid_t,
    pub status: u8,
    pub reserved_: [u8; 7],
    pub message_queue_len: u64,
    pub links: u64,
    pub monitors: u64,
    pub monitored_by: u64,
    pub heap_size: u64,
    pub reductions: u64,
    pub entry: u64,
    pub name_len: u64,
    pub name: [u8; 256],
    pub reserved_words_: [u64; 6],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct snow_child_spec {
    pub start: Option<snow_proc_fn>,
    pub args: *const u8,
    pub args_size: u64,
    pub restart: u8,
    pub reserved_: [u8; 7],
    pub shutdown_ms: i64,
    pub node: *const c_char,
    pub node_len: u64,
    pub function: *const c_char,
    pub function_len: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct snow_sup_spec {
    pub strategy: u8,
    pub reserved_: [u8; 3],
    pub max_restarts: u32,
    pub period_ms: u64,
    pub children: *const snow_child_spec,
    pub child_count: u64,
}

// ---- functions ---------------------------------------------------------------

/// Wraps the declarations in the `extern "C"` block this compiler wants:
/// `unsafe extern "C"` (needed by the 2024 edition, accepted by rustc 1.82
/// and later in every edition), or a plain `extern "C"` block when the build
/// script found an older rustc and set `snowrt_sys_plain_extern`. A macro
/// because an older rustc cannot even parse `unsafe extern` outside one.
#[cfg(not(snowrt_sys_plain_extern))]
macro_rules! extern_c {
    ($($decl:tt)*) => { unsafe extern "C" { $($decl)* } };
}
#[cfg(snowrt_sys_plain_extern)]
macro_rules! extern_c {
    ($($decl:tt)*) => { extern "C" { $($decl)* } };
}

extern_c! {
    pub fn snow_strerror(code: i64) -> *const c_char;

    // 2. Lifecycle
    pub fn snow_rt_init();
    pub fn snow_rt_init_actor(schedulers: u32) -> i32;
    pub fn snow_rt_set_signal_handling(enabled: bool) -> i32;
    pub fn snow_rt_set_log_handler(handler: Option<snow_log_handler>, ctx: *mut c_void);
    pub fn snow_rt_set_log_level(level: i32) -> i32;
    pub fn snow_rt_log_level() -> i32;
    pub fn snow_rt_run_scheduler() -> i32;
    pub fn snow_rt_halt(status: i32);
    pub fn snow_rt_abi_version() -> u32;
    pub fn snow_thread_attach() -> snow_pid_t;
    pub fn snow_thread_detach() -> i32;

    // 3. Processes and messages
    pub fn snow_actor_spawn(fn_: Option<snow_proc_fn>, args: *const u8, size: u64, priority: u8) -> snow_pid_t;
    pub fn snow_actor_spawn_opts(fn_: Option<snow_proc_fn>, args: *const u8, size: u64,
                                 opts: *mut snow_spawn_opts) -> snow_pid_t;
    pub fn snow_actor_self() -> snow_pid_t;
    pub fn snow_reduction_check();
    pub fn snow_actor_yield();
    pub fn snow_actor_send(to: snow_pid_t, msg: *const u8, size: u64) -> i32;
    pub fn snow_actor_receive(timeout_ms: i64) -> *const snow_msg;
    pub fn snow_actor_receive_match(match_: Option<snow_match_fn>, ctx: *mut c_void,
                                    timeout_ms: i64) -> *const snow_msg;
    pub fn snow_msg_kind(msg: *const snow_msg) -> u32;
    pub fn snow_actor_register(name: *const c_char, len: u64) -> i32;
    pub fn snow_actor_unregister(name: *const c_char, len: u64) -> i32;
    pub fn snow_actor_whereis(name: *const c_char, len: u64) -> snow_pid_t;
    pub fn snow_actor_send_named(name: *const c_char, nlen: u64, node: *const c_char, dlen: u64,
                                 msg: *const u8, size: u64) -> i32;

    // 4. Exits, links and monitors
    pub fn snow_actor_link(pid: snow_pid_t) -> i32;
    pub fn snow_actor_unlink(pid: snow_pid_t) -> i32;
    pub fn snow_actor_trap_exit() -> bool;
    pub fn snow_actor_set_trap_exit(on: bool) -> bool;
    pub fn snow_actor_exit(pid: snow_pid_t, reason_tag: u8) -> i32;
    pub fn snow_actor_exit_reason(pid: snow_pid_t, reason: *const u8, len: u64) -> i32;
    pub fn snow_actor_exit_self(reason: *const u8, len: u64) -> !;
    pub fn snow_panic(msg: *const c_char, mlen: u64, file: *const c_char, flen: u64, line: u32) -> !;
    pub fn snow_actor_set_terminate(pid: snow_pid_t, cb: Option<snow_terminate_fn>);
    pub fn snow_process_monitor(pid: snow_pid_t) -> snow_ref_t;
    pub fn snow_process_demonitor(ref_: snow_ref_t) -> i64;
    pub fn snow_process_demonitor_flush(ref_: snow_ref_t) -> i64;
    pub fn snow_node_monitor(node: *const c_char, len: u64) -> i64;
    pub fn snow_node_demonitor(id: i64) -> i64;
    pub fn snow_node_monitor_all(on: bool) -> i64;

    // 5. Distribution
    pub fn snow_node_start(name: *const c_char, nlen: u64, cookie: *const c_char, clen: u64) -> i64;
    pub fn snow_node_stop() -> i64;
    pub fn snow_node_connect(node: *const c_char, len: u64) -> i64;
    pub fn snow_node_disconnect(node: *const c_char, len: u64) -> i64;
    pub fn snow_node_self() -> *const c_void;
    pub fn snow_node_list() -> *const c_void;
    pub fn snow_node_name(buf: *mut c_char, cap: u64) -> i64;
    pub fn snow_register_function(name: *const c_char, len: u64, fn_: Option<snow_proc_fn>);
    pub fn snow_node_spawn(node: *const c_char, nlen: u64, fname: *const c_char, flen: u64,
                           args: *const u8, asize: u64, link: u8) -> snow_pid_t;
    pub fn snow_node_spawn_opts(node: *const c_char, nlen: u64, fname: *const c_char, flen: u64,
                                args: *const u8, asize: u64, opts: *mut snow_spawn_opts) -> snow_pid_t;
    pub fn snow_term_encode_pid(pid: snow_pid_t, buf: *mut u8, cap: u64) -> i64;
    pub fn snow_term_decode_pid(etf: *const u8, len: u64) -> snow_pid_t;
    pub fn snow_actor_send_term(to: snow_pid_t, etf: *const u8, len: u64) -> i32;
    pub fn snow_actor_send_named_term(name: *const c_char, nlen: u64, node: *const c_char, dlen: u64, etf: *const u8,
                                      len: u64) -> i32;
    pub fn snow_node_set_tls(key: *const c_char, klen: u64, value: *const c_char, vlen: u64) -> i64;
    pub fn snow_node_set_ticktime(ms: u32) -> i64;

    // 6. Timers and heap
    pub fn snow_timer_sleep(ms: i64);
    pub fn snow_timer_send_after(pid: snow_pid_t, ms: i64, msg: *const u8, size: i64) -> snow_ref_t;
    pub fn snow_timer_cancel(timer: snow_ref_t) -> i64;
    pub fn snow_gc_alloc_actor(size: u64, align: u64) -> *mut c_void;
    pub fn snow_gc_collect();
    pub fn snow_rt_stats(out: *mut snow_stats) -> i32;
    pub fn snow_rt_processes(buf: *mut snow_pid_t, cap: u64) -> i64;
    pub fn snow_process_info(pid: snow_pid_t, out: *mut snow_proc_info) -> i32;

    // 7. Services and supervisors
    pub fn snow_service_call(server: snow_pid_t, tag: u64, payload: *const u8, size: u64) -> *const snow_msg;
    pub fn snow_service_call_timeout(server: snow_pid_t, tag: u64, payload: *const u8, size: u64,
                                     timeout_ms: i64) -> *const snow_msg;
    pub fn snow_service_try_call(server: snow_pid_t, tag: u64, payload: *const u8, size: u64,
                                 timeout_ms: i64) -> *const snow_msg;
    pub fn snow_service_reply(caller: snow_pid_t, reply: *const u8, size: u64) -> i32;
    pub fn snow_service_last_error() -> i64;
    pub fn snow_supervisor_start(spec: *const snow_sup_spec) -> snow_pid_t;
    pub fn snow_supervisor_start_child(sup: snow_pid_t, child: *const snow_child_spec) -> snow_pid_t;
    pub fn snow_supervisor_terminate_child(sup: snow_pid_t, child: snow_pid_t) -> i64;
    pub fn snow_supervisor_count_children(sup: snow_pid_t) -> i64;

    // 7. Jobs
    pub fn snow_job_async(fn_: Option<snow_job_fn>, env: *mut c_void) -> snow_pid_t;
    pub fn snow_job_await(job: snow_pid_t) -> *const c_void;
    pub fn snow_job_await_timeout(job: snow_pid_t, ms: i64) -> *const c_void;
    pub fn snow_job_map(list: *const c_void, fn_: Option<snow_job_map_fn>,
                        env: *mut c_void) -> *const c_void;
}

// ---- helpers -----------------------------------------------------------------

/// Reads a little-endian u64 at `off` (panics if out of range).
pub fn get_u64(data: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&data[off..off + 8]);
    u64::from_le_bytes(b)
}

/// The name of an error code (`snow_strerror`), as a String.
pub fn strerror(code: i64) -> String {
    unsafe {
        let p = snow_strerror(code);
        if p.is_null() {
            return String::from("(null)");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
