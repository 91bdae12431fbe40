//! The safe layer on one node: spawning, messages, links, monitors, exits,
//! names, attached threads and errors, each test as an attached thread.

mod common;

use std::sync::mpsc;
use std::thread;

use common::{start_runtime, DEADLINE};
use snowrt::{Error, Kind, Message, Pid, Reason, SpawnOptions};

/// The next message, or a failed test after the deadline.
fn must_receive(what: &str) -> Message {
    snowrt::receive(Some(DEADLINE)).unwrap_or_else(|| panic!("no {} within {:?}", what, DEADLINE))
}

fn monitored() -> SpawnOptions {
    SpawnOptions { monitor: true, ..Default::default() }
}

/// Receives `[reply_to pid][bytes]` and sends the bytes back.
extern "C" fn echo(_args: *const u8) {
    if let Some(Message::User { data, .. }) = snowrt::receive(None) {
        let to = Pid::from_raw(u64::from_le_bytes(data[..8].try_into().unwrap())).unwrap();
        snowrt::send(to, &data[8..]).unwrap();
    }
}

/// Exits with the custom reason given as its spawn arguments (4 bytes).
extern "C" fn exit_with_args(args: *const u8) {
    // SAFETY: spawned with exactly 4 bytes of arguments.
    let text = unsafe { std::slice::from_raw_parts(args, 4) };
    snowrt::exit_self(&Reason::Custom(String::from_utf8_lossy(text).into_owned()));
}

/// Waits for any message, then returns (exits `normal`).
extern "C" fn wait_then_return(_args: *const u8) {
    snowrt::receive(None);
}

/// Exits at once with an error.
extern "C" fn crash(_args: *const u8) {
    snowrt::exit_self(&Reason::Error("boom".into()));
}

#[test]
fn a_spawned_process_answers_a_message() {
    start_runtime();
    let guard = snowrt::attach().unwrap();
    let pid = snowrt::spawn(echo, &[]).unwrap();
    let mut request = guard.pid().as_raw().to_le_bytes().to_vec();
    request.extend_from_slice(b"hello, process");
    snowrt::send(pid, &request).unwrap();
    match must_receive("echo") {
        Message::User { data, tag } => {
            assert_eq!(data, b"hello, process");
            assert_eq!(tag, u64::from_le_bytes(*b"hello, p"));
        }
        other => panic!("expected the echo, got {:?}", other),
    }
}

#[test]
fn a_monitor_reports_the_exit_reason_in_down() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    let child = snowrt::spawn_with(exit_with_args, b"done", &monitored()).unwrap();
    let expected = Message::Down { monitor: child.monitor.unwrap(), pid: child.pid, reason: Reason::Custom("done".into()) };
    assert_eq!(must_receive("DOWN"), expected);
}

#[test]
fn monitoring_a_dead_process_gives_down_noproc() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    let child = snowrt::spawn_with(crash, &[], &monitored()).unwrap();
    assert_eq!(must_receive("first DOWN").kind(), Some(Kind::Down));
    let monitor = snowrt::monitor(child.pid).unwrap();
    assert_eq!(must_receive("DOWN noproc"), Message::Down { monitor, pid: child.pid, reason: Reason::NoProc });
}

#[test]
fn demonitor_cancels_the_down() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    let pid = snowrt::spawn(wait_then_return, &[]).unwrap();
    let cancelled = snowrt::monitor(pid).unwrap();
    assert_eq!(snowrt::demonitor(cancelled), Ok(true));
    let kept = snowrt::monitor(pid).unwrap();
    snowrt::send(pid, b"go").unwrap();
    // Both monitors' DOWNs would come from the same exit, the cancelled one
    // first; only the kept one may arrive.
    assert_eq!(must_receive("DOWN"), Message::Down { monitor: kept, pid, reason: Reason::Normal });
    assert_eq!(snowrt::demonitor(kept), Ok(false), "a fired monitor is no longer active");
}

#[test]
fn a_trapped_link_exit_arrives_as_an_exit_message() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    assert!(!snowrt::set_trap_exit(true));
    let child = snowrt::spawn_with(crash, &[], &SpawnOptions { link: true, ..Default::default() }).unwrap();
    assert_eq!(must_receive("EXIT"), Message::Exit { from: Some(child.pid), reason: Reason::Error("boom".into()) });
}

