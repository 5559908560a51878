//! Azure Monitor metrics responses (`arm.eventhub.metrics`): each namespace's hourly totals of
//! messages in and out, throttled requests and bytes, per hub and for the namespace.
//!
//! They are most of a large tenant's evidence (70 % of a 6,000-namespace bundle's bytes), so a
//! page is read straight from its bytes into the few values used here ([`read`]), on the
//! reading threads, instead of into a JSON tree of every key. That typed reading takes only the
//! shape Microsoft documents, each value of the type it documents: anything else (an array
//! where an object is due, a field spelt in another case, which the JSON reading matches
//! case-insensitively, a duplicated key, a number given as a string) makes it decline, and the
//! body is then parsed as JSON and read by [`from_json`] with the normaliser's lenient rules.
//! Both build the same [`Response`] (each value already as the totals read it) and go through
//! one [`totals`], so they cannot disagree on what a page says.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::model::{MetricHour, Metrics};
use super::raw;

/// Totals of each metric, per entity (hub, lower-cased) and for the whole namespace.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct MetricTotals {
    pub namespace: Metrics,
    pub by_entity: BTreeMap<String, Metrics>,
    /// How many metrics the response lists (its `value` array).
    pub listed: usize,
}

/// Reads a metrics page straight from its bytes, or `None` when the typed reading cannot take
/// it exactly as the JSON reading would (then [`from_json`] reads the parsed body).
pub fn read(bytes: &[u8]) -> Option<MetricTotals> {
    typed(bytes).map(|r| totals(&r))
}

/// The typed reading of a page, or `None` when it declines.
fn typed(bytes: &[u8]) -> Option<Response<'_>> {
    serde_json::from_slice::<Response>(bytes).ok()
}

/// Reads a parsed metrics page with the normaliser's lenient rules (keys matched in any case,
/// numbers and strings taken for each other, other types read as absent).
pub fn from_json(body: &Value) -> MetricTotals {
    totals(&Response::lenient(body))
}

/// One entry of a batched read's `values` (metrics:getBatch): a metrics response whose window
/// is given as `starttime` and `endtime` instead of `timespan` (MetricBatchExample.json,
/// api-version 2023-10-01), shown as `start/end` like the per-resource response's.
pub fn from_batch_entry(entry: &Value) -> MetricTotals {
    let mut t = from_json(entry);
    if t.namespace.timespan.is_none() {
        let text = |k: &str| raw::s(entry, &[k]);
        if let (Some(a), Some(b)) = (text("starttime"), text("endtime")) {
            let span = Some(format!("{a}/{b}"));
            t.namespace.timespan = span.clone();
            for m in t.by_entity.values_mut() {
                m.timespan = span.clone();
            }
        }
    }
    t
}

/// A value the totals read as text: a non-empty string, or a number or boolean as text (as
/// [`raw::as_s`] reads a JSON value); strings borrowed from the body wherever they need no
/// unescaping (a large tenant's pages hold millions of timestamps).
type Text<'a> = Option<Cow<'a, str>>;

/// What the totals use of a metrics response (`timespan`, and each metric of `value`).
#[derive(Default, Debug, PartialEq)]
struct Response<'a> {
    timespan: Text<'a>,
    value: Vec<Metric<'a>>,
}

/// One metric: `name.value`, `errorCode`, `errorMessage` and its `timeseries`.
#[derive(Default, Debug, PartialEq)]
struct Metric<'a> {
    name: Text<'a>,
    error_code: Text<'a>,
    error_message: Text<'a>,
    timeseries: Vec<Series<'a>>,
}

/// One series: the value of its first `EntityName` dimension (`metadatavalues`), and its data.
#[derive(Default, Debug, PartialEq)]
struct Series<'a> {
    entity: Text<'a>,
    data: Vec<Point<'a>>,
}

