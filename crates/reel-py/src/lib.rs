//! The `reel._native` extension module; the Python-facing API is in `python/reel/__init__.py`.

use std::fs::File;
use std::io::{BufReader, BufWriter};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;

create_exception!(_native, ReelError, PyException, "A recording is invalid: truncated, corrupted or not a recording.");

fn to_py(e: reel::Error) -> PyErr {
    match e {
        reel::Error::Io(e) => PyOSError::new_err(e.to_string()),
        e @ reel::Error::InvalidEntity { .. } => PyValueError::new_err(e.to_string()),
        e => ReelError::new_err(e.to_string()),
    }
}

/// Appends records to a new recording file.
#[pyclass(module = "reel._native")]
struct Writer {
    inner: Option<reel::Writer<BufWriter<File>>>,
    path: String,
    records: u64,
}

#[pymethods]
impl Writer {
    #[new]
    fn new(path: String) -> PyResult<Self> {
        let file = File::create(&path).map_err(|e| PyOSError::new_err(format!("cannot create {path}: {e}")))?;
        let inner = reel::Writer::new(BufWriter::new(file)).map_err(to_py)?;
        Ok(Writer { inner: Some(inner), path, records: 0 })
    }

    fn log_scalar(&mut self, timestamp_ns: i64, entity: &str, value: f64) -> PyResult<()> {
        self.open()?.log_scalar(timestamp_ns, entity, value).map_err(to_py)?;
        self.records += 1;
        Ok(())
    }

    fn log_text(&mut self, timestamp_ns: i64, entity: &str, text: &str) -> PyResult<()> {
        self.open()?.log_text(timestamp_ns, entity, text).map_err(to_py)?;
        self.records += 1;
        Ok(())
    }

    /// Flushes and closes the file. Closing twice is allowed.
    fn close(&mut self) -> PyResult<()> {
        match self.inner.take() {
            Some(w) => w.finish().map(drop).map_err(to_py),
            None => Ok(()),
        }
    }

    #[getter]
    fn records(&self) -> u64 {
        self.records
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_none()
    }

    #[getter]
    fn path(&self) -> &str {
        &self.path
    }
}

impl Writer {
    fn open(&mut self) -> PyResult<&mut reel::Writer<BufWriter<File>>> {
        self.inner.as_mut().ok_or_else(|| PyValueError::new_err(format!("recording {} is closed", self.path)))
    }
}

#[derive(IntoPyObject)]
enum Value {
    Scalar(f64),
    Text(String),
}

/// Reads every record of a recording as `(timestamp_ns, entity, value)` tuples.
#[pyfunction]
fn read(py: Python<'_>, path: &str) -> PyResult<Vec<(i64, String, Value)>> {
    let records = py.detach(|| {
        let file = File::open(path).map_err(reel::Error::Io)?;
        reel::read_all(BufReader::new(file))
    });
    let records = records.map_err(|e| match e {
        reel::Error::Io(io) => PyOSError::new_err(format!("cannot read {path}: {io}")),
        e => to_py(e),
    })?;
    Ok(records
        .into_iter()
        .map(|r| {
            let value = match r.payload {
                reel::Payload::Scalar(v) => Value::Scalar(v),
                reel::Payload::Text(t) => Value::Text(t),
            };
            (r.timestamp_ns, r.entity, value)
        })
        .collect())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ReelError", m.py().get_type::<ReelError>())?;
    m.add_class::<Writer>()?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    Ok(())
}
