//! Independent work spread over the cores, results kept in input order: the bundle loader
//! (hash and parse every evidence file) and `period` (read a year of runs) both need exactly
//! this, and scoped threads over contiguous chunks give it without a thread-pool dependency.

/// `f` over every item on up to 8 threads, in input order. A panic in `f` is re-raised here.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        // Nothing to spread: a thread would only cost its start.
        return items.iter().map(f).collect();
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = items.len().div_ceil(workers).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
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
}