/// One data point: `timeStamp` and `total` (a slot without data omits `total`).
#[derive(Default, Debug, PartialEq)]
struct Point<'a> {
    time_stamp: Text<'a>,
    total: Option<f64>,
}

/// The dimension that names a hub.
const ENTITY: &str = "EntityName";

/// The JSON keys each typed object reads, as spelt in the response: a key that matches one
/// of them only in another case makes the typed reading decline.
const RESPONSE: &[&str] = &["timespan", "value"];
const METRIC: &[&str] = &["name", "errorCode", "errorMessage", "timeseries"];
const SERIES: &[&str] = &["metadatavalues", "data"];
const METADATA: &[&str] = &["name", "value"];
const NAMED: &[&str] = &["value"];
const POINT: &[&str] = &["timeStamp", "total"];

impl<'a> Response<'a> {
    /// The same values read from a JSON tree with the lenient rules, borrowing its strings.
    fn lenient(v: &'a Value) -> Self {
        Response {
            timespan: text_of(v, "timespan"),
            value: elements(v, "value")
                .map(|m| Metric {
                    name: named(m, "name"),
                    error_code: text_of(m, "errorCode"),
                    error_message: text_of(m, "errorMessage"),
                    timeseries: elements(m, "timeseries")
                        .map(|s| Series {
                            entity: entity(elements(s, "metadatavalues").map(|md| Metadata {
                                name: named(md, "name"),
                                value: text_of(md, "value"),
                            })),
                            data: elements(s, "data")
                                .map(|d| Point {
                                    time_stamp: text_of(d, "timeStamp"),
                                    total: raw::field(d, "total").and_then(raw::as_n),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A field read as text ([`Text`]); the body's strings are capped already.
fn text_of<'a>(v: &'a Value, key: &str) -> Text<'a> {
    match raw::field(v, key)? {
        Value::String(x) if !x.is_empty() => Some(Cow::Borrowed(x)),
        other => raw::as_s(other).map(Cow::Owned),
    }
}

/// The text of `value` in a field that is an object (`name: {value, localizedValue}`).
fn named<'a>(v: &'a Value, key: &str) -> Text<'a> {
    raw::field(v, key)
        .filter(|x| x.is_object())
        .and_then(|x| text_of(x, "value"))
}

/// The elements of a field that is an array (none otherwise); an element that is not an
/// object reads as one without fields.
fn elements<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    match raw::field(v, key) {
        Some(Value::Array(a)) => a.iter(),
        _ => [].iter(),
    }
}

/// Walks a typed object's keys: `read(i, map)` reads the value of `fields[i]`, given at most
/// once; other keys are skipped, unless one matches a field only in another case.
fn each_field<'de, M: MapAccess<'de>>(
    map: &mut M,
    fields: &[&str],
    mut read: impl FnMut(usize, &mut M) -> Result<(), M::Error>,
) -> Result<(), M::Error> {
    let mut seen = 0u32;
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        match fields.iter().position(|f| *f == key) {
            Some(i) => {
                if seen & (1 << i) != 0 {
                    return Err(de::Error::custom(format!("key {key:?} given twice")));
                }
                seen |= 1 << i;
                read(i, map)?;
            }
            None if fields.iter().any(|f| f.eq_ignore_ascii_case(&key)) => {
                return Err(de::Error::custom(format!("key {key:?} in another case")));
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// A map key, borrowed from the bytes when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_string().into()))
            }
        }
        d.deserialize_str(K)
    }
}

/// A typed object read from the bytes; declines (errs) on anything but a JSON object.
trait Typed<'de>: Default {
    const FIELDS: &'static [&'static str];
    /// Reads the value of `FIELDS[i]`.
    fn field<M: MapAccess<'de>>(&mut self, i: usize, map: &mut M) -> Result<(), M::Error>;
    /// Whether the object has what the typed reading needs of it.
    fn whole(&self) -> bool {
        true
    }
}

/// Reads a [`Typed`] object through its map visitor.
struct ObjectOf<T>(PhantomData<T>);

impl<'de, T: Typed<'de>> Visitor<'de> for ObjectOf<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<T, M::Error> {
        let mut t = T::default();
        each_field(&mut map, T::FIELDS, |i, map| t.field(i, map))?;
        if t.whole() {
            Ok(t)
        } else {
            Err(de::Error::custom("a required field is absent or null"))
        }
    }
}

