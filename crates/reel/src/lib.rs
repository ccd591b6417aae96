//! Write and read `.reel` recordings.
//!
//! # Format (version 2, all integers little-endian)
//!
//! ```text
//! header:  b"REEL"  u16 format version  u16 flags (0)
//! record:  u32 body length  body  u32 CRC-32 (IEEE) of body
//! body:    i64 timestamp (ns)  u16 path length  path (UTF-8)  u8 kind  payload
//!          kind 0: f64 scalar;  kind 1: UTF-8 text (the rest of the body)
//! end:     u32 0  u64 record count  u32 CRC-32 of the count's 8 bytes   (written by Writer::finish)
//! ```
//!
//! The reader checks every record's length and checksum, and that the file ends with the end marker, so a
//! truncated or corrupted file is detected even when it was cut exactly between two records (a writer that
//! crashed, an interrupted copy); every error names the byte offset where reading stopped. Version 1 files
//! (no end marker) are still read; for them a cut between records cannot be told from the end.
//!
//! # Example
//!
//! ```
//! use reel::{Payload, Writer, read_all};
//!
//! let mut w = Writer::new(Vec::new())?;
//! w.log_scalar(1_000, "robot/arm/angle", 0.5)?;
//! w.log_text(2_000, "robot/log", "gripper closed")?;
//! let bytes = w.finish()?;
//!
//! let records = read_all(bytes.as_slice())?;
//! assert_eq!(records.len(), 2);
//! assert_eq!(records[0].entity, "robot/arm/angle");
//! assert_eq!(records[1].payload, Payload::Text("gripper closed".into()));
//!
//! // A recording cut short is refused, naming where reading stopped.
//! assert!(read_all(&bytes[..bytes.len() - 1]).is_err());
//! # Ok::<(), reel::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};

mod crc32;
mod summary;

pub use crc32::crc32;
pub use summary::{EntitySummary, summarize};

/// The four bytes every recording starts with.
pub const MAGIC: [u8; 4] = *b"REEL";
/// The format version this crate writes.
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format version this crate reads (version 1 has no end marker).
pub const OLDEST_READ_VERSION: u16 = 1;
/// Size of the end marker: a zero length, the record count and its CRC-32.
pub const END_LEN: u64 = 4 + 8 + 4;
/// Size of the file header in bytes.
pub const HEADER_LEN: u64 = 8;
/// Largest record body accepted; a larger length prefix means the file is corrupt.
pub const MAX_RECORD_LEN: u32 = 16 << 20;

const KIND_SCALAR: u8 = 0;
const KIND_TEXT: u8 = 1;
// timestamp + path length + kind
const FIXED_BODY_LEN: usize = 8 + 2 + 1;

/// What a record carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Scalar(f64),
    Text(String),
}

/// One timestamped value logged to one entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Nanoseconds since an epoch of the writer's choosing (usually the Unix epoch).
    pub timestamp_ns: i64,
    /// A `/`-separated path such as `sensor/temp`.
    pub entity: String,
    pub payload: Payload,
}

/// Everything that can go wrong writing or reading a recording.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The file does not start with `REEL`.
    BadMagic {
        found: Vec<u8>,
    },
    /// The file was written by a format version this crate does not read.
    UnsupportedVersion {
        found: u16,
    },
    /// The file ends in the middle of the header or of a record.
    Truncated {
        offset: u64,
        needed: u64,
        available: u64,
    },
    /// A record's bytes do not match its checksum.
    ChecksumMismatch {
        offset: u64,
        expected: u32,
        actual: u32,
    },
    /// The file ends between two records without the end marker: its writer did not finish, or it was cut.
    Unfinished {
        offset: u64,
        records: u64,
    },
    /// A record's structure is invalid (bad length, unknown kind, invalid UTF-8...).
    Malformed {
        offset: u64,
        reason: String,
    },
    /// The writer was given an entity path it cannot store.
    InvalidEntity {
        entity: String,
        reason: &'static str,
    },
}

