//! The serial writer of one project: a thread that takes requests in arrival order, applies all that are waiting
//! in one transaction (group commit), makes it durable, and only then answers each request.
//!
//! The writer keeps the state it reads per event in memory between transactions ([`WriterMemory`]); when a
//! transaction fails, that memory may hold its uncommitted changes, so it is dropped and reloaded.

use std::sync::Arc;

use herd_model::Command;
use redb::{Database, Durability};
use tokio::sync::{mpsc, oneshot};

use crate::apply::{ApplyOptions, Batch, Counters, Receipt, WriterMemory};
use crate::dedup::DedupIndex;
use crate::error::{Rejection, Result, StoreError};

/// The answer to one request: accepted with a receipt, or refused without any change.
pub type WriteOutcome = std::result::Result<Receipt, Rejection>;

pub(crate) struct WriteRequest {
    pub commands: Vec<Command>,
    pub received_at_ms: i64,
    pub reply: oneshot::Sender<Result<WriteOutcome>>,
}

/// Largest number of requests committed together; bounds the latency of one commit.
const MAX_REQUESTS_PER_COMMIT: usize = 512;

pub(crate) fn spawn(db: Arc<Database>, options: ApplyOptions, name: String) -> Result<mpsc::Sender<WriteRequest>> {
    let (tx, rx) = mpsc::channel::<WriteRequest>(4096);
    let (counters, memory) = load(&db, options)?;
    std::thread::Builder::new()
        .name(format!("herd-writer-{name}"))
        .spawn(move || run(db, options, counters, memory, rx))
        .map_err(|e| StoreError::io("writer thread", e))?;
    Ok(tx)
}

/// The committed counters and a fresh memory with the dedup index of the window.
fn load(db: &Database, options: ApplyOptions) -> Result<(Counters, WriterMemory)> {
    let txn = db.begin_write()?;
    let counters = Counters::load(&txn)?;
    let dedup = DedupIndex::load(&txn, crate::now_ms(), options.dedup_window_ms)?;
    txn.abort()?;
    tracing::debug!(dedup_keys = dedup.len(), "writer loaded its state");
    Ok((counters, WriterMemory { dedup, ..WriterMemory::default() }))
}

fn run(
    db: Arc<Database>,
    options: ApplyOptions,
    mut counters: Counters,
    mut memory: WriterMemory,
    mut rx: mpsc::Receiver<WriteRequest>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut requests = vec![first];
        while requests.len() < MAX_REQUESTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(r) => requests.push(r),
                Err(_) => break,
            }
        }
        match commit(&db, options, counters.clone(), &mut memory, &mut requests) {
            Ok((new_counters, outcomes)) => {
                counters = new_counters;
                memory.cache.trim();
                for (request, outcome) in requests.into_iter().zip(outcomes) {
                    let _ = request.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = requests.len(), "commit failed; no request in it was acknowledged");
                let message = e.to_string();
                for request in requests {
                    let _ = request.reply.send(Err(StoreError::Corrupt { what: "commit", detail: message.clone() }));
                }
                // The transaction was dropped, so the in-memory counters are the last committed ones still; the
                // memory may hold its changes, so it starts again from what is committed.
                match load(&db, options) {
                    Ok((c, m)) => (counters, memory) = (c, m),
                    Err(e) => {
                        tracing::error!(error = %e, "reloading the writer's state failed; the writer stops");
                        return;
                    }
                }
            }
        }
    }
}

fn commit(
    db: &Database,
    options: ApplyOptions,
    counters: Counters,
    memory: &mut WriterMemory,
    requests: &mut [WriteRequest],
) -> Result<(Counters, Vec<WriteOutcome>)> {
    let mut txn = db.begin_write()?;
    // An acknowledgement means fsync'd: Immediate durability is redb's default; set it to say so.
    txn.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::Corrupt { what: "durability", detail: e.to_string() })?;
    let mut outcomes = Vec::with_capacity(requests.len());
    let started = std::time::Instant::now();
    let counters = {
        let mut batch = Batch::open(&txn, counters, memory, options)?;
        let mut now_ms = i64::MIN;
        for request in requests.iter_mut() {
            let commands = std::mem::take(&mut request.commands);
            now_ms = now_ms.max(request.received_at_ms);
            outcomes.push(batch.apply_request(commands, request.received_at_ms)?);
        }
        batch.finish(now_ms)?
    };
    let applied = started.elapsed();
    txn.commit()?;
    tracing::debug!(
        requests = requests.len(),
        apply_ms = applied.as_secs_f64() * 1000.0,
        commit_ms = (started.elapsed() - applied).as_secs_f64() * 1000.0,
        "group commit"
    );
    Ok((counters, outcomes))
}
