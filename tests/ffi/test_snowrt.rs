//! test_snowrt.rs: libsnowrt from Rust through abi/bindings/rust/snowrt-sys/src/lib.rs.
//!
//! Built with rustc alone (no cargo, no crates) and linked against
//! libsnowrt.so; see tests/ffi/CMakeLists.txt. The main thread becomes the
//! main process; process entry functions are Rust `extern "C"` functions.
//! Each test is one behaviour; prints one line per test, then
//! `N passed, N failed`, and exits 1 if any failed.

#[allow(dead_code)] // the test uses part of the declarations
#[path = "../../abi/bindings/rust/snowrt-sys/src/lib.rs"]
mod snowrt;

use snowrt::*;
use std::panic;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const DEADLINE_MS: i64 = 5000;

/// A received message, copied out of the runtime.
#[derive(Debug, Clone, PartialEq)]
struct Msg {
    kind: u32,
    tag: u64,
    data: Vec<u8>,
}

fn copy_msg(m: *const snow_msg) -> Option<Msg> {
    if m.is_null() {
        return None;
    }
    unsafe {
        let kind = snow_msg_kind(m);
        let r = &*m;
        // the payload must sit at offset 16 from the message
        let at16 = (m as *const u8).add(16);
        assert_eq!(r.data.as_ptr(), at16, "payload at offset 16");
        Some(Msg { kind, tag: r.tag, data: r.payload().to_vec() })
    }
}

fn recv(timeout: i64) -> Option<Msg> {
    copy_msg(unsafe { snow_actor_receive(timeout) })
}

fn must_recv(what: &str) -> Msg {
    recv(DEADLINE_MS).unwrap_or_else(|| panic!("no {} within {} ms", what, DEADLINE_MS))
}

fn send(to: snow_pid_t, bytes: &[u8]) {
    let rc = unsafe { snow_actor_send(to, bytes.as_ptr(), bytes.len() as u64) };
    assert_eq!(rc, 0, "send to {:#x}", to);
}