#[test]
fn a_kill_sent_with_exit_ends_the_process() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    let child = snowrt::spawn_with(wait_then_return, &[], &monitored()).unwrap();
    snowrt::exit(child.pid, &Reason::Killed).unwrap();
    let expected = Message::Down { monitor: child.monitor.unwrap(), pid: child.pid, reason: Reason::Killed };
    assert_eq!(must_receive("DOWN killed"), expected);
}

#[test]
fn receive_returns_none_when_the_timeout_passes() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    assert_eq!(snowrt::receive(Some(std::time::Duration::from_millis(20))), None);
}

#[test]
fn names_register_resolve_and_refuse_duplicates() {
    start_runtime();
    let guard = snowrt::attach().unwrap();
    snowrt::register("rust_names_test").unwrap();
    assert_eq!(snowrt::whereis("rust_names_test"), Some(guard.pid()));
    assert_eq!(snowrt::register("rust_names_test"), Err(Error::NameTaken));
    assert_eq!(snowrt::register(""), Err(Error::BadName));
    snowrt::send_named("rust_names_test", None, b"by name").unwrap();
    assert_eq!(must_receive("named message"), Message::User { tag: u64::from_le_bytes(*b"by name\0"), data: b"by name".to_vec() });
    snowrt::unregister("rust_names_test").unwrap();
    assert_eq!(snowrt::unregister("rust_names_test"), Err(Error::NotRegistered));
    assert_eq!(snowrt::whereis("rust_names_test"), None);
}

#[test]
fn dropping_the_guard_ends_the_threads_process() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    let (pid_tx, pid_rx) = mpsc::channel();
    let (drop_tx, drop_rx) = mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let guard = snowrt::attach().unwrap();
        pid_tx.send(guard.pid()).unwrap();
        drop_rx.recv().unwrap();
        drop(guard);
        snowrt::self_pid()
    });
    let pid = pid_rx.recv_timeout(DEADLINE).unwrap();
    let monitor = snowrt::monitor(pid).unwrap();
    drop_tx.send(()).unwrap();
    assert_eq!(must_receive("DOWN of the detached thread"), Message::Down { monitor, pid, reason: Reason::Normal });
    assert_eq!(worker.join().unwrap(), None, "no longer a process after the guard");
}

#[test]
fn a_nested_guard_keeps_the_outer_attachment() {
    start_runtime();
    let outer = snowrt::attach().unwrap();
    drop(snowrt::attach().unwrap());
    assert_eq!(snowrt::self_pid(), Some(outer.pid()));
}

#[test]
fn calls_that_need_a_process_fail_outside_one() {
    start_runtime();
    let pid = snowrt::spawn(wait_then_return, &[]).unwrap();
    assert_eq!(snowrt::self_pid(), None);
    assert_eq!(snowrt::monitor(pid), Err(Error::NotAProcess));
    assert_eq!(snowrt::register("outside"), Err(Error::NotAProcess));
    assert_eq!(snowrt::spawn_with(echo, &[], &monitored()), Err(Error::NotAProcess));
    assert_eq!(snowrt::node::spawn("nobody@127.0.0.1", "f", &[], false), Err(Error::NotAProcess));
    assert_eq!(snowrt::receive(Some(std::time::Duration::ZERO)), None);
    snowrt::send(pid, b"end").unwrap(); // sending needs no process
}

#[test]
fn distribution_calls_fail_before_the_node_starts() {
    start_runtime();
    let _guard = snowrt::attach().unwrap();
    assert_eq!(snowrt::node::name(), None);
    assert_eq!(snowrt::node::connect("peer@127.0.0.1"), Err(Error::NotStarted));
    assert_eq!(snowrt::node::stop(), Err(Error::NotStarted));
}

#[test]
fn a_pid_survives_the_term_format() {
    start_runtime();
    let guard = snowrt::attach().unwrap();
    let term = guard.pid().to_term().unwrap();
    assert_eq!(term[0], 131, "external term format version byte");
    assert_eq!(Pid::from_term(&term), Some(guard.pid()));
    assert_eq!(Pid::from_term(b"not a term"), None);
}

#[test]
fn the_library_speaks_abi_version_2() {
    assert_eq!(snowrt::abi_version(), snowrt::sys::SNOW_ABI_VERSION);
}