/// A typed object that must be a JSON object.
struct Obj<T>(T);

impl<'de, T: Typed<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectOf(PhantomData)).map(Obj)
    }
}

/// An array of typed objects, or null (`None`), the JSON reading's "no list".
struct List<T>(Option<Vec<T>>);

impl<'de, T: Typed<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct L<T>(PhantomData<T>);
        impl<'de, T: Typed<'de>> Visitor<'de> for L<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of objects, or null")
            }
            fn visit_unit<E>(self) -> Result<List<T>, E> {
                Ok(List(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Obj(t)) = seq.next_element::<Obj<T>>()? {
                    out.push(t);
                }
                Ok(List(Some(out)))
            }
        }
        d.deserialize_any(L(PhantomData))
    }
}

/// A typed object, or null.
struct Nullable<T>(Option<T>);

impl<'de, T: Typed<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct N<T>(PhantomData<T>);
        impl<'de, T: Typed<'de>> Visitor<'de> for N<T> {
            type Value = Nullable<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object, or null")
            }
            fn visit_unit<E>(self) -> Result<Nullable<T>, E> {
                Ok(Nullable(None))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Nullable<T>, M::Error> {
                ObjectOf::<T>(PhantomData)
                    .visit_map(map)
                    .map(|t| Nullable(Some(t)))
            }
        }
        d.deserialize_any(N(PhantomData))
    }
}

/// A string (capped as [`crate::evidence::cap_strings`] caps a body's), or null; the typed
/// reading declines any other value where Microsoft documents a string.
struct Str<'a>(Text<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct S<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for S<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str::capped(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str::capped(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str::capped(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
        }
        d.deserialize_any(S(PhantomData))
    }
}

impl<'a> Str<'a> {
    fn capped(s: Cow<'a, str>) -> Self {
        let max = crate::evidence::MAX_STRING_BYTES;
        Str(if s.is_empty() {
            None
        } else if s.len() > max {
            Some(Cow::Owned(crate::evidence::truncate_marked(&s, max)))
        } else {
            Some(s)
        })
    }
}

/// A number, or null; the typed reading declines any other value where Microsoft documents
/// a number.
struct Num(Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct N;
        impl<'de> Visitor<'de> for N {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or null")
            }
            // As serde_json's `Number::as_f64` reads each.
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(Some(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_unit<E>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
        }
        d.deserialize_any(N)
    }
}

impl<'de> Deserialize<'de> for Response<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Obj::<Whole<'de>>::deserialize(d).map(|Obj(w)| w.0)
    }
}

/// A response as read from the bytes, whose `value` must be an array.
#[derive(Default)]
struct Whole<'a>(Response<'a>, bool);

impl<'de> Typed<'de> for Whole<'de> {
    const FIELDS: &'static [&'static str] = RESPONSE;
    fn field<M: MapAccess<'de>>(&mut self, i: usize, map: &mut M) -> Result<(), M::Error> {
        match i {
            0 => self.0.timespan = map.next_value::<Str>()?.0,
            _ => {
                let List(v) = map.next_value::<List<Metric>>()?;
                self.1 = v.is_some();
                self.0.value = v.unwrap_or_default();
            }
        }
        Ok(())
    }
    fn whole(&self) -> bool {
        self.1
    }
}

