//! Independent work spread over the cores, results kept in input order: the bundle loader
//! (hash and parse every evidence file) and `period` (read a year of runs) both need exactly
//! this (so do the audit's checks), and scoped threads claiming one item at a time give it
//! without a thread-pool dependency. The normaliser's file reads go instead through a
//! [`Stream`]: a few long-lived reading threads run ahead of the normaliser, so reading the
//! next files overlaps with working on the last ones instead of alternating with it.

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

/// `f` over every item on up to 8 threads, in input order. A panic in `f` is re-raised here.
/// Each thread claims the next item when it is done with its last, so items of uneven cost (a
/// catalogue's checks, files of every size) keep every thread busy to the end.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        // Nothing to spread: a thread would only cost its start.
        return items.iter().map(f).collect();
    }
    let workers = workers().min(items.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let done: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return out;
                        };
                        out.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("every item is claimed by exactly one thread"))
        .collect()
}

/// Drops `t` on a thread of its own: freeing a large tenant's CEL scope or model (millions of
/// small values) takes longer than much of the work after it, which need not wait for it.
pub fn drop_in_background<T: Send + 'static>(t: T) {
    // Should the thread not start, the value is dropped here, as it would have been.
    let _ = std::thread::Builder::new()
        .name("siemproof-drop".into())
        .spawn(move || drop(t));
}

/// How many threads [`map_in_order`] and the reading threads use: the cores, at most 8.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

type Job = Box<dyn FnOnce() + Send>;

/// Hands a job to the process's reading threads, started on first use. They live as long as
/// the process and are shared by every stream (a fleet audit's tenants included), each job
/// taken in turn; a job never panics into them (see [`Stream`]).
fn submit(job: Job) {
    static JOBS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let jobs = JOBS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..workers() {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("siemproof-read-{n}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for a job, not while running it.
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("a reading thread starts");
        }
        tx
    });
    jobs.send(job)
        .expect("the reading threads live as long as the process");
}

/// `f` over `items` on the reading threads, handed out in input order as an iterator, with at
/// most `window` items read ahead of the one the caller takes (the bound on what is held in
/// memory). A panic in `f` is re-raised where its result is taken.
pub struct Stream<T, R> {
    todo: std::vec::IntoIter<T>,
    f: Arc<dyn Fn(T) -> R + Send + Sync>,
    tx: mpsc::Sender<(usize, std::thread::Result<R>)>,
    rx: mpsc::Receiver<(usize, std::thread::Result<R>)>,
    /// Results that arrived before the ones due ahead of them.
    early: BTreeMap<usize, std::thread::Result<R>>,
    sent: usize,
    taken: usize,
    window: usize,
}

impl<T: Send + 'static, R: Send + 'static> Stream<T, R> {
    pub fn new(items: Vec<T>, window: usize, f: Arc<dyn Fn(T) -> R + Send + Sync>) -> Self {
        let (tx, rx) = mpsc::channel();
        let mut s = Stream {
            todo: items.into_iter(),
            f,
            tx,
            rx,
            early: BTreeMap::new(),
            sent: 0,
            taken: 0,
            window: window.max(1),
        };
        s.top_up();
        s
    }

    /// Submits items until `window` are in flight or waiting to be taken.
    fn top_up(&mut self) {
        while self.sent - self.taken < self.window {
            let Some(item) = self.todo.next() else {
                return;
            };
            let (i, f, tx) = (self.sent, Arc::clone(&self.f), self.tx.clone());
            submit(Box::new(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)));
                // The stream may have been dropped (its caller stopped early): nothing waits.
                let _ = tx.send((i, r));
            }));
            self.sent += 1;
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> Iterator for Stream<T, R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        if self.taken == self.sent {
            return None;
        }
        let r = loop {
            if let Some(r) = self.early.remove(&self.taken) {
                break r;
            }
            // Every submitted job sends exactly once (its panic is caught), and this stream
            // holds a sender itself, so the wait ends.
            let (i, r) = self.rx.recv().expect("the stream holds a sender");
            self.early.insert(i, r);
        };
        self.taken += 1;
        self.top_up();
        Some(r.unwrap_or_else(|p| std::panic::resume_unwind(p)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_input_order_for_any_length() {
        for n in [0usize, 1, 2, 7, 100] {
            let items: Vec<usize> = (0..n).collect();
            assert_eq!(
                super::map_in_order(&items, |i| i * 2),
                (0..n).map(|i| i * 2).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn uneven_items_keep_their_order() {
        // Early items are slow, so the threads finish them out of order.
        let items: Vec<u64> = (0..40).collect();
        let out = super::map_in_order(&items, |i| {
            if *i < 4 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            i + 1
        });
        assert_eq!(out, (1..=40).collect::<Vec<u64>>());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..10).collect();
        let r = std::panic::catch_unwind(|| {
            super::map_in_order(&items, |i| {
                assert!(*i != 7, "item seven");
                *i
            })
        });
        assert!(r.is_err());
    }

    #[test]
    fn a_stream_hands_out_results_in_order_within_its_window() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let started = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = std::sync::Arc::clone(&started);
        let mut s = super::Stream::new(
            (0..50u64).collect(),
            4,
            std::sync::Arc::new(move |i: u64| {
                seen.fetch_add(1, Ordering::SeqCst);
                if i.is_multiple_of(7) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                i * 3
            }),
        );
        assert_eq!(s.next(), Some(0));
        // One taken: at most the window more were handed to the threads.
        assert!(started.load(Ordering::SeqCst) <= 5);
        let rest: Vec<u64> = s.collect();
        assert_eq!(rest, (1..50).map(|i| i * 3).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_a_stream_reaches_the_taker_and_spares_the_threads() {
        let r = std::panic::catch_unwind(|| {
            super::Stream::new(
                (0..10u32).collect(),
                3,
                std::sync::Arc::new(|i: u32| {
                    assert!(i != 5, "item five");
                    i
                }),
            )
            .count()
        });
        assert!(r.is_err());
        // The reading threads still serve the next stream.
        let s = super::Stream::new((0..20u32).collect(), 2, std::sync::Arc::new(|i: u32| i + 1));
        assert_eq!(s.sum::<u32>(), (1..=20u32).sum::<u32>());
    }

    #[test]
    fn a_stream_dropped_early_leaves_nothing_waiting() {
        let mut s = super::Stream::new((0..100u32).collect(), 8, std::sync::Arc::new(|i: u32| i));
        assert_eq!(s.next(), Some(0));
        drop(s);
        let s = super::Stream::new(vec![1u32, 2], 8, std::sync::Arc::new(|i: u32| i));
        assert_eq!(s.collect::<Vec<_>>(), vec![1, 2]);
    }
}
