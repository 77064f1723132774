//! The screening writers' queue: it hands a writer a batch, gathered for a moment while
//! writes arrive faster than the moment lasts.
//!
//! Part of a batch's cost to renkei and to the database is per batch, not per write (a
//! statement's round trip, its planning and executor start, a commit; bench/RESULTS.md,
//! session 15). A free writer that took whatever was waiting wrote two to four writes
//! at a time at a checkout peak, since some writer was nearly always free. So while
//! writes come close together, a writer waits until the first of its batch has waited
//! `window` and takes what came meanwhile; at a trickle (the last write was queued
//! longer than `window` before this one) it writes at once, and writes that already
//! waited that long (the writers are behind) wait no more.

use tokio::{
    sync::mpsc::{UnboundedReceiver, error::TryRecvError},
    time::{Duration, Instant},
};

/// Something queued, and when.
pub trait Stamped {
    fn queued_at(&self) -> Instant;
}

/// A queue's receiving end, handing out batches.
pub struct Gathering<T> {
    queue: UnboundedReceiver<T>,
    window: Duration,
    most: usize,
    /// When the last item handed out was queued.
    last: Option<Instant>,
}

impl<T: Stamped> Gathering<T> {
    /// Batches of at most `most` (at least one) from `queue`, gathered for up to `window`
    /// (zero: never).
    pub fn new(queue: UnboundedReceiver<T>, window: Duration, most: usize) -> Self {
        Self {
            queue,
            window,
            most: most.max(1),
            last: None,
        }
    }

    /// The next batch, in the order queued; `None` once the queue is closed and empty.
    pub async fn next(&mut self) -> Option<Vec<T>> {
        let first = self.queue.recv().await?;
        let first_at = first.queued_at();
        let busy = self
            .last
            .is_some_and(|last| first_at.saturating_duration_since(last) < self.window);
        let until = first_at + self.window;
        let mut batch = vec![first];
        while batch.len() < self.most {
            match self.queue.try_recv() {
                Ok(item) => batch.push(item),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) if !busy => break,
                Err(TryRecvError::Empty) => match tokio::time::timeout_at(until, self.queue.recv()).await {
                    Ok(Some(item)) => batch.push(item),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        self.last = batch.last().map(Stamped::queued_at);
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;

    struct Item(u32, Instant);

    impl Stamped for Item {
        fn queued_at(&self) -> Instant {
            self.1
        }
    }

    const WINDOW: Duration = Duration::from_millis(2);

    fn numbers(batch: Option<Vec<Item>>) -> Vec<u32> {
        batch.expect("a batch").into_iter().map(|item| item.0).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn at_a_trickle_each_write_is_taken_at_once() {
        let (send, queue) = mpsc::unbounded_channel();
        let mut gathering = Gathering::new(queue, WINDOW, 256);
        for n in 0..3 {
            send.send(Item(n, Instant::now())).unwrap();
            let started = Instant::now();
            assert_eq!(numbers(gathering.next().await), [n]);
            assert_eq!(started.elapsed(), Duration::ZERO, "write {n} waited");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn while_writes_come_close_together_a_batch_gathers_for_the_window() {
        let (send, queue) = mpsc::unbounded_channel();
        let mut gathering = Gathering::new(queue, WINDOW, 256);
        let start = Instant::now();
        send.send(Item(0, start)).unwrap();
        assert_eq!(numbers(gathering.next().await), [0]);
        let sender = tokio::spawn(async move {
            // Writes at 1, 2, 7 and 8 ms (tokio's timers tick in milliseconds).
            for (n, at) in [(1, 1), (2, 2), (3, 7), (4, 8)] {
                tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                send.send(Item(n, Instant::now())).unwrap();
            }
        });
        // Write 1 comes 1 ms after write 0: the writes are close, so its batch takes
        // what comes until write 1 has waited 2 ms.
        assert_eq!(numbers(gathering.next().await), [1, 2]);
        assert_eq!(start.elapsed(), Duration::from_millis(3));
        // Write 3 comes 5 ms after write 2: at once, alone.
        assert_eq!(numbers(gathering.next().await), [3]);
        assert_eq!(start.elapsed(), Duration::from_millis(7));
        // Write 4 is close again; its batch ends when the queue closes.
        assert_eq!(numbers(gathering.next().await), [4]);
        assert_eq!(start.elapsed(), Duration::from_millis(8));
        sender.await.unwrap();
        assert!(gathering.next().await.is_none(), "the queue is closed");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_that_waited_the_window_already_are_taken_at_once_at_most_the_batch() {
        let (send, queue) = mpsc::unbounded_channel();
        let mut gathering = Gathering::new(queue, WINDOW, 4);
        let at = Instant::now();
        for n in 0..6 {
            send.send(Item(n, at)).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
        let started = Instant::now();
        assert_eq!(numbers(gathering.next().await), [0, 1, 2, 3]);
        assert_eq!(numbers(gathering.next().await), [4, 5]);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_of_zero_never_waits() {
        let (send, queue) = mpsc::unbounded_channel();
        let mut gathering = Gathering::new(queue, Duration::ZERO, 256);
        send.send(Item(0, Instant::now())).unwrap();
        send.send(Item(1, Instant::now())).unwrap();
        assert_eq!(numbers(gathering.next().await), [0, 1]);
        send.send(Item(2, Instant::now())).unwrap();
        let started = Instant::now();
        assert_eq!(numbers(gathering.next().await), [2]);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