impl<'de> Typed<'de> for Metric<'de> {
    const FIELDS: &'static [&'static str] = METRIC;
    fn field<M: MapAccess<'de>>(&mut self, i: usize, map: &mut M) -> Result<(), M::Error> {
        match i {
            0 => self.name = map.next_value::<Nullable<Named>>()?.0.and_then(|n| n.0),
            1 => self.error_code = map.next_value::<Str>()?.0,
            2 => self.error_message = map.next_value::<Str>()?.0,
            _ => self.timeseries = map.next_value::<List<Series>>()?.0.unwrap_or_default(),
        }
        Ok(())
    }
}

impl<'de> Typed<'de> for Series<'de> {
    const FIELDS: &'static [&'static str] = SERIES;
    fn field<M: MapAccess<'de>>(&mut self, i: usize, map: &mut M) -> Result<(), M::Error> {
        match i {
            0 => {
                let List(md) = map.next_value::<List<Metadata>>()?;
                self.entity = entity(md.unwrap_or_default());
            }
            _ => self.data = map.next_value::<List<Point>>()?.0.unwrap_or_default(),
        }
        Ok(())
    }
}

/// One dimension of a series (`metadatavalues[]`): `name.value` and `value`.
#[derive(Default)]
struct Metadata<'a> {
    name: Text<'a>,
    value: Text<'a>,
}

impl<'de> Typed<'de> for Metadata<'de> {
    const FIELDS: &'static [&'static str] = METADATA;
    fn field<M: MapAccess<'de>>(&mut self, i: usize, map: &mut M) -> Result<(), M::Error> {
        match i {
            0 => self.name = map.next_value::<Nullable<Named>>()?.0.and_then(|n| n.0),
            _ => self.value = map.next_value::<Str>()?.0,
        }
        Ok(())
    }
}

/// The hub a series is about: the value of its first `EntityName` dimension, however either
/// reading found the dimensions.
fn entity<'a>(dimensions: impl IntoIterator<Item = Metadata<'a>>) -> Text<'a> {
    dimensions
        .into_iter()
        .find(|d| {
            d.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(ENTITY))
        })
        .and_then(|d| d.value)
}

/// A `{value, localizedValue}` name: its `value`.
#[derive(Default)]
struct Named<'a>(Text<'a>);

impl<'de> Typed<'de> for Named<'de> {
    const FIELDS: &'static [&'static str] = NAMED;
    fn field<M: MapAccess<'de>>(&mut self, _: usize, map: &mut M) -> Result<(), M::Error> {
        self.0 = map.next_value::<Str>()?.0;
        Ok(())
    }
}

impl<'de> Typed<'de> for Point<'de> {
    const FIELDS: &'static [&'static str] = POINT;
    fn field<M: MapAccess<'de>>(&mut self, i: usize, map: &mut M) -> Result<(), M::Error> {
        match i {
            0 => self.time_stamp = map.next_value::<Str>()?.0,
            _ => self.total = map.next_value::<Num>()?.0,
        }
        Ok(())
    }
}

fn set_metric(m: &mut Metrics, name: &str, value: Option<f64>) {
    match name.to_ascii_lowercase().as_str() {
        "incomingmessages" => m.incoming_messages = value,
        "outgoingmessages" => m.outgoing_messages = value,
        "throttledrequests" => m.throttled_requests = value,
        "incomingbytes" => m.incoming_bytes = value,
        _ => {}
    }
}

fn get_metric(m: &Metrics, name: &str) -> Option<f64> {
    match name.to_ascii_lowercase().as_str() {
        "incomingmessages" => m.incoming_messages,
        "outgoingmessages" => m.outgoing_messages,
        "throttledrequests" => m.throttled_requests,
        "incomingbytes" => m.incoming_bytes,
        _ => None,
    }
}

fn finish_metrics(m: &mut Metrics) {
    m.backlog = match (m.incoming_messages, m.outgoing_messages) {
        (Some(i), Some(o)) => Some(i - o),
        _ => None,
    };
}

/// Hourly totals keyed by timestamp, kept in timestamp order. The series of a response share
/// their timestamps, in order, so the slot a point falls in is nearly always the one after
/// the last point's: that is tried before a search.
#[derive(Default)]
struct Hours(Vec<MetricHour>);

