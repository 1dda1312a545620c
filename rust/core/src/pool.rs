//! A small fork-join pool for the batched environment: the calling thread and `threads - 1`
//! persistent workers run the tasks `0..n` of one call, and the call returns when all are done.
//!
//! Why not rayon's pool: a call of a 256-environment batch is ~100 µs of work, and rayon puts
//! a caller from outside its pool to sleep on a latch while its workers run; on this project's
//! 2-vCPU virtual machines the wake-ups per call cost about as much as the second core gains
//! (measured with `examples/env_step_timing.rs`: 793 ns per environment step on 2 rayon threads
//! against 805 ns on one; 358–372 ns on 2 threads of this pool). Here the caller works too and
//! never sleeps, and idle workers
//! spin for [`SPIN`] before they park, so calls in a tight loop hand over in well under a
//! microsecond while a worker left idle (the policy running between calls) gives its core back.
//!
//! Each thread owns a contiguous share of the tasks, so an environment keeps being stepped by
//! the same core (its state stays in that core's cache); a thread that finishes its share takes
//! the rest of the others' (a core slowed by a neighbour does not hold the call up).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
// `--cfg loom` (make test-loom) builds the pool on loom's primitives, which explore every
// interleaving of the protocol below (rust/core/tests/loom_pool.rs)
#[cfg(loom)]
use loom::{
    hint,
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
    sync::Arc,
    thread::{self, JoinHandle},
};
#[cfg(not(loom))]
use std::{
    hint,
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
    sync::Arc,
    thread::{self, JoinHandle},
};

/// How long an idle worker polls for the next call before it parks.
pub const SPIN: Duration = Duration::from_micros(100);

/// A task body: called once for every task index of a call, from any thread of the pool.
type Job = dyn Fn(usize) + Sync;

/// The open call's job. Under loom the cell records every access, so a read by a worker that
/// is not ordered after the caller's write (or a write while a worker may still read) fails the
/// model.
struct JobSlot {
    #[cfg(not(loom))]
    cell: std::cell::UnsafeCell<Option<*const Job>>,
    #[cfg(loom)]
    cell: loom::cell::UnsafeCell<Option<*const Job>>,
}

impl JobSlot {
    fn new() -> Self {
        #[cfg(not(loom))]
        let cell = std::cell::UnsafeCell::new(None);
        #[cfg(loom)]
        let cell = loom::cell::UnsafeCell::new(None);
        Self { cell }
    }

    /// # Safety
    /// No other thread may access the slot meanwhile.
    unsafe fn set(&self, job: Option<*const Job>) {
        #[cfg(not(loom))]
        // SAFETY: exclusive access, by the caller's contract
        unsafe {
            *self.cell.get() = job
        };
        #[cfg(loom)]
        // SAFETY: as above
        self.cell.with_mut(|slot| unsafe { *slot = job });
    }

    /// # Safety
    /// No thread may write the slot meanwhile.
    unsafe fn get(&self) -> Option<*const Job> {
        #[cfg(not(loom))]
        // SAFETY: no concurrent write, by the caller's contract
        let job = unsafe { *self.cell.get() };
        #[cfg(loom)]
        // SAFETY: as above
        let job = self.cell.with(|slot| unsafe { *slot });
        job
    }
}

/// A counter on its own cache lines, so threads claiming tasks do not slow each other.
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

/// `state` packs the call's generation (upper bits) and whether it is open (bit 0).
const OPEN: u64 = 1;
const EXIT: u64 = u64::MAX;

struct Shared {
    state: Padded<AtomicU64>,
    /// Workers between announcing themselves and leaving a call: the caller does not return
    /// (ending the job's borrow) until this is 0 after it closed the call.
    active: Padded<AtomicUsize>,
    /// Tasks not finished yet in the open call.
    remaining: Padded<AtomicUsize>,
    tasks: AtomicUsize,
    /// Next unclaimed task of each thread's share.
    next: Vec<Padded<AtomicUsize>>,
    sleeping: Vec<Padded<AtomicBool>>,
    panicked: AtomicBool,
    /// The open call's job, valid while `state` is open: written by the caller before it opens
    /// the call, read by workers only after they announced themselves in `active`.
    job: JobSlot,
}

