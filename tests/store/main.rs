//! The store below the HTTP API: what its statements do on SQLite and on PostgreSQL,
//! where the API cannot show it (batches, connections). Each test gets its own fresh
//! database built by the migrations, as the API tests do.

#[path = "../support/mod.rs"]
mod support;

mod screenings;
mod sqlite;
