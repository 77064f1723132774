//! Background jobs: a lease row makes one replica at a time run a job (`lease`), and a
//! periodic runner runs its passes until the application stops (`runner`). A job is a
//! name, an interval and a pass; the pass renews the lease as it goes.

pub mod lease;
pub mod runner;

pub use lease::Lease;
pub use runner::{Jobs, Pass};
