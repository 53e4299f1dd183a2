//! CPU-heavy work a request asks for, on blocking threads, a bounded number
//! at once.
//!
//! Tokio's blocking pool grows to 512 threads, so without a bound a flood of
//! sign-ins (argon2 takes 19 MB and tens of milliseconds each) or of letters
//! (typst takes seconds for a long one) would run all of them at once: the
//! memory of hundreds, and every core busy, with the pages that need neither
//! left waiting. Each kind of work has its own [`Gate`], as many at once as
//! the machine has cores; the rest wait their turn without holding a
//! thread. A permit is held by the work itself, not by the request, so a
//! request given up mid-way does not let more start than the bound.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// A bound on how many of one kind of heavy work run at once.
#[derive(Debug)]
pub struct Gate {
    permits: Arc<Semaphore>,
}

impl Gate {
    /// At most `at_once` at a time (at least one).
    pub fn new(at_once: usize) -> Self {
        Gate {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
        }
    }

    /// As many at once as the machine has cores.
    fn per_core() -> Self {
        Gate::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Runs `work` on a blocking thread once a permit is free, and gives
    /// back what it returns (or how it panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JoinError> {
        // Never closed, so acquiring only waits; if it ever failed, the
        // work would run unbounded rather than not at all.
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
    }

    /// How many more could start now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// Hashing and checking passwords (argon2).
pub static PASSWORDS: LazyLock<Gate> = LazyLock::new(Gate::per_core);

/// Typesetting letters (typst).
pub static TYPESETTING: LazyLock<Gate> = LazyLock::new(Gate::per_core);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_bound_run_at_once() {
        let gate = Arc::new(Gate::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    gate.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    })
                    .await
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap().unwrap());
        }
        assert_eq!(done, (0..8).collect::<Vec<_>>(), "each ran, once");
        assert!(most.load(Ordering::SeqCst) <= 2, "{most:?} at once");
        assert_eq!(gate.available(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_given_up_by_its_request_still_holds_its_permit() {
        let gate = Arc::new(Gate::new(1));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let g = gate.clone();
        let request = tokio::spawn(async move {
            g.run(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().ok();
            })
            .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        // The visitor goes away; the typesetting goes on, and so does its turn.
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        assert_eq!(gate.available(), 0, "the running work keeps its permit");
        release_tx.send(()).unwrap();
        // Once it ends, the next may start.
        gate.run(|| ()).await.unwrap();
        assert_eq!(gate.available(), 1);
    }
}
