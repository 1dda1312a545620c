//! lobzero-core: the pure-Rust engine of lobzero (no Python here; see the `lobzero-py` crate for
//! the bindings). Prices and sizes are integer ticks and lots, time is i64 ns since the Unix epoch.

pub mod account;
pub mod adversary;
pub mod book;
pub mod decimal;
pub mod env;
pub mod error;
pub mod event;
pub mod exec;
pub mod features;
pub mod import;
pub mod mcts;
pub mod orders;
pub mod pool;
pub mod prefetch;
pub mod replay;
pub mod rng;
pub mod synth;
pub mod vec_env;

pub use book::{Book, OrderBook};
pub use decimal::Decimal;
pub use error::{LobzeroError, Result};
pub use event::{Event, EventStream, Instrument};
pub use replay::{sample_book, BookSamples, Replay};