// SAFETY: `job` is written only by the (single) caller while no worker may read it (the call is
// closed and `active` is 0), and read by workers only while the call is open; the pointer it
// holds is to a `Sync` closure.
unsafe impl Sync for Shared {}
// SAFETY: as above; the raw pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

impl Shared {
    /// Share `t` of `tasks` tasks over `threads` threads: [start, end).
    fn share(tasks: usize, threads: usize, t: usize) -> (usize, usize) {
        (t * tasks / threads, (t + 1) * tasks / threads)
    }

    /// Runs tasks, own share first, then whatever is left of the others'.
    fn work(&self, me: usize, job: &(dyn Fn(usize) + Sync + '_)) {
        let threads = self.next.len();
        let tasks = self.tasks.load(SeqCst);
        for k in 0..threads {
            let t = (me + k) % threads;
            let (_, end) = Self::share(tasks, threads, t);
            loop {
                let i = self.next[t].0.fetch_add(1, SeqCst);
                if i >= end {
                    break;
                }
                if catch_unwind(AssertUnwindSafe(|| job(i))).is_err() {
                    self.panicked.store(true, SeqCst);
                }
                self.remaining.0.fetch_sub(1, SeqCst);
            }
        }
    }
}

/// The pool. Dropping it stops and joins the workers.
pub struct ForkJoin {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    generation: u64,
}

impl ForkJoin {
    /// A pool of `threads` threads in all (the caller counts as one; at least 1).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Padded(AtomicU64::new(0)),
            active: Padded::default(),
            remaining: Padded::default(),
            tasks: AtomicUsize::new(0),
            next: (0..threads).map(|_| Padded::default()).collect(),
            sleeping: (0..threads).map(|_| Padded::default()).collect(),
            panicked: AtomicBool::new(false),
            job: JobSlot::new(),
        });
        let workers = (1..threads)
            .map(|me| {
                let shared = Arc::clone(&shared);
                thread::Builder::new()
                    .name(format!("lobzero-env-{me}"))
                    .spawn(move || worker(&shared, me))
            })
            .take_while(Result::is_ok)
            .flatten()
            .collect::<Vec<_>>();
        // a worker that did not start leaves its share to the others, who take it
        Self {
            shared,
            workers,
            generation: 0,
        }
    }

    /// Threads in all, the caller included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `job(i)` once for every `i` in `0..tasks`, spread over the pool, and returns when
    /// every call has returned. A panic in a task is re-raised here after all tasks ran.
    pub fn run(&mut self, tasks: usize, job: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || tasks <= 1 {
            (0..tasks).for_each(job);
            return;
        }
        let s = &*self.shared;
        let threads = s.next.len();
        // SAFETY: the call is closed and no worker is active (the previous `run` waited for
        // that), so nothing reads `job` now. Its lifetime is erased for storage; the pointer is
        // cleared below before `job`'s borrow ends, and no worker uses it after `active` is 0.
        unsafe {
            let ptr: *const Job = std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), _>(job);
            s.job.set(Some(ptr));
        }
        s.tasks.store(tasks, SeqCst);
        s.remaining.0.store(tasks, SeqCst);
        for (t, next) in s.next.iter().enumerate() {
            next.0.store(Shared::share(tasks, threads, t).0, SeqCst);
        }
        self.generation += 1;
        s.state.0.store(self.generation << 1 | OPEN, SeqCst);
        store_then_load();
        for (w, handle) in self.workers.iter().enumerate() {
            if s.sleeping[w + 1].0.load(SeqCst) {
                handle.thread().unpark();
            }
        }
        s.work(0, job);
        spin_until(|| s.remaining.0.load(SeqCst) == 0);
        s.state.0.store(self.generation << 1, SeqCst);
        store_then_load();
        spin_until(|| s.active.0.load(SeqCst) == 0);
        // SAFETY: closed and no worker active: nothing reads `job`.
        unsafe { s.job.set(None) };
        if s.panicked.swap(false, SeqCst) {
            panic!("a task of the environment pool panicked");
        }
    }
}

/// Spins until `done()`, yielding the core now and then (a descheduled worker may hold the
/// last task).
fn spin_until(done: impl Fn() -> bool) {
    let mut k = 0u32;
    while !done() {
        k = k.wrapping_add(1);
        if k.is_multiple_of(1024) {
            thread::yield_now();
        } else {
            hint::spin_loop();
        }
    }
}