impl Hours {
    /// The slot for `at`, made when it is new; `hint` is where it likely is.
    fn slot(&mut self, at: &str, hint: usize) -> usize {
        if self.0.get(hint).is_some_and(|h| h.at == at) {
            return hint;
        }
        match self.0.binary_search_by(|h| h.at.as_str().cmp(at)) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(
                    i,
                    MetricHour {
                        at: at.to_string(),
                        ..MetricHour::default()
                    },
                );
                i
            }
        }
    }
}

/// Adds a series' hourly totals into `hours` (one slot per timeStamp) for the sparkline
/// metrics.
fn add_hours(hours: &mut Hours, name: &str, series: &Series<'_>) {
    let name = name.to_ascii_lowercase();
    if !matches!(
        name.as_str(),
        "incomingmessages" | "outgoingmessages" | "throttledrequests"
    ) {
        return;
    }
    let mut hint = 0;
    for d in &series.data {
        let Some(at) = d.time_stamp.as_deref() else {
            continue;
        };
        let i = hours.slot(at, hint);
        hint = i + 1;
        let h = &mut hours.0[i];
        let Some(v) = d.total else {
            continue;
        };
        let slot = match name.as_str() {
            "incomingmessages" => &mut h.incoming_messages,
            "outgoingmessages" => &mut h.outgoing_messages,
            _ => &mut h.throttled_requests,
        };
        *slot = Some(slot.unwrap_or(0.0) + v);
    }
}

/// Sums the data points that carry a `total`. Slots without data omit the key; a series where
/// no slot has one carries no figure at all, so its total is unknown, not zero.
fn series_total(series: &Series<'_>) -> Option<f64> {
    let totals: Vec<f64> = series.data.iter().filter_map(|d| d.total).collect();
    (!totals.is_empty()).then(|| totals.iter().sum())
}

fn text(t: &Text<'_>) -> Option<String> {
    t.as_deref().map(str::to_string)
}

