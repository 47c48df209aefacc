//! The serial writer of one project: a thread that takes requests in arrival order, applies all that are waiting
//! in one transaction (group commit), makes it durable, and only then answers each request.

use std::sync::Arc;

use herd_model::Command;
use redb::{Database, Durability};
use tokio::sync::{mpsc, oneshot};

use crate::apply::{ApplyOptions, Batch, Counters, Receipt};
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
    let counters = {
        let txn = db.begin_write()?;
        let c = Counters::load(&txn)?;
        txn.abort()?;
        c
    };
    std::thread::Builder::new()
        .name(format!("herd-writer-{name}"))
        .spawn(move || run(db, options, counters, rx))
        .map_err(|e| StoreError::io("writer thread", e))?;
    Ok(tx)
}

fn run(db: Arc<Database>, options: ApplyOptions, mut counters: Counters, mut rx: mpsc::Receiver<WriteRequest>) {
    while let Some(first) = rx.blocking_recv() {
        let mut requests = vec![first];
        while requests.len() < MAX_REQUESTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(r) => requests.push(r),
                Err(_) => break,
            }
        }
        match commit(&db, options, counters.clone(), &mut requests) {
            Ok((new_counters, outcomes)) => {
                counters = new_counters;
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
                // The transaction was dropped, so the in-memory counters are the last committed ones still.
            }
        }
    }
}

fn commit(
    db: &Database,
    options: ApplyOptions,
    counters: Counters,
    requests: &mut [WriteRequest],
) -> Result<(Counters, Vec<WriteOutcome>)> {
    let mut txn = db.begin_write()?;
    // An acknowledgement means fsync'd: Immediate durability is redb's default; set it to say so.
    txn.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::Corrupt { what: "durability", detail: e.to_string() })?;
    let mut outcomes = Vec::with_capacity(requests.len());
    let started = std::time::Instant::now();
    let counters = {
        let mut batch = Batch::open(&txn, counters, options)?;
        for request in requests.iter_mut() {
            let commands = std::mem::take(&mut request.commands);
            outcomes.push(batch.apply_request(commands, request.received_at_ms)?);
        }
        batch.finish()?
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
