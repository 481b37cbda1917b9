//! Work spread over a few threads, for bdctl's slow host lookups (the NSS
//! lookups of `bdctl policy check`: thousands of names, each a blocking
//! call of tens of microseconds). bdctl only: bdexec stays
//! single-threaded, and nothing below the bdctl wing imports this.
//!
//! [`map_while`] runs `f` on every item on worker threads while the
//! calling thread does its own work, then helps with what is left. Every
//! item gets its `f`: an item a worker did not finish (it could not be
//! spawned, or it panicked where panics unwind, as in tests; the release
//! build aborts on a panic, so it prints no partial report) is done on
//! the calling thread.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

/// Worker threads besides the calling one: one per CPU, at most 4 (the
/// lookups are short system calls; more threads than CPUs only queue).
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// `items.map(f)` in order, computed by `threads` workers pulling items
/// from a shared counter, while the calling thread runs `own` and then
/// pulls items too. Returns the results in the items' order and `own`'s
/// value. With `threads == 0` everything runs on the calling thread
/// (`own` first).
pub fn map_while<T, R, W>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
    own: impl FnOnce() -> W,
) -> (Vec<R>, W)
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    // Pull items until none is left: (index, result) pairs.
    let pull = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let w = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map_while(|n| {
                std::thread::Builder::new()
                    .name(format!("bdctl-lookup-{n}"))
                    .spawn_scoped(sc, pull)
                    .ok()
            })
            .collect();
        let w = own();
        for (i, r) in pull() {
            slots[i] = Some(r);
        }
        for h in handles {
            // A worker that panicked is joined here (so the scope does not
            // panic); the items it had taken are redone below.
            if let Ok(done) = h.join() {
                for (i, r) in done {
                    slots[i] = Some(r);
                }
            }
        }
        w
    });
    let out = slots
        .into_iter()
        .zip(items)
        .map(|(slot, item)| slot.unwrap_or_else(|| f(item)))
        .collect();
    (out, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_once_in_order() {
        let items: Vec<u32> = (0..5000).collect();
        let calls = AtomicUsize::new(0);
        for threads in [0, 1, 2, 4] {
            calls.store(0, Ordering::Relaxed);
            let (out, own) = map_while(
                &items,
                threads,
                |x| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    x * 2
                },
                || "own",
            );
            assert_eq!(own, "own");
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
            assert_eq!(calls.load(Ordering::Relaxed), items.len());
        }
    }

    #[test]
    fn a_panicking_worker_loses_no_item() {
        let items: Vec<u32> = (0..200).collect();
        let main = std::thread::current().id();
        let panicked = AtomicUsize::new(0);
        // The first item a worker takes panics it; the calling thread
        // redoes every item the workers did not return.
        let (out, ()) = map_while(
            &items,
            2,
            |x| {
                if std::thread::current().id() != main
                    && panicked.fetch_add(1, Ordering::Relaxed) < 2
                {
                    panic!("worker fails on purpose");
                }
                x + 1
            },
            || std::thread::sleep(std::time::Duration::from_millis(20)),
        );
        assert_eq!(out, items.iter().map(|x| x + 1).collect::<Vec<_>>());
    }

    #[test]
    fn empty() {
        let (out, w) = map_while(&[] as &[u8], 2, |x| *x, || 7);
        assert!(out.is_empty());
        assert_eq!(w, 7);
    }
}
