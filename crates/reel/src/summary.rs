use std::collections::HashMap;

use crate::{Payload, Record};

/// What a recording holds for one entity.
#[derive(Clone, Debug, PartialEq)]
pub struct EntitySummary {
    pub entity: String,
    pub records: u64,
    pub scalars: u64,
    pub texts: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Smallest and largest scalar, ignoring NaN; `None` if the entity has no non-NaN scalars.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One summary per entity, in order of first appearance.
pub fn summarize(records: &[Record]) -> Vec<EntitySummary> {
    let mut out: Vec<EntitySummary> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in records {
        let idx = match index.get(r.entity.as_str()) {
            Some(&i) => i,
            None => {
                index.insert(&r.entity, out.len());
                out.push(EntitySummary {
                    entity: r.entity.clone(),
                    records: 0,
                    scalars: 0,
                    texts: 0,
                    first_ns: r.timestamp_ns,
                    last_ns: r.timestamp_ns,
                    min: None,
                    max: None,
                });
                out.len() - 1
            }
        };
        let s = &mut out[idx];
        s.records += 1;
        s.first_ns = s.first_ns.min(r.timestamp_ns);
        s.last_ns = s.last_ns.max(r.timestamp_ns);
        match r.payload {
            Payload::Scalar(v) => {
                s.scalars += 1;
                if v.is_nan() {
                    continue;
                }
                s.min = Some(s.min.map_or(v, |m| m.min(v)));
                s.max = Some(s.max.map_or(v, |m| m.max(v)));
            }
            Payload::Text(_) => s.texts += 1,
        }
    }
    out
}
