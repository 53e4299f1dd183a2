//! Group commit for SQLite: commands that queue behind the one writer share
//! one transaction, so one `fsync` acknowledges them all.
//!
//! SQLite lets one connection write at a time, and with `synchronous = FULL`
//! every commit waits for the disk. A command therefore joins a queue and
//! then waits for the writer's turn. Whoever gets the turn takes everything
//! queued (at most [`MAX_BATCH`]) and runs it in one transaction, each
//! command inside its own savepoint: it keeps its own version check, its own
//! events and its own place in its engagement's chain, and a refusal (a
//! conflict, a rule) rolls back that command alone. Then one commit, and only
//! after it has returned is any command in the batch acknowledged. A lone
//! writer finds only its own command and commits at once: nothing waits for a
//! batch to fill.
//!
//! The batch runs in a task of its own, so a caller who goes away (a closed
//! connection drops the request) cannot cut short a transaction that carries
//! other people's commands. A command whose caller left before the batch
//! began is not run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;
use waymark_core::{Actor, Engagement, EngagementId, Timestamp};
use waymark_model::Model;

use crate::{Store, StoreError, Write};

/// The most commands one transaction carries; the rest wait for the next.
pub(crate) const MAX_BATCH: usize = 64;

/// One command and what it writes beside its events, owned, so that another
/// caller's batch can run it.
pub(crate) struct Work {
    pub model: Arc<Model>,
    pub actor: Actor,
    pub id: EngagementId,
    pub expected_version: u64,
    pub write: Write,
    pub now: Timestamp,
}

pub(crate) struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Engagement, StoreError>>,
}

/// Commands waiting for the writer, and how many batches and commands it
/// has committed (for tests and, later, metrics).
#[derive(Default)]
pub(crate) struct Queue {
    jobs: std::sync::Mutex<Vec<Job>>,
    pub(crate) batches: AtomicU64,
    pub(crate) commands: AtomicU64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queue({})", self.jobs.lock().map_or(0, |q| q.len()))
    }
}

/// Queues `work` and returns once the transaction that ran it has committed
/// (or refused it).
pub(crate) async fn submit(store: &Store, work: Work) -> Result<Engagement, StoreError> {
    let (reply, mut answer) = oneshot::channel();
    store
        .queue
        .jobs
        .lock()
        .map_err(|_| StoreError::Corrupt("the write queue was poisoned".into()))?
        .push(Job { work, reply });
    let turn = Arc::clone(&store.writer).lock_owned().await;
    // An earlier batch may have taken this command and answered already.
    if let Ok(done) = answer.try_recv() {
        return done;
    }
    let jobs: Vec<Job> = {
        let mut q = store
            .queue
            .jobs
            .lock()
            .map_err(|_| StoreError::Corrupt("the write queue was poisoned".into()))?;
        let n = q.len().min(MAX_BATCH);
        q.drain(..n).collect()
    };
    let runner = store.clone();
    tokio::spawn(async move {
        run(&runner, jobs).await;
        drop(turn);
    });
    answer.await.unwrap_or_else(|_| {
        Err(StoreError::Corrupt(
            "the write stopped before it could be confirmed; reload to see whether it was saved"
                .into(),
        ))
    })
}

/// Runs `jobs` in one transaction and answers each after the commit.
async fn run(store: &Store, jobs: Vec<Job>) {
    let mut answers: Vec<(oneshot::Sender<_>, Result<Engagement, StoreError>)> = Vec::new();
    let outcome = async {
        let mut conn = store.pool.acquire().await?;
        // IMMEDIATE takes the write lock now, waiting (busy_timeout) for any
        // other process that holds it, so no command reads a snapshot that
        // another process's commit has made stale before it writes.
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let live: Vec<Job> = jobs
            .into_iter()
            .filter(|j| !j.reply.is_closed()) // callers who left before it began
            .collect();
        if let [_] = live.as_slice() {
            // Alone: the transaction is the command's own, and no
            // savepoint is needed to refuse it without its neighbours.
            let Some(Job { work, reply }) = live.into_iter().next() else {
                return Ok(());
            };
            match store.apply(&mut tx, work).await {
                Ok(e) => {
                    tx.commit().await?;
                    answers.push((reply, Ok(e)));
                }
                Err(err) => {
                    tx.rollback().await?;
                    answers.push((reply, Err(err)));
                }
            }
            return Ok::<(), sqlx::Error>(());
        }
        for Job { work, reply } in live {
            let mut one = sqlx::Acquire::begin(&mut tx).await?;
            match store.apply(&mut one, work).await {
                Ok(e) => {
                    one.commit().await?;
                    answers.push((reply, Ok(e)));
                }
                Err(err) => {
                    one.rollback().await?;
                    answers.push((reply, Err(err)));
                }
            }
        }
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    }
    .await;
    match outcome {
        Ok(()) => {
            store.queue.batches.fetch_add(1, Ordering::Relaxed);
            store
                .queue
                .commands
                .fetch_add(answers.len() as u64, Ordering::Relaxed);
            for (reply, answer) in answers {
                let _ = reply.send(answer);
            }
        }
        // Nothing in the batch was kept: every command hears why, even one
        // that had succeeded inside it.
        Err(e) => {
            let why = e.to_string();
            for (reply, answer) in answers {
                let _ = reply.send(match answer {
                    Err(refused @ StoreError::Domain(_)) => Err(refused),
                    _ => Err(StoreError::Corrupt(format!(
                        "the change was not saved: {why}"
                    ))),
                });
            }
        }
    }
}
