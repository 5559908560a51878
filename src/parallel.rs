//! Independent work spread over the cores, results kept in input order: the bundle loader
//! (hash and parse every evidence file) and `period` (read a year of runs) both need exactly
//! this (so do the audit's checks), and scoped threads claiming one item at a time give it
//! without a thread-pool dependency.

/// `f` over every item on up to 8 threads, in input order. A panic in `f` is re-raised here.
/// Each thread claims the next item when it is done with its last, so items of uneven cost (a
/// catalogue's checks, files of every size) keep every thread busy to the end.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        // Nothing to spread: a thread would only cost its start.
        return items.iter().map(f).collect();
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(items.len());
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
}