fn le(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn spawn_monitored(f: snow_proc_fn, args: &[u8], link: bool) -> (snow_pid_t, snow_ref_t) {
    let mut o = snow_spawn_opts { monitor: 1, link: link as u8, ..Default::default() };
    let argp = if args.is_empty() { ptr::null() } else { args.as_ptr() };
    let pid = unsafe { snow_actor_spawn_opts(Some(f), argp, args.len() as u64, &mut o) };
    assert_ne!(pid, 0, "spawn_opts");
    assert_ne!(o.monitor_ref, 0, "monitor ref");
    (pid, o.monitor_ref)
}

/// Receives the DOWN for (ref, pid) and returns the encoded reason.
fn expect_down(r: snow_ref_t, pid: snow_pid_t) -> Vec<u8> {
    let m = must_recv("DOWN");
    assert_eq!(m.kind, SNOW_MSG_DOWN, "kind of {:?}", m);
    assert_eq!(m.tag, SNOW_TAG_DOWN);
    assert_eq!(get_u64(&m.data, 0), r, "DOWN ref");
    assert_eq!(get_u64(&m.data, 8), pid, "DOWN pid");
    m.data[16..].to_vec()
}

// ---- process functions -------------------------------------------------------

/// Receives [reply_to][bytes...] and sends the bytes back.
unsafe extern "C" fn echo(_args: *const u8) {
    let m = snow_actor_receive(-1);
    if m.is_null() {
        return;
    }
    let d = (*m).payload();
    if d.len() >= 8 {
        let to = get_u64(d, 0);
        snow_actor_send(to, d[8..].as_ptr(), (d.len() - 8) as u64);
    }
}

/// Loops on reduction checks only; must still die when killed.
unsafe extern "C" fn spinner(_args: *const u8) {
    let mut n: u64 = 0;
    loop {
        n = n.wrapping_add(1);
        std::hint::black_box(n);
        snow_reduction_check();
    }
}

unsafe extern "C" fn waiter(_args: *const u8) {
    snow_actor_receive(-1);
}

unsafe extern "C" fn crasher(_args: *const u8) {
    let msg = b"rust crash";
    let file = b"test_snowrt.rs";
    snow_panic(msg.as_ptr().cast(), msg.len() as u64, file.as_ptr().cast(), file.len() as u64, 12);
}

/// Sums the u64 in its spawn arguments and sends [sum] to the pid in args[0].
unsafe extern "C" fn summer(args: *const u8) {
    let a = std::slice::from_raw_parts(args, 32);
    let sum = get_u64(a, 8) + get_u64(a, 16) + get_u64(a, 24);
    let out = sum.to_le_bytes();
    snow_actor_send(get_u64(a, 0), out.as_ptr(), 8);
}

/// Service: replies [tag * 2][payload] to each call; tag 0 ends it.
unsafe extern "C" fn doubler(_args: *const u8) {
    loop {
        let m = snow_actor_receive(-1);
        if m.is_null() {
            return;
        }
        if snow_msg_kind(m) != SNOW_MSG_USER {
            continue;
        }
        let d = (*m).payload();
        let tag = get_u64(d, 0);
        let caller = get_u64(d, 8);
        let mut reply = (tag * 2).to_le_bytes().to_vec();
        reply.extend_from_slice(&d[16..]);
        snow_service_reply(caller, reply.as_ptr(), reply.len() as u64);
        if tag == 0 {
            return;
        }
    }
}

unsafe extern "C" fn match_tag(m: *const snow_msg, ctx: *mut core::ffi::c_void) -> i32 {
    ((*m).tag == *(ctx as *const u64)) as i32
}

static TERMINATE_NOTIFY: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn on_terminate(_state: *const u8, reason: *const u8) {
    let b = [0xEEu8, 0, 0, 0, 0, 0, 0, 0, *reason];
    snow_actor_send(TERMINATE_NOTIFY.load(Ordering::SeqCst), b.as_ptr(), b.len() as u64);
}

unsafe extern "C" fn with_terminate(_args: *const u8) {
    snow_actor_set_terminate(0, Some(on_terminate));
    snow_actor_receive(-1);
    let reason = [SNOW_REASON_SHUTDOWN];
    snow_actor_exit_self(reason.as_ptr(), 1);
}

// ---- tests -------------------------------------------------------------------

fn t_start() {
    unsafe {
        snow_rt_init();
        assert_eq!(snow_rt_abi_version(), SNOW_ABI_VERSION);
        assert_eq!(snow_actor_self(), 0, "no process before start");
        assert_eq!(snow_rt_init_actor(0) as i64, SNOW_OK);
        assert_eq!(snow_rt_init_actor(0) as i64, SNOW_EALREADY);
        assert_ne!(snow_actor_self(), 0);
    }
    assert_eq!(strerror(SNOW_EINVAL), "invalid argument");
}

fn t_send_receive_self() {
    let me = unsafe { snow_actor_self() };
    send(me, &le(&[42, 1234]));
    let m = must_recv("own message");
    assert_eq!(m, Msg { kind: SNOW_MSG_USER, tag: 42, data: le(&[42, 1234]) });
    send(me, b"xyz");
    assert_eq!(must_recv("short").tag, 0x7a7978);
    assert_eq!(unsafe { snow_actor_send(0, ptr::null(), 0) } as i64, SNOW_EINVAL);
}

fn t_receive_timeout() {
    let t0 = Instant::now();
    assert_eq!(recv(100), None);
    let dt = t0.elapsed();
    assert!(dt >= Duration::from_millis(90) && dt < Duration::from_secs(2), "took {:?}", dt);
}

fn t_spawn_echo_and_down() {
    let me = unsafe { snow_actor_self() };
    let (pid, r) = spawn_monitored(echo, &[], false);
    let mut req = me.to_le_bytes().to_vec();
    req.extend_from_slice(b"hello rust");
    send(pid, &req);
    assert_eq!(must_recv("echo").data, b"hello rust");
    assert_eq!(expect_down(r, pid), vec![SNOW_REASON_NORMAL]);
}

fn t_spawn_args_are_copied() {
    let me = unsafe { snow_actor_self() };
    let mut args = le(&[me, 1, 2, 3]);
    let (pid, r) = spawn_monitored(summer, &args, false);
    args.iter_mut().for_each(|b| *b = 0);
    assert_eq!(must_recv("sum").tag, 6);
    expect_down(r, pid);
}

fn t_kill_spinner() {
    let (pid, r) = spawn_monitored(spinner, &[], false);
    unsafe { snow_timer_sleep(10) };
    assert_eq!(unsafe { snow_actor_exit(pid, SNOW_REASON_KILLED) }, 0);
    assert_eq!(expect_down(r, pid), vec![SNOW_REASON_KILLED]);
}

fn t_trap_exit_link() {
    unsafe {
        assert!(!snow_actor_set_trap_exit(true));
    }
    let (pid, r) = spawn_monitored(spinner, &[], true);
    assert_eq!(unsafe { snow_actor_exit(pid, SNOW_REASON_SHUTDOWN) }, 0);
    let a = must_recv("EXIT or DOWN");
    let b = must_recv("EXIT or DOWN");
    let (exit, down) = if a.kind == SNOW_MSG_EXIT { (a, b) } else { (b, a) };
    assert_eq!(exit.kind, SNOW_MSG_EXIT, "{:?}", exit);
    assert_eq!(exit.tag, SNOW_TAG_EXIT);
    assert_eq!(get_u64(&exit.data, 0), pid);
    assert_eq!(exit.data[8], SNOW_REASON_SHUTDOWN);
    assert_eq!(down.kind, SNOW_MSG_DOWN);
    assert_eq!(get_u64(&down.data, 0), r);
    unsafe {
        assert!(snow_actor_set_trap_exit(false));
    }
}

fn t_panic_in_process() {
    let (pid, r) = spawn_monitored(crasher, &[], false);
    let reason = expect_down(r, pid);
    assert_eq!(reason[0], SNOW_REASON_ERROR);
    let n = get_u64(&reason, 1) as usize;
    assert_eq!(&reason[9..9 + n], b"test_snowrt.rs:12: rust crash");
}

fn t_terminate_callback() {
    let me = unsafe { snow_actor_self() };
    TERMINATE_NOTIFY.store(me, Ordering::SeqCst);
    let (pid, r) = spawn_monitored(with_terminate, &[], false);
    send(pid, b"go");
    let m = must_recv("terminate callback message");
    assert_eq!(m.kind, SNOW_MSG_USER, "the callback's message comes before DOWN: {:?}", m);
    assert_eq!(m.data[8], SNOW_REASON_SHUTDOWN);
    assert_eq!(expect_down(r, pid), vec![SNOW_REASON_SHUTDOWN]);
}

fn t_selective_receive() {
    let me = unsafe { snow_actor_self() };
    for t in [1u64, 2, 3] {
        send(me, &le(&[t]));
    }
    let mut want: u64 = 3;
    let m = copy_msg(unsafe {
        snow_actor_receive_match(Some(match_tag), &mut want as *mut u64 as *mut core::ffi::c_void, DEADLINE_MS)
    })
    .expect("match");
    assert_eq!(m.tag, 3);
    assert_eq!(must_recv("1").tag, 1);
    assert_eq!(must_recv("2").tag, 2);
}

fn t_timers() {
    let me = unsafe { snow_actor_self() };
    let t0 = Instant::now();
    let r = unsafe { snow_timer_send_after(me, 40, b"ring".as_ptr(), 4) };
    assert_ne!(r, 0);
    let c = unsafe { snow_timer_send_after(me, 40, b"nope".as_ptr(), 4) };
    assert_eq!(unsafe { snow_timer_cancel(c) }, 0);
    assert_eq!(must_recv("timer").data, b"ring");
    assert!(t0.elapsed() >= Duration::from_millis(35), "fired after {:?}", t0.elapsed());
    assert_eq!(recv(100), None, "the cancelled timer never fires");
    assert_eq!(unsafe { snow_timer_cancel(r) }, 1);
}

fn t_attached_thread() {
    let me = unsafe { snow_actor_self() };
    let h = std::thread::spawn(move || unsafe {
        let pid = snow_thread_attach();
        assert_ne!(pid, 0);
        let b = pid.to_le_bytes();
        snow_actor_send(me, b.as_ptr(), 8);
        let m = copy_msg(snow_actor_receive(DEADLINE_MS)).expect("reply in the thread");
        assert_eq!(m.data, b"hi thread");
        assert_eq!(snow_thread_detach(), 0);
        assert_eq!(snow_actor_self(), 0);
    });
    let pid = must_recv("thread pid").tag;
    let r = unsafe { snow_process_monitor(pid) };
    send(pid, b"hi thread");
    assert_eq!(expect_down(r, pid), vec![SNOW_REASON_NORMAL]);
    h.join().expect("thread");
}

fn t_service_call() {
    let (pid, r) = spawn_monitored(doubler, &[], false);
    let p = unsafe { snow_service_call(pid, 21, b"q".as_ptr(), 1) };
    let m = copy_msg(p).unwrap_or_else(|| panic!("reply, last error {}", unsafe { snow_service_last_error() }));
    assert_eq!(get_u64(&m.data, 0), 42);
    assert_eq!(&m.data[8..], b"q");
    assert_eq!(unsafe { snow_service_last_error() }, 0);
    let p = unsafe { snow_service_call(pid, 0, ptr::null(), 0) };
    assert!(!p.is_null());
    expect_down(r, pid);
    // A failed snow_service_call would exit this (main) process: try_call.
    let p = unsafe { snow_service_try_call(pid, 1, ptr::null(), 0, -1) };
    assert!(p.is_null());
    assert_eq!(unsafe { snow_service_last_error() }, SNOW_ENOPROC);
}

unsafe extern "C" fn job_plus_one(env: *mut core::ffi::c_void) -> i64 {
    unsafe { *(env as *const i64) + 1 }
}

fn t_job() {
    let env = unsafe { snow_gc_alloc_actor(8, 8) } as *mut i64;
    assert!(!env.is_null());
    unsafe { *env = 41 };
    let j = unsafe { snow_job_async(Some(job_plus_one), env as *mut core::ffi::c_void) };
    assert_ne!(j, 0);
    let r = unsafe { snow_job_await(j) } as *const u8;
    assert!(!r.is_null());
    assert_eq!(unsafe { *r }, 0, "Ok");
    assert_eq!(unsafe { *(r.add(8) as *const i64) }, 42);
}

fn t_names_and_heap() {
    let me = unsafe { snow_actor_self() };
    let n = b"rust_main";
    unsafe {
        assert_eq!(snow_actor_register(n.as_ptr().cast(), n.len() as u64), 0);
        assert_eq!(snow_actor_whereis(n.as_ptr().cast(), n.len() as u64), me);
        assert_eq!(snow_actor_send_named(n.as_ptr().cast(), n.len() as u64, ptr::null(), 0, b"by name".as_ptr(), 7), 0);
    }
    assert_eq!(must_recv("named").data, b"by name");
    unsafe {
        assert_eq!(snow_actor_unregister(n.as_ptr().cast(), n.len() as u64), 0);
        assert_eq!(snow_actor_whereis(n.as_ptr().cast(), n.len() as u64), 0);
        let p = snow_gc_alloc_actor(48, 32) as *const u8;
        assert!(!p.is_null());
        assert_eq!(p as usize % 32, 0);
        assert!(std::slice::from_raw_parts(p, 48).iter().all(|&b| b == 0));
        let mut st = snow_stats::default();
        assert_eq!(snow_rt_stats(&mut st), 0);
        assert!(st.processes_alive >= 1 && st.schedulers >= 1, "{:?}", st);
    }
}

fn t_run_scheduler() {
    // a waiter left behind is shut down; run_scheduler returns 0
    let pid = unsafe { snow_actor_spawn(Some(waiter), ptr::null(), 0, SNOW_PRIO_LOW) };
    assert_ne!(pid, 0);
    while recv(0).is_some() {}
    assert_eq!(unsafe { snow_rt_run_scheduler() }, 0);
}

fn main() {
    let tests: &[(&str, fn())] = &[
        ("start", t_start),
        ("send_receive_self", t_send_receive_self),
        ("receive_timeout", t_receive_timeout),
        ("spawn_echo_and_down", t_spawn_echo_and_down),
        ("spawn_args_are_copied", t_spawn_args_are_copied),
        ("kill_spinner", t_kill_spinner),
        ("trap_exit_link", t_trap_exit_link),
        ("panic_in_process", t_panic_in_process),
        ("terminate_callback", t_terminate_callback),
        ("selective_receive", t_selective_receive),
        ("timers", t_timers),
        ("attached_thread", t_attached_thread),
        ("service_call", t_service_call),
        ("job", t_job),
        ("names_and_heap", t_names_and_heap),
        ("run_scheduler", t_run_scheduler),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, f) in tests {
        let t0 = Instant::now();
        match panic::catch_unwind(*f) {
            Ok(()) => {
                passed += 1;
                println!("PASS {} ({} ms)", name, t0.elapsed().as_millis());
            }
            Err(_) => {
                failed += 1;
                println!("FAIL {}", name);
                if unsafe { snow_actor_self() } != 0 {
                    while recv(0).is_some() {}
                }
                if *name == "start" {
                    break;
                }
            }
        }
    }
    println!("{} passed, {} failed", passed, failed);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
