use super::*;

fn sample() -> Vec<Record> {
    vec![
        Record { timestamp_ns: 0, entity: "sensor/temp".into(), payload: Payload::Scalar(21.5) },
        Record { timestamp_ns: 1_000, entity: "log".into(), payload: Payload::Text("héllo\nworld".into()) },
        Record { timestamp_ns: -5, entity: "sensor/temp".into(), payload: Payload::Scalar(f64::NEG_INFINITY) },
        Record { timestamp_ns: i64::MAX, entity: "a/b/c".into(), payload: Payload::Text(String::new()) },
    ]
}

fn encode(records: &[Record]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new()).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    assert_eq!(w.records(), records.len() as u64);
    w.finish().unwrap()
}

/// Offsets of each record in `encode(records)`, then of the end marker.
fn offsets(bytes: &[u8]) -> Vec<u64> {
    let mut out = vec![];
    let mut at = HEADER_LEN as usize;
    while at < bytes.len() {
        out.push(at as u64);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 4 + len + 4;
    }
    out
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn round_trip() {
    let records = sample();
    let bytes = encode(&records);
    assert_eq!(&bytes[..4], b"REEL");
    assert_eq!(read_all(&bytes[..]).unwrap(), records);
}

#[test]
fn nan_round_trips_bit_for_bit() {
    let bytes = encode(&[Record { timestamp_ns: 1, entity: "x".into(), payload: Payload::Scalar(f64::NAN) }]);
    match &read_all(&bytes[..]).unwrap()[0].payload {
        Payload::Scalar(v) => assert!(v.is_nan()),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

#[test]
fn empty_recording_has_no_records() {
    let bytes = encode(&[]);
    assert_eq!(bytes.len() as u64, HEADER_LEN + END_LEN);
    assert!(read_all(&bytes[..]).unwrap().is_empty());
}

#[test]
fn every_truncation_is_detected_at_the_right_offset() {
    let bytes = encode(&sample());
    let starts = offsets(&bytes);
    assert_eq!(read_all(&bytes[..]).unwrap().len(), 4);
    for cut in 0..bytes.len() {
        let result = read_all(&bytes[..cut]);
        if let Some(n) = starts.iter().position(|&s| s == cut as u64) {
            // Cut exactly between records: the end marker is missing, and that is reported too.
            let err = result.expect_err(&format!("cut at {cut} must fail"));
            assert!(matches!(err, Error::Unfinished { records, .. } if records == n as u64), "cut at {cut}: {err}");
            assert_eq!(err.offset(), Some(cut as u64));
            assert!(err.to_string().contains(&format!("byte offset {cut} after {n} records")), "{err}");
            continue;
        }
        let err = result.expect_err(&format!("cut at {cut} must fail"));
        let expected_offset = starts.iter().rev().find(|&&s| s <= cut as u64).copied().unwrap_or(0);
        assert!(matches!(err, Error::Truncated { .. }), "cut at {cut}: {err}");
        assert_eq!(err.offset(), Some(expected_offset), "cut at {cut}: {err}");
        assert!(err.to_string().contains(&format!("byte offset {expected_offset}")), "{err}");
    }
}

#[test]
fn version_1_files_without_an_end_marker_are_still_read() {
    let mut bytes = encode(&sample());
    bytes.truncate(bytes.len() - END_LEN as usize);
    bytes[4..6].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(read_all(&bytes[..]).unwrap(), sample());
    // For them a cut between records cannot be told from the end.
    let starts = offsets(&bytes);
    assert_eq!(read_all(&bytes[..starts[2] as usize]).unwrap().len(), 2);
}

#[test]
fn the_end_marker_is_checked() {
    let bytes = encode(&sample());
    let end = *offsets(&bytes).last().unwrap();
    let mut extra = bytes.clone();
    extra.push(0);
    let err = read_all(&extra[..]).unwrap_err();
    assert!(err.to_string().contains("bytes follow the end marker"), "{err}");
    // A marker that counts other records than the file has (a record cut out of the middle).
    let mut w = Writer::new(Vec::new()).unwrap();
    w.write(&sample()[0]).unwrap();
    let one = w.finish().unwrap();
    let mut spliced = bytes[..end as usize].to_vec();
    spliced.extend_from_slice(&one[one.len() - END_LEN as usize..]);
    let err = read_all(&spliced[..]).unwrap_err();
    assert!(err.to_string().contains("the end marker counts 1 records, the file has 4"), "{err}");
    assert_eq!(err.offset(), Some(end));
}

#[test]
fn every_single_bit_flip_in_a_record_is_detected() {
    let bytes = encode(&sample());
    let starts = offsets(&bytes);
    for at in HEADER_LEN as usize..bytes.len() {
        for bit in [0, 3, 7] {
            let mut bad = bytes.clone();
            bad[at] ^= 1 << bit;
            let err = read_all(&bad[..]).expect_err(&format!("flip at {at} bit {bit} must fail"));
            let record = starts.iter().rev().find(|&&s| s <= at as u64).copied().unwrap();
            // A flipped length byte may make the record look longer than the file (truncated) or shorter
            // (checksum over the wrong bytes), but the error always points at the damaged record.
            assert_eq!(err.offset(), Some(record), "flip at {at}: {err}");
        }
    }
}

#[test]
fn bad_header_is_reported() {
    let err = read_all(&b"PNG\x89aaaa"[..]).unwrap_err();
    assert!(matches!(err, Error::BadMagic { .. }), "{err}");
    assert!(err.to_string().contains("not a reel recording"));

    let mut v3 = encode(&[]);
    v3[4] = 3;
    let err = read_all(&v3[..]).unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion { found: 3 }), "{err}");

    let err = read_all(&b"RE"[..]).unwrap_err();
    assert!(matches!(err, Error::Truncated { offset: 0, .. }), "{err}");
    let err = read_all(&b""[..]).unwrap_err();
    assert!(matches!(err, Error::Truncated { offset: 0, .. }), "{err}");
}

#[test]
fn absurd_length_is_malformed_not_an_allocation() {
    let mut bytes = encode(&[])[..HEADER_LEN as usize].to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    let err = read_all(&bytes[..]).unwrap_err();
    assert!(matches!(err, Error::Malformed { offset: 8, .. }), "{err}");
}

#[test]
fn unknown_kind_with_valid_checksum_is_malformed() {
    let mut body = Vec::new();
    body.extend_from_slice(&0i64.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(b"x");
    body.push(9);
    let mut bytes = encode(&[])[..HEADER_LEN as usize].to_vec();
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32(&body).to_le_bytes());
    let err = read_all(&bytes[..]).unwrap_err();
    assert!(err.to_string().contains("unknown payload kind 9"), "{err}");
}

#[test]
fn invalid_entities_are_refused_by_the_writer() {
    for bad in ["", "/a", "a/", "a//b", "a\nb"] {
        let mut w = Writer::new(Vec::new()).unwrap();
        let err = w.log_scalar(0, bad, 1.0).unwrap_err();
        assert!(matches!(err, Error::InvalidEntity { .. }), "{bad:?}: {err}");
        assert_eq!(w.records(), 0);
    }
    let long = "x".repeat(70_000);
    assert!(validate_entity(&long).is_err());
}

#[test]
fn iteration_stops_after_the_first_error() {
    let mut bytes = encode(&sample());
    let last = bytes.len() - END_LEN as usize - 1; // the last record's checksum
    bytes[last] ^= 0xFF;
    let items: Vec<_> = Reader::new(&bytes[..]).unwrap().collect();
    assert_eq!(items.len(), sample().len());
    assert!(items[..3].iter().all(Result::is_ok));
    assert!(items[3].is_err());
}

#[test]
fn summary_per_entity() {
    let s = summarize(&sample());
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].entity, "sensor/temp");
    assert_eq!((s[0].records, s[0].scalars, s[0].texts), (2, 2, 0));
    assert_eq!((s[0].first_ns, s[0].last_ns), (-5, 0));
    assert_eq!(s[0].min, Some(f64::NEG_INFINITY));
    assert_eq!(s[0].max, Some(21.5));
    assert_eq!((s[1].entity.as_str(), s[1].texts, s[1].min), ("log", 1, None));
}

#[test]
fn summary_ignores_nan_for_min_and_max() {
    let rec = |v| Record { timestamp_ns: 0, entity: "n".into(), payload: Payload::Scalar(v) };
    let s = summarize(&[rec(f64::NAN), rec(2.0), rec(f64::NAN), rec(-1.0)]);
    assert_eq!((s[0].scalars, s[0].min, s[0].max), (4, Some(-1.0), Some(2.0)));
    let s = summarize(&[rec(f64::NAN)]);
    assert_eq!((s[0].scalars, s[0].min, s[0].max), (1, None, None));
}
