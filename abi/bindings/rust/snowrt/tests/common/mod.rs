//! Shared by the integration tests: one runtime per test program.

use std::sync::{mpsc, Once};
use std::thread;
use std::time::Duration;

/// How long a test waits for an event before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Starts the runtime once for the test program, on a thread of its own
/// that stays the main process (parked) while the tests run; each test
/// then attaches its own thread with `snowrt::attach()`.
pub fn start_runtime() {
    static START: Once = Once::new();
    START.call_once(|| {
        let (started, wait) = mpsc::channel();
        thread::Builder::new()
            .name("snowrt-main".into())
            .spawn(move || {
                // The runtime lives until the test program exits: this thread
                // never calls Runtime::run.
                let _runtime = snowrt::Runtime::start(2).expect("runtime starts");
                started.send(()).expect("the test waits");
                loop {
                    thread::park();
                }
            })
            .expect("a thread for the runtime");
        wait.recv_timeout(DEADLINE).expect("runtime started in time");
    });
}