impl Error {
    /// The byte offset of the record (or header) where reading failed, if the error is about the file's content.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::BadMagic { .. } | Error::UnsupportedVersion { .. } => Some(0),
            Error::Truncated { offset, .. }
            | Error::ChecksumMismatch { offset, .. }
            | Error::Malformed { offset, .. }
            | Error::Unfinished { offset, .. } => Some(*offset),
            Error::Io(_) | Error::InvalidEntity { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::BadMagic { found } => {
                write!(f, "not a reel recording: the file starts with {found:02x?}, expected \"REEL\" (byte offset 0)")
            }
            Error::UnsupportedVersion { found } => write!(
                f,
                "unsupported reel format version {found} (this reader supports versions {OLDEST_READ_VERSION} to {FORMAT_VERSION}) at byte offset 4"
            ),
            Error::Truncated { offset, needed, available } => write!(
                f,
                "truncated recording: the record at byte offset {offset} needs {needed} bytes but only {available} remain"
            ),
            Error::ChecksumMismatch { offset, expected, actual } => write!(
                f,
                "corrupted record at byte offset {offset}: checksum {actual:#010x} does not match the stored {expected:#010x}"
            ),
            Error::Unfinished { offset, records } => write!(
                f,
                "unfinished recording: it ends at byte offset {offset} after {records} records without the end marker \
                 (its writer did not finish, or the file was cut between two records)"
            ),
            Error::Malformed { offset, reason } => {
                write!(f, "malformed record at byte offset {offset}: {reason}")
            }
            Error::InvalidEntity { entity, reason } => {
                write!(f, "invalid entity path {entity:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `entity` is a path the format can store: non-empty, at most 65535 bytes, `/`-separated
/// non-empty components.
pub fn validate_entity(entity: &str) -> Result<()> {
    let reason = if entity.is_empty() {
        "it is empty"
    } else if entity.len() > usize::from(u16::MAX) {
        "it is longer than 65535 bytes"
    } else if entity.split('/').any(str::is_empty) {
        "it has an empty component (leading, trailing or doubled '/')"
    } else if entity.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::InvalidEntity { entity: entity.to_owned(), reason })
}

/// Writes a recording: the header on creation, then one record per `log_*` call.
pub struct Writer<W: Write> {
    out: W,
    body: Vec<u8>,
    records: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the header and returns a writer ready for records.
    pub fn new(mut out: W) -> Result<Self> {
        out.write_all(&MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&0u16.to_le_bytes())?;
        Ok(Writer { out, body: Vec::with_capacity(64), records: 0 })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        validate_entity(&record.entity)?;
        let body = &mut self.body;
        body.clear();
        body.extend_from_slice(&record.timestamp_ns.to_le_bytes());
        body.extend_from_slice(&(record.entity.len() as u16).to_le_bytes());
        body.extend_from_slice(record.entity.as_bytes());
        match &record.payload {
            Payload::Scalar(v) => {
                body.push(KIND_SCALAR);
                body.extend_from_slice(&v.to_le_bytes());
            }
            Payload::Text(t) => {
                body.push(KIND_TEXT);
                body.extend_from_slice(t.as_bytes());
            }
        }
        let len = u32::try_from(body.len()).ok().filter(|&len| len <= MAX_RECORD_LEN).ok_or_else(|| {
            Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("record of {} bytes exceeds the {MAX_RECORD_LEN}-byte limit", body.len()),
            ))
        })?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(body)?;
        self.out.write_all(&crc32(body).to_le_bytes())?;
        self.records += 1;
        Ok(())
    }

    /// Appends a scalar record.
    pub fn log_scalar(&mut self, timestamp_ns: i64, entity: &str, value: f64) -> Result<()> {
        self.write(&Record { timestamp_ns, entity: entity.to_owned(), payload: Payload::Scalar(value) })
    }

    /// Appends a text record.
    pub fn log_text(&mut self, timestamp_ns: i64, entity: &str, text: &str) -> Result<()> {
        self.write(&Record { timestamp_ns, entity: entity.to_owned(), payload: Payload::Text(text.to_owned()) })
    }

    /// How many records were written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end marker, flushes and returns the underlying writer. A recording whose writer never
    /// finished reads as [`Error::Unfinished`] after its last record.
    pub fn finish(mut self) -> Result<W> {
        let count = self.records.to_le_bytes();
        self.out.write_all(&0u32.to_le_bytes())?;
        self.out.write_all(&count)?;
        self.out.write_all(&crc32(&count).to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a recording record by record. Iteration stops after the first error.
pub struct Reader<R: Read> {
    input: R,
    offset: u64,
    /// Reading ended: after an error, or at the end marker.
    done: bool,
    buf: Vec<u8>,
    version: u16,
    records: u64,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self> {
        let mut header = [0u8; HEADER_LEN as usize];
        let got = read_full(&mut input, &mut header)?;
        let magic_len = got.min(MAGIC.len());
        if header[..magic_len] != MAGIC[..magic_len] {
            return Err(Error::BadMagic { found: header[..magic_len].to_vec() });
        }
        if got < header.len() {
            return Err(Error::Truncated { offset: 0, needed: HEADER_LEN, available: got as u64 });
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion { found: version });
        }
        Ok(Reader { input, offset: HEADER_LEN, done: false, buf: Vec::new(), version, records: 0 })
    }

    /// The byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        let start = self.offset;
        let mut len_bytes = [0u8; 4];
        let got = read_full(&mut self.input, &mut len_bytes)?;
        if got == 0 {
            if self.version == 1 {
                return Ok(None);
            }
            return Err(Error::Unfinished { offset: start, records: self.records });
        }
        if got < 4 {
            return Err(Error::Truncated { offset: start, needed: 4, available: got as u64 });
        }
        let len = u32::from_le_bytes(len_bytes);
        if len == 0 && self.version >= 2 {
            return self.end_marker(start).map(|()| None);
        }
        if len > MAX_RECORD_LEN || (len as usize) < FIXED_BODY_LEN {
            return Err(Error::Malformed {
                offset: start,
                reason: format!("record length {len} is outside the valid range {FIXED_BODY_LEN}..={MAX_RECORD_LEN}"),
            });
        }
        let total = len as usize + 4;
        self.buf.resize(total, 0);
        let got = read_full(&mut self.input, &mut self.buf)?;
        if got < total {
            return Err(Error::Truncated { offset: start, needed: 4 + total as u64, available: 4 + got as u64 });
        }
        let (body, crc) = self.buf.split_at(len as usize);
        let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let actual = crc32(body);
        if expected != actual {
            return Err(Error::ChecksumMismatch { offset: start, expected, actual });
        }
        let record = decode_body(body).map_err(|reason| Error::Malformed { offset: start, reason })?;
        self.offset += 4 + total as u64;
        self.records += 1;
        Ok(Some(record))
    }

    /// Checks the end marker at `start` (its zero length already read) and that nothing follows it.
    fn end_marker(&mut self, start: u64) -> Result<()> {
        let mut rest = [0u8; 12];
        let got = read_full(&mut self.input, &mut rest)?;
        if got < rest.len() {
            return Err(Error::Truncated { offset: start, needed: END_LEN, available: 4 + got as u64 });
        }
        let (count, crc) = rest.split_at(8);
        let expected = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        let actual = crc32(count);
        if expected != actual {
            return Err(Error::ChecksumMismatch { offset: start, expected, actual });
        }
        let count = u64::from_le_bytes(count.try_into().expect("8 bytes"));
        if count != self.records {
            return Err(Error::Malformed {
                offset: start,
                reason: format!("the end marker counts {count} records, the file has {}", self.records),
            });
        }
        let mut extra = [0u8; 1];
        if read_full(&mut self.input, &mut extra)? > 0 {
            return Err(Error::Malformed { offset: start + END_LEN, reason: "bytes follow the end marker".to_owned() });
        }
        self.offset += END_LEN;
        Ok(())
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_record().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

fn decode_body(body: &[u8]) -> Result<Record, String> {
    let timestamp_ns = i64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
    let path_len = usize::from(u16::from_le_bytes([body[8], body[9]]));
    let rest = &body[10..];
    if rest.len() < path_len + 1 {
        return Err(format!("entity path length {path_len} runs past the end of the record"));
    }
    let entity =
        std::str::from_utf8(&rest[..path_len]).map_err(|_| "entity path is not valid UTF-8".to_owned())?.to_owned();
    validate_entity(&entity).map_err(|e| e.to_string())?;
    let payload = &rest[path_len + 1..];
    let payload = match rest[path_len] {
        KIND_SCALAR => {
            let bytes: [u8; 8] =
                payload.try_into().map_err(|_| format!("a scalar needs 8 payload bytes, found {}", payload.len()))?;
            Payload::Scalar(f64::from_le_bytes(bytes))
        }
        KIND_TEXT => Payload::Text(
            String::from_utf8(payload.to_vec()).map_err(|_| "text payload is not valid UTF-8".to_owned())?,
        ),
        kind => return Err(format!("unknown payload kind {kind}")),
    };
    Ok(Record { timestamp_ns, entity, payload })
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads a whole recording, failing on the first bad record.
pub fn read_all(input: impl Read) -> Result<Vec<Record>> {
    Reader::new(input)?.collect()
}

#[cfg(test)]
mod tests;
