//! A Rust program monitoring processes on another node, a real OS process:
//! this test program started again with SNOWRT_TEST_PEER set. Both are
//! nodes on 127.0.0.1 (a port mapper is started if none runs), with names
//! made unique by this process's pid.
//!
//! Node a (this process) spawns `victim` on node b by name and monitors it:
//! 1. it tells the victim to exit: DOWN with the victim's reason;
//! 2. it spawns another victim, monitors it and node b, then kills node b's
//!    OS process (SIGKILL): DOWN `noconnection` and NODEDOWN.
//!
//! Prints one line per step and "remote_down ok"; exits 1 on a failure.
//! Own main (harness = false): the child must not run a test harness.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use snowrt::{Message, Reason, Runtime};

const COOKIE: &str = "snowrt-rust-test";
const PEER_ENV: &str = "SNOWRT_TEST_PEER";
const DEADLINE: Duration = Duration::from_secs(30);

/// On node b: waits for a message, then exits with its text as the reason.
extern "C" fn victim(_args: *const u8) {
    if let Some(Message::User { data, .. }) = snowrt::receive(None) {
        snowrt::exit_self(&Reason::Custom(String::from_utf8_lossy(&data).into_owned()));
    }
}

/// Node b: registers `victim`, starts the node, says "ready" on stdout and
/// serves until killed (or a minute passes, if node a is gone).
fn run_peer(name: &str) -> i32 {
    snowrt::node::register_function("victim", victim);
    let runtime = Runtime::start(2).expect("peer: runtime starts");
    snowrt::node::start(name, COOKIE).expect("peer: node starts");
    println!("ready");
    snowrt::receive(Some(Duration::from_secs(60)));
    snowrt::halt(0);
    runtime.run()
}

/// The peer's OS process; killed (by its pid) if the test ends early.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start_peer(name: &str) -> Peer {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(PEER_ENV, name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("peer process starts");
    let stdout = child.stdout.take().expect("peer stdout");
    let peer = Peer(child);
    let (line_tx, line_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let line = line_rx.recv_timeout(DEADLINE).expect("peer says ready in time");
    assert_eq!(line.trim(), "ready", "peer's first line");
    peer
}

fn must_receive(what: &str) -> Message {
    snowrt::receive(Some(DEADLINE)).unwrap_or_else(|| panic!("no {} within {:?}", what, DEADLINE))
}

fn run_node_a(a: &str, b: &str) {
    let _runtime = Runtime::start(2).expect("runtime starts");
    snowrt::node::start(a, COOKIE).expect("node a starts");
    let mut peer = start_peer(b);
    snowrt::node::connect(b).expect("a connects to b");

    // 1. The remote process exits.
    let victim = snowrt::node::spawn(b, "victim", &[], false).expect("spawn on b");
    let monitor = snowrt::monitor(victim).unwrap();
    snowrt::send(victim, b"told to exit").unwrap();
    let expected = Message::Down { monitor, pid: victim, reason: Reason::Custom("told to exit".into()) };
    assert_eq!(must_receive("DOWN of the exiting process"), expected);
    println!("remote_down: DOWN from the process on {} that exited: {:?}", b, Reason::Custom("told to exit".into()));

    // 2. Its node is killed.
    let victim = snowrt::node::spawn(b, "victim", &[], false).expect("second spawn on b");
    let monitor = snowrt::monitor(victim).unwrap();
    let node_monitor = snowrt::node::monitor(b).unwrap();
    peer.0.kill().expect("SIGKILL to node b");
    peer.0.wait().expect("node b reaped");
    let mut got_down = false;
    let mut got_nodedown = false;
    while !(got_down && got_nodedown) {
        match must_receive("DOWN and NODEDOWN after the kill") {
            Message::Down { monitor: m, pid, reason } if m == monitor => {
                assert_eq!((pid, reason), (victim, Reason::NoConnection));
                got_down = true;
            }
            Message::NodeDown(node) if node == b => got_nodedown = true,
            other => panic!("unexpected message after the kill: {:?}", other),
        }
    }
    snowrt::node::demonitor(node_monitor);
    println!("remote_down: DOWN noconnection and NODEDOWN after node {} was killed", b);
    snowrt::node::stop().expect("node a stops");
}

fn main() {
    if let Ok(name) = std::env::var(PEER_ENV) {
        std::process::exit(run_peer(&name));
    }
    let a = format!("rusta{}@127.0.0.1", std::process::id());
    let b = format!("rustb{}@127.0.0.1", std::process::id());
    run_node_a(&a, &b);
    println!("remote_down ok");
}
