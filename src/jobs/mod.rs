//! Background jobs: a lease row makes one replica at a time run a job (`lease`), and a
//! periodic runner runs its passes until the application stops (`runner`). A job is a
//! name, an interval and a pass; the pass renews the lease as it goes.

pub mod lease;
pub mod runner;

pub use lease::Lease;
pub use runner::{Jobs, Pass};

/// Runs `work`, containing a panic: a panicking pass is logged (with its message) and
/// yields `None`, so that the loop that runs it goes on: no answer from outside can stop
/// the process, nor a background task.
pub async fn contained<T>(name: &'static str, work: impl std::future::Future<Output = T>) -> Option<T> {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(value) => Some(value),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(task = name, panic = %message, "a background task panicked; it goes on at its next pass");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panicking_pass_is_contained() {
        assert_eq!(super::contained("test", async { 7 }).await, Some(7));
        let panicked: Option<()> = super::contained("test", async { panic!("boom") }).await;
        assert_eq!(panicked, None);
    }
}
