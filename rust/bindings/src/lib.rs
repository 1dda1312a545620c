//! lobzero-py: the thin PyO3 layer over lobzero-core. Each wrapper converts arguments, releases
//! the GIL around the Rust work and maps errors; the logic lives in the core crate.

mod env;
mod errors;
mod import;
mod mcts;
mod stream;
mod synth;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<stream::Stream>()?;
    m.add_class::<import::BinanceLiveImporter>()?;
    env::register(m)?;
    m.add_class::<mcts::MctsBatch>()?;
    m.add_class::<mcts::StochasticMctsBatch>()?;
    m.add_function(wrap_pyfunction!(import::import_files, m)?)?;
    m.add_function(wrap_pyfunction!(synth::synth_market, m)?)?;
    m.add_function(wrap_pyfunction!(import::import_hftbacktest, m)?)?;
    m.add_function(wrap_pyfunction!(import::import_databento, m)?)?;
    m.add_function(wrap_pyfunction!(import::import_order_events, m)?)?;
    m.add_function(wrap_pyfunction!(import::order_queues_at, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
