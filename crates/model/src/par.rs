//! Spreading independent per-file work over the machine's cores.
//!
//! A plain scoped-thread split is all the model needs: the work items are
//! similar in size, so static chunks balance well without a work-stealing pool.

/// Maps `f` over borrowed `items` on up to 8 threads, keeping order.
pub fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    par_map_owned(items.iter().collect(), f)
}

/// Maps `f` over `items`, consuming them, on up to 8 threads, keeping order.
/// Each item is dropped as soon as `f` is done with it, so large inputs (page
/// sources) are freed while the rest are still being processed.
pub fn par_map_owned<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if items.len() < 64 || threads < 2 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut rest = items.into_iter();
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    loop {
        let c: Vec<T> = rest.by_ref().take(chunk).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(|| c.into_iter().map(&f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Calls `f` on every item, in place, on up to 8 threads.
pub fn par_for_each_mut<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if items.len() < 64 || threads < 2 {
        items.iter_mut().for_each(f);
        return;
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        for c in items.chunks_mut(chunk) {
            let f = &f;
            s.spawn(move || c.iter_mut().for_each(f));
        }
    });
}