/// Marks the four places where the protocol needs sequential consistency: one thread stores
/// then loads what another thread stores then loads (the caller opens or closes the call then
/// reads `sleeping` or `active`; a worker sets `sleeping` or `active` then reads `state`), and
/// at least one of them must see the other's store. SeqCst accesses give that; loom models
/// them as acquire / release only (its README, "Unsupported features") and would report
/// interleavings no real execution has, so under loom the same guarantee comes from the
/// SeqCst fence it does model. Nothing in a normal build.
#[inline(always)]
fn store_then_load() {
    #[cfg(loom)]
    loom::sync::atomic::fence(SeqCst);
}

/// Whether an idle worker that polled `polls` times since `started` parks now. Under loom at
/// once: the model explores the park / wake handshake instead of 100 µs of polling.
#[inline]
fn may_park(polls: u32, started: Instant) -> bool {
    cfg!(loom) || (polls.is_multiple_of(64) && started.elapsed() > SPIN)
}

fn worker(s: &Shared, me: usize) {
    let mut seen = 0u64;
    loop {
        // wait for a call newer than the last one seen
        let fresh = |state: u64| state == EXIT || (state & OPEN != 0 && state >> 1 != seen);
        let started = Instant::now();
        let mut k = 0u32;
        while !fresh(s.state.0.load(SeqCst)) {
            k = k.wrapping_add(1);
            if may_park(k, started) {
                s.sleeping[me].0.store(true, SeqCst);
                store_then_load();
                if !fresh(s.state.0.load(SeqCst)) {
                    thread::park();
                }
                s.sleeping[me].0.store(false, SeqCst);
            } else {
                hint::spin_loop();
            }
        }
        s.active.0.fetch_add(1, SeqCst);
        store_then_load();
        // read again once counted in `active`: the call seen above may have closed meanwhile
        let state = s.state.0.load(SeqCst);
        if state == EXIT {
            s.active.0.fetch_sub(1, SeqCst);
            return;
        }
        if fresh(state) {
            seen = state >> 1;
            // SAFETY: the call is open and this worker is counted in `active`, so the caller
            // keeps `job` alive until this worker leaves.
            if let Some(job) = unsafe { s.job.get() } {
                // SAFETY: as above
                s.work(me, unsafe { &*job });
            }
        }
        s.active.0.fetch_sub(1, SeqCst);
    }
}

impl Drop for ForkJoin {
    fn drop(&mut self) {
        self.shared.state.0.store(EXIT, SeqCst);
        for handle in self.workers.drain(..) {
            handle.thread().unpark();
            // a worker that panicked outside a task has nothing left to clean up
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for ForkJoin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForkJoin")
            .field("threads", &self.threads())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_task_runs_exactly_once_per_call() {
        for threads in [1, 2, 3, 8] {
            let mut pool = ForkJoin::new(threads);
            for tasks in [0, 1, 2, 5, 16, 257] {
                let counts: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
                for _ in 0..50 {
                    pool.run(tasks, &|i| {
                        counts[i].fetch_add(1, SeqCst);
                    });
                }
                assert!(
                    counts.iter().all(|c| c.load(SeqCst) == 50),
                    "{threads} {tasks}"
                );
            }
        }
    }

    #[test]
    fn parked_workers_wake_for_the_next_call() {
        let mut pool = ForkJoin::new(2);
        let total = AtomicU32::new(0);
        for _ in 0..3 {
            std::thread::sleep(SPIN * 5);
            pool.run(64, &|_| {
                total.fetch_add(1, SeqCst);
            });
        }
        assert_eq!(total.load(SeqCst), 192);
    }

    #[test]
    fn a_panicking_task_is_reported_after_the_others_ran() {
        let mut pool = ForkJoin::new(2);
        let ran = AtomicU32::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.run(32, &|i| {
                ran.fetch_add(1, SeqCst);
                assert!(i != 7, "task 7 fails");
            })
        }));
        assert!(result.is_err());
        assert_eq!(ran.load(SeqCst), 32);
        // the pool still works
        let after = AtomicU32::new(0);
        pool.run(10, &|_| {
            after.fetch_add(1, SeqCst);
        });
        assert_eq!(after.load(SeqCst), 10);
    }
}