/// A response's totals, per hub (the `EntityName` dimension) and for the namespace.
fn totals(body: &Response<'_>) -> MetricTotals {
    let mut t = MetricTotals {
        namespace: Metrics {
            timespan: text(&body.timespan),
            ..Metrics::default()
        },
        by_entity: BTreeMap::new(),
        listed: body.value.len(),
    };
    let mut errors: Vec<String> = Vec::new();
    let mut ns_hours = Hours::default();
    let mut entity_hours: BTreeMap<String, Hours> = BTreeMap::new();
    for m in &body.value {
        let name = m.name.as_deref().unwrap_or_default();
        if let Some(code) = m
            .error_code
            .as_deref()
            .filter(|c| !c.eq_ignore_ascii_case("Success"))
        {
            let msg = m.error_message.as_deref().unwrap_or_default();
            errors.push(format!("{name}: {code} {msg}").trim_end().to_string());
            set_metric(&mut t.namespace, name, None);
            continue;
        }
        let mut total: Option<f64> = None;
        for series in &m.timeseries {
            let entity = series.entity.as_deref().map(str::to_ascii_lowercase);
            let sum = series_total(series);
            add_hours(&mut ns_hours, name, series);
            if let Some(e) = &entity {
                add_hours(entity_hours.entry(e.clone()).or_default(), name, series);
            }
            if let Some(x) = sum {
                total = Some(total.unwrap_or(0.0) + x);
            }
            if let Some(e) = entity {
                let em = t.by_entity.entry(e).or_default();
                let prev = get_metric(em, name);
                set_metric(
                    em,
                    name,
                    match (prev, sum) {
                        (Some(a), Some(b)) => Some(a + b),
                        (a, b) => a.or(b),
                    },
                );
            }
        }
        set_metric(&mut t.namespace, name, total);
    }
    t.namespace.errors = errors.clone();
    t.namespace.hourly = ns_hours.0;
    finish_metrics(&mut t.namespace);
    for (e, m) in t.by_entity.iter_mut() {
        m.timespan = t.namespace.timespan.clone();
        m.errors = errors.clone();
        m.hourly = entity_hours.remove(e).unwrap_or_default().0;
        finish_metrics(m);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// Microsoft's published metrics responses and the demo tenants' bodies read the same
    /// both ways, and the typed reading takes every one of them.
    #[test]
    fn published_and_fixture_responses_read_the_same_typed_and_as_json() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![
            root.join(
                "fixtures/shapes/arm.eventhub.metrics/missing-aggregate-slots-2018-01-01.json",
            ),
            root.join("fixtures/shapes/arm.eventhub.metrics/per-metric-error-2018-01-01.json"),
        ];
        for t in std::fs::read_dir(root.join("fixtures/tenants")).unwrap() {
            let arm = t.unwrap().path().join("raw/arm");
            for f in std::fs::read_dir(&arm).into_iter().flatten() {
                let f = f.unwrap().path();
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("arm.eventhub.metrics") && name.ends_with(".json") {
                    files.push(f);
                }
            }
        }
        assert!(files.len() >= 6, "metrics bodies found: {files:?}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let t = typed(text.as_bytes())
                .unwrap_or_else(|| panic!("{}: typed reading declined", f.display()));
            assert_eq!(t, Response::lenient(&tree(&text)), "{}", f.display());
            assert!(!t.value.is_empty(), "{}", f.display());
            assert_eq!(
                read(text.as_bytes()),
                Some(from_json(&tree(&text))),
                "{}",
                f.display()
            );
        }
    }

    /// Bodies the typed reading must not take, because the JSON reading sees them otherwise
    /// or because a value is not of the type Microsoft documents: it declines, and the
    /// lenient reading is what counts.
    #[test]
    fn the_typed_reading_declines_what_it_would_read_otherwise() {
        let declined = [
            // An array where an object is due.
            r#"[null, []]"#,
            r#"{"value": [{"name": ["IncomingMessages"]}]}"#,
            // A key in another case: the JSON reading matches it.
            r#"{"value": [{"name": {"Value": "IncomingMessages"}}]}"#,
            r#"{"value": [{"timeseries": [{"data": [{"TimeStamp": "t", "total": 1}]}]}]}"#,
            r#"{"Value": []}"#,
            // A duplicated key (the JSON reading keeps the last).
            r#"{"value": [], "value": [{"name": {"value": "IncomingMessages"}}]}"#,
            r#"{"value": [{"timeseries": [{"data": [{"total": 1, "total": 2}]}]}]}"#,
            // Elements that are not objects, and a `value` that is not a list.
            r#"{"value": [{"timeseries": [{"data": [1, {"total": 2}]}]}]}"#,
            r#"{"value": [3]}"#,
            r#"{"value": null}"#,
            r#"{"timespan": "x"}"#,
            // Values of another type than documented, which the JSON reading converts.
            r#"{"value": [{"name": {"value": 7}, "timeseries": [{"data": [{"timeStamp": "t", "total": 1}]}]}]}"#,
            r#"{"value": [{"name": {"value": "IncomingMessages"}, "timeseries": [{"data": [{"timeStamp": "t", "total": "12.5"}]}]}]}"#,
            r#"{"value": [{"name": {"value": "IncomingMessages"}, "timeseries": [{"data": [{"timeStamp": 5, "total": {"a": 1}}]}]}]}"#,
            r#"{"timespan": 5, "value": []}"#,
            r#"{"value": [{"errorCode": true}]}"#,
            // Trailing bytes after the body.
            r#"{"value": []} x"#,
        ];
        for text in declined {
            assert!(
                typed(text.as_bytes()).is_none(),
                "typed reading took {text}"
            );
            assert!(read(text.as_bytes()).is_none(), "read took {text}");
        }
        // What the lenient reading makes of converted values.
        let t = from_json(&tree(declined[12]));
        assert_eq!(t.namespace.incoming_messages, Some(12.5));
        let t = from_json(&tree(declined[11]));
        assert_eq!(t.namespace.incoming_messages, None);
        assert_eq!(t.listed, 1);
        // Unknown keys, nulls and empty strings are taken, and read as the JSON reading reads them.
        let taken = [
            r#"{"value": [], "Cost": 1}"#,
            r#"{"timespan": null, "value": [{"name": null, "timeseries": null, "errorCode": ""}]}"#,
            r#"{"timespan": "", "value": [{"errorCode": "Throttled", "errorMessage": null, "extra": [1, {"Name": 2}]}]}"#,
            r#"{"value": [{"name": {"value": "IncomingMessages", "localizedValue": "x"}, "timeseries": [{"metadatavalues": null, "data": [{"timeStamp": null, "total": null}, {"timeStamp": "t", "count": 3}]}]}]}"#,
            r#"{"value": [{"name": {"value": "OutgoingMessages"}, "timeseries": [{"data": [{"timeStamp": "t\u00e9", "total": 3}], "metadatavalues": [{"name": {"value": "other"}, "value": "a"}, {"name": {"value": "ENTITYNAME"}, "value": "Hub\"1"}]}]}]}"#,
        ];
        for text in taken {
            let t =
                typed(text.as_bytes()).unwrap_or_else(|| panic!("typed reading declined {text}"));
            assert_eq!(t, Response::lenient(&tree(text)), "{text}");
        }
        let t = read(taken[4].as_bytes()).unwrap();
        assert_eq!(t.by_entity["hub\"1"].outgoing_messages, Some(3.0));
        assert_eq!(t.namespace.hourly[0].at, "té");
    }

    /// A known key spelt in another case anywhere in a response makes the typed reading
    /// decline, and the JSON reading, which matches keys in any case, reads the response as
    /// it reads the one spelt as documented.
    #[test]
    fn every_known_key_in_another_case_declines() {
        let body = r#"{"timespan": "a/b", "value": [{"name": {"value": "IncomingMessages"}, "errorCode": "Success", "errorMessage": "", "timeseries": [{"metadatavalues": [{"name": {"value": "EntityName"}, "value": "hub"}], "data": [{"timeStamp": "t", "total": 2}]}]}]}"#;
        let documented = from_json(&tree(body));
        assert_eq!(read(body.as_bytes()), Some(documented.clone()));
        assert_eq!(documented.by_entity["hub"].incoming_messages, Some(2.0));
        let mut keys: Vec<&str> = [RESPONSE, METRIC, SERIES, METADATA, NAMED, POINT].concat();
        keys.sort_unstable();
        keys.dedup();
        let mut variants = 0;
        for key in keys {
            let quoted = format!("\"{key}\":");
            let upper = format!("\"{}\":", key.to_ascii_uppercase());
            for (at, _) in body.match_indices(&quoted) {
                let text = format!("{}{upper}{}", &body[..at], &body[at + quoted.len()..]);
                assert!(
                    typed(text.as_bytes()).is_none(),
                    "typed reading took {text}"
                );
                assert_eq!(from_json(&tree(&text)), documented, "{text}");
                variants += 1;
            }
        }
        assert_eq!(variants, 14, "every key of the body was respelt");
    }

    /// A long string is capped as every body's strings are.
    #[test]
    fn long_strings_are_capped_as_in_a_json_body() {
        let long = "x".repeat(crate::evidence::MAX_STRING_BYTES + 10);
        let text = format!(r#"{{"timespan": "{long}", "value": []}}"#);
        let t = read(text.as_bytes()).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        crate::evidence::cap_strings(&mut v, crate::evidence::MAX_STRING_BYTES);
        assert_eq!(t, from_json(&v));
        assert!(t.namespace.timespan.unwrap().len() <= crate::evidence::MAX_STRING_BYTES);
    }
}
