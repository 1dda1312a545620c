//! The worker pool's claim / park / wake protocol under loom, which runs the model once for
//! every interleaving of the pool's atomics (up to its preemption bound) and records every
//! access to the job slot: run with `make test-loom` (`--cfg loom`).
//!
//! Checked in every interleaving: each task of a call runs exactly once; no task runs after
//! its call returned (a task reads a cell the caller writes once `run` is back, so a late
//! task is a race loom reports); the job slot is never read while the caller writes it;
//! a worker parked between calls is woken for the next one and for the pool's drop (no
//! deadlock: loom fails a model whose threads all block).
#![cfg(loom)]

use lobzero_core::pool::ForkJoin;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Whether the call is still open, in a cell loom watches.
struct OpenFlag(UnsafeCell<bool>);
// SAFETY: shared only to let loom check that its accesses are ordered (the point of the test)
unsafe impl Sync for OpenFlag {}

impl OpenFlag {
    fn is_open(&self) -> bool {
        // SAFETY: loom checks that this read happens before `close`
        self.0.with(|p| unsafe { *p })
    }

    fn close(&self) {
        // SAFETY: as above; a task still running would race with this write
        self.0.with_mut(|p| unsafe { *p = false });
    }
}

/// `calls` calls (each its count of tasks) on a pool of `threads` threads.
fn model(threads: usize, calls: &'static [usize], bound: usize) {
    let mut builder = loom::model::Builder::new();
    // every interleaving with up to `bound` preemptions (most bugs need 2 or 3); unbounded, a
    // model of two calls runs for many minutes. LOOM_MAX_PREEMPTIONS overrides it.
    builder.preemption_bound = builder.preemption_bound.or(Some(bound));
    builder.check(move || {
        let mut pool = ForkJoin::new(threads);
        for &tasks in calls {
            let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            let open = OpenFlag(UnsafeCell::new(true));
            pool.run(tasks, &|i| {
                assert!(open.is_open(), "task {i} ran after its call");
                counts[i].fetch_add(1, SeqCst);
            });
            open.close();
            for (i, c) in counts.iter().enumerate() {
                assert_eq!(c.load(SeqCst), 1, "task {i} of {tasks}");
            }
        }
        drop(pool);
    });
}

#[test]
fn one_worker_two_calls() {
    model(2, &[2, 3], 3);
}

#[test]
fn one_worker_a_call_of_one_task_runs_inline_then_a_shared_call() {
    model(2, &[1, 2], 3);
}

#[test]
fn two_workers_share_a_call_and_are_woken_for_the_next() {
    model(3, &[3, 2], 2);
}
